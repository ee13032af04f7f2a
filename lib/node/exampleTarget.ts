// The bundled CPU example as a target repository of its own, so a demo never runs in the project's
// checkout: copied once into the tool's home, committed, then reused by every later demo.
import { execa } from 'execa';
import { cpSync, existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { GIT_IDENTITY } from './git';

export const EXAMPLES_DIR = fileURLToPath(new URL('../../examples', import.meta.url));

/** Creates (or reuses) a git repository at `dest` holding the example `name`; returns its path. */
export async function materializeExample(name: string, dest: string): Promise<string> {
  const source = path.join(EXAMPLES_DIR, name);
  if (!existsSync(source)) throw new Error(`No bundled example named "${name}" in ${EXAMPLES_DIR}.`);
  if (existsSync(path.join(dest, '.git'))) return dest;
  mkdirSync(dest, { recursive: true });
  cpSync(source, dest, {
    recursive: true,
    filter: (src) => !/(^|\/)(\.venv|__pycache__)(\/|$)/.test(path.relative(source, src)),
  });
  const git = (args: string[]) =>
    execa('git', args, {
      cwd: dest,
      env: GIT_IDENTITY,
    });
  await git(['init', '-q', '-b', 'main']);
  await git(['add', '-A']);
  await git(['commit', '-q', '-m', `the ${name} example target`]);
  return dest;
}
