// A run's git leftovers made fast, for tests and measurements of many experiments: commits as loose
// objects and candidate refs, each kind in one git process.
import { execa } from 'execa';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { candidateRef } from '../../common/names';
import type { Repo } from '../../store/git';

/**
 * `count` commits (numbered from `first`), each an edit of train.py on the last (the first on `parent`), as loose objects (what a run's candidates leave):
 * three git processes in all, where one `writeTree` and `commitTree` per commit would take a minute.
 */
export async function commits(
  repo: Repo,
  count: number,
  on: { parent?: string; first?: number } = {},
): Promise<string[]> {
  const first = on.first ?? 0;
  const scratch = mkdtempSync(path.join(tmpdir(), 'ar-flat-objects-'));
  const write = async (type: 'blob' | 'commit', contents: string[]) => {
    const files = contents.map((content, i) => {
      const file = path.join(scratch, `${type}-${i}`);
      writeFileSync(file, content);
      return file;
    });
    const out = await execa('git', ['hash-object', '-w', '-t', type, '--stdin-paths'], {
      cwd: repo.root,
      input: files.join('\n') + '\n',
    });
    return out.stdout.split('\n');
  };
  const blobs = await write(
    'blob',
    Array.from({ length: count }, (_, i) => `LR = ${first + i}\nprint('val_loss: 1.0')\n`),
  );
  const mktree = await execa('git', ['mktree', '--batch'], {
    cwd: repo.root,
    input: blobs.map((blob) => `100644 blob ${blob}\ttrain.py\n`).join('\n'),
  });
  const trees = mktree.stdout.split('\n');
  // Each commit names its parent's SHA: computed here (git's own object hash), then written in one go.
  let parent = on.parent ?? (await repo.resolve('HEAD'))!;
  const bodies = trees.map((tree, i) => {
    const who = 'autoresearch <autoresearch@localhost> 0 +0000';
    const body = `tree ${tree}\nparent ${parent}\nauthor ${who}\ncommitter ${who}\n\nexperiment ${first + i}\n`;
    parent = createHash('sha1')
      .update(`commit ${Buffer.byteLength(body)}\0${body}`)
      .digest('hex');
    return body;
  });
  const made = await write('commit', bodies);
  rmSync(scratch, { recursive: true, force: true });
  return made;
}

/** `count` candidate refs, created in one `update-ref --stdin` (seconds, where one call per ref is minutes). */
export async function candidateRefs(
  repo: Repo,
  tag: string,
  shas: string[],
  count: number,
  first = 0,
): Promise<void> {
  const lines = Array.from(
    { length: count },
    (_, n) => `create ${candidateRef(tag, first + n)} ${shas[n % shas.length]}\n`,
  );
  await execa('git', ['update-ref', '--stdin'], { cwd: repo.root, input: lines.join('') });
}
