// The bundled CPU example as a target repository of its own, so a demo never runs in the project's
// checkout: copied once into the tool's home, committed, then reused by every later demo.
import { execa } from 'execa';
import { cpSync, existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { GIT_IDENTITY } from '../store/git';

export const EXAMPLES_DIR = fileURLToPath(new URL('../examples', import.meta.url));

/**
 * Creates (or brings up to date) a git repository at `dest` holding the example `name`; returns its path.
 * A newer version of the bundled example becomes a new commit there; earlier runs' branches stay.
 */
export async function materializeExample(name: string, dest: string): Promise<string> {
  const source = path.join(EXAMPLES_DIR, name);
  if (!existsSync(source)) throw new Error(`No bundled example named "${name}" in ${EXAMPLES_DIR}.`);
  const git = (args: string[]) => execa('git', args, { cwd: dest, env: GIT_IDENTITY });
  const fresh = !existsSync(path.join(dest, '.git'));
  mkdirSync(dest, { recursive: true });
  if (fresh) await git(['init', '-q', '-b', 'main']);
  else await git(['checkout', '-q', '--force', 'main']);
  cpSync(source, dest, {
    recursive: true,
    filter: (src) => !/(^|\/)(\.venv|__pycache__)(\/|$)/.test(path.relative(source, src)),
  });
  await git(['add', '-A']);
  if ((await git(['status', '--porcelain'])).stdout.trim())
    await git([
      'commit',
      '-q',
      '-m',
      fresh ? `the ${name} example target` : `update the ${name} example target`,
    ]);
  return dest;
}
