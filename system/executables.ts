// Finding programs the way a shell does, without running a shell.
import { accessSync, constants } from 'node:fs';
import path from 'node:path';

export function isExecutable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

export function findOnPath(name: string): string | null {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter))
    if (dir && isExecutable(path.join(dir, name))) return path.join(dir, name);
  return null;
}
