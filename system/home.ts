// One folder for everything the tool installs or keeps on a machine: the Temporal CLI, the uv tool
// environment, the dev server's SQLite file, the demo's target. Override with AUTORESEARCH_HOME.
import { homedir } from 'node:os';
import path from 'node:path';

export function autoresearchHome(): string {
  // Absolute: it becomes go install's GOBIN, which must be.
  return path.resolve(process.env.AUTORESEARCH_HOME || path.join(homedir(), '.autoresearch'));
}

export function homePath(...parts: string[]): string {
  return path.join(autoresearchHome(), ...parts);
}
