// Applying an LLM's structured edits to the editable files: each edit replaces one exact, unique
// occurrence of `old_string` (or a whole file when `old_string` is empty). Any problem is reported in
// words the model can act on in its repair round. Pure: no I/O.

export interface FileEdit {
  file: string;
  old_string: string;
  new_string: string;
}

export class EditError extends Error {}

/** Returns the new contents of every file the edits touch. */
export function applyEdits(
  sources: Record<string, string>,
  editable: readonly string[],
  edits: readonly FileEdit[],
): Record<string, string> {
  if (!Array.isArray(edits) || edits.length === 0) throw new EditError('the proposal contains no edits');
  const result: Record<string, string> = {};
  edits.forEach((edit, i) => {
    const where = `edit ${i + 1} (${edit?.file ?? 'no file'})`;
    if (
      typeof edit?.file !== 'string' ||
      typeof edit.old_string !== 'string' ||
      typeof edit.new_string !== 'string'
    )
      throw new EditError(`${where}: each edit needs string fields file, old_string and new_string`);
    if (!editable.includes(edit.file))
      throw new EditError(`${where}: ${edit.file} is not editable; only ${editable.join(', ')} may change`);
    const current = result[edit.file] ?? sources[edit.file] ?? '';
    if (edit.old_string === '') {
      result[edit.file] = edit.new_string;
      return;
    }
    const at = current.indexOf(edit.old_string);
    if (at < 0)
      throw new EditError(
        `${where}: old_string was not found in ${edit.file}; copy it exactly from the file`,
      );
    if (current.indexOf(edit.old_string, at + 1) >= 0)
      throw new EditError(
        `${where}: old_string occurs more than once in ${edit.file}; include more context to make it unique`,
      );
    result[edit.file] = current.slice(0, at) + edit.new_string + current.slice(at + edit.old_string.length);
  });
  for (const [file, content] of Object.entries(result)) if (content === sources[file]) delete result[file];
  if (Object.keys(result).length === 0) throw new EditError('the edits change nothing');
  return result;
}
