// Every proposed edit passes the same gate before it becomes a candidate: it names files inside the
// repository, touches only editable files (no new ones), none of them a symbolic link, leaves none of
// them empty, and still parses. Protects invariant 3 of docs/ARCHITECTURE.md (frozen files never change)
// and keeps every candidate a plain edit of the target's own files. Each refusal says what is wrong and
// what to do, since proposers read it back in their repair round.
import type { TargetConfig } from '../common/types';
import { targetError } from '../common/errors';
import { triedRefPrefixes } from '../common/names';
import type { Repo } from '../store/git';
import type { ProposeInput } from './proposal';
import { pythonParses } from './pythonParse';

export class InvalidEdit extends Error {}

/** The trees this run has tried (every candidate's, the parent's): an edit making one again is no new idea. */
export async function triedTrees(
  repo: Repo,
  input: Pick<ProposeInput, 'tag' | 'parent'>,
): Promise<Set<string>> {
  const tried = await repo.treesUnder(triedRefPrefixes(input.tag));
  tried.add(await repo.treeOf(input.parent));
  return tried;
}

/** Why new file contents cannot be a candidate (the edit gate, or "already tried"), or null. */
export async function candidateProblem(
  repo: Repo,
  input: Pick<ProposeInput, 'config' | 'tag' | 'parent'>,
  files: Record<string, string>,
): Promise<string | null> {
  const checked = await checkedTree(repo, input, files);
  return 'problem' in checked ? checked.problem : null;
}

/** The tree new file contents make on the parent, once they passed the gate and were found new; else why not. */
export async function checkedTree(
  repo: Repo,
  input: Pick<ProposeInput, 'config' | 'tag' | 'parent'>,
  files: Record<string, string>,
): Promise<{ tree: string } | { problem: string }> {
  try {
    await validateEdit(input.config, files, { repo, parent: input.parent });
  } catch (err) {
    if (err instanceof InvalidEdit) return { problem: err.message };
    throw err;
  }
  const tried = await triedTrees(repo, input);
  const tree = await repo.writeTree(input.parent, files);
  return tried.has(tree)
    ? { problem: 'this exact edit was already tried in this run; propose a different idea' }
    : { tree };
}

/** The commit an edit applies to: with it, the gate also refuses new files and symbolic links. */
export interface EditBase {
  repo: Repo;
  parent: string;
}

export async function validateEdit(
  config: TargetConfig,
  files: Record<string, string>,
  base?: EditBase,
): Promise<void> {
  const names = Object.keys(files);
  const editable = config.files.editable.join(', ');
  if (names.length === 0)
    throw new InvalidEdit(`the edit changes no file: change at least one editable file (${editable})`);
  for (const name of names) {
    const outside = outsideRepo(name);
    if (outside)
      throw new InvalidEdit(
        `the edit names ${JSON.stringify(name)}, ${outside}: name files relative to the repository root, e.g. ${config.files.editable[0]}`,
      );
    const link = base ? await symlinkOnPath(base.repo, base.parent, name) : null;
    if (link)
      throw new InvalidEdit(
        `the edit writes ${name}${link.path === name ? '' : ` through ${link.path}`}, a symbolic link in the parent ` +
          `commit (to ${link.target}): autoresearch commits file contents and never writes through links; edit ` +
          'regular files only (make the editable file a regular file in the target and commit it)',
      );
    if (!config.files.editable.includes(name)) {
      if (base && (await base.repo.blobSha(base.parent, name)) === null)
        throw new InvalidEdit(
          `the edit creates ${name}, a new file, but only the editable files may change (editable: ${editable}); put the code in one of them`,
        );
      throw new InvalidEdit(`the edit touches ${name}, which is not editable (editable: ${editable})`);
    }
    const content = files[name]!;
    if (!content.trim())
      throw new InvalidEdit(`the edit leaves ${name} empty: give the whole file's new contents`);
    if (name.endsWith('.py')) await checkPythonParses(name, content);
  }
}

/** Why a path is not a plain path inside the repository, or null when it is. */
export function outsideRepo(name: string): string | null {
  if (!name) return 'an empty path';
  if (name.startsWith('/') || /^[A-Za-z]:[\\/]/.test(name)) return 'an absolute path';
  const segments = name.split(/[\\/]/);
  if (segments.includes('..')) return 'a path with ".." that leaves the repository';
  if (segments.some((s) => s === '' || s === '.')) return 'not a plain path (it has empty or "." parts)';
  if (segments[0] === '.git') return "a path inside git's own directory";
  return null;
}

/** The first of `name` and its parent directories that is a symbolic link (mode 120000) in `commit`. */
export async function symlinkOnPath(
  repo: Repo,
  commit: string,
  name: string,
): Promise<{ path: string; target: string } | null> {
  const parts = name.split('/');
  const prefixes = parts.map((_, i) => parts.slice(0, i + 1).join('/'));
  const out = await repo.raw(['--literal-pathspecs', 'ls-tree', '-z', commit, '--', ...prefixes]);
  const links = new Map<string, string>();
  for (const entry of out.split('\0')) {
    const m = /^120000 blob ([0-9a-f]+)\t(.*)$/s.exec(entry);
    if (m) links.set(m[2]!, m[1]!);
  }
  const path = prefixes.find((p) => links.has(p));
  if (!path) return null;
  return { path, target: (await repo.raw(['cat-file', 'blob', links.get(path)!])).trim() };
}

/**
 * Checks, before a proposer is asked (and paid), that the gate can check its edit: the interpreter that
 * parses Python runs here. Throws the same TargetError as the gate would. Asked again, it answers from
 * what pythonParse.ts remembers (the interpreter per PATH, the contents that parsed), running nothing.
 */
export async function checkGateRuns(config: TargetConfig): Promise<void> {
  const python = config.files.editable.find((f) => f.endsWith('.py'));
  if (python) await checkPythonParses(python, 'pass\n');
}

/**
 * The gate parses Python with `python3` on this worker's PATH (pythonParse.ts). Its one failure that is the
 * edit's fault is a parse error; an interpreter that cannot run is the worker's problem, a TargetError that
 * names it and keeps the original error, never a "syntax error" charged to the proposal.
 */
async function checkPythonParses(name: string, content: string): Promise<void> {
  const answer = await pythonParses(name, content);
  if ('syntaxError' in answer)
    throw new InvalidEdit(`${name} does not parse: ${answer.syntaxError}; fix the syntax`);
  if ('cannotRun' in answer)
    throw targetError(
      `could not run python3 to check that ${name} parses (${answer.cannotRun}). The control worker checks every edit ` +
        "of a Python file with python3: install Python 3 there, or put the directory that holds python3 on the worker's " +
        'PATH, and restart the worker.',
    );
}
