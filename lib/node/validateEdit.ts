// Every proposed edit passes the same gate before it becomes a candidate: it touches only editable
// files, leaves none of them empty, and still parses. Protects invariant 3 (frozen files never change).
import { execa } from 'execa';
import type { TargetConfig } from '../types';

export class InvalidEdit extends Error {}

export async function validateEdit(config: TargetConfig, files: Record<string, string>): Promise<void> {
  const names = Object.keys(files);
  if (names.length === 0) throw new InvalidEdit('the edit changes no file');
  for (const name of names) {
    if (!config.files.editable.includes(name))
      throw new InvalidEdit(
        `the edit touches ${name}, which is not editable (editable: ${config.files.editable.join(', ')})`,
      );
    const content = files[name]!;
    if (!content.trim()) throw new InvalidEdit(`the edit leaves ${name} empty`);
    if (name.endsWith('.py')) await checkPythonParses(name, content);
  }
}

async function checkPythonParses(name: string, content: string): Promise<void> {
  const check = 'import ast, sys\nast.parse(sys.stdin.read(), filename=sys.argv[1])';
  const result = await execa('python3', ['-c', check, name], { input: content, reject: false });
  if (result.exitCode !== 0) {
    const lastLine = result.stderr.trim().split('\n').slice(-1)[0] ?? 'syntax error';
    throw new InvalidEdit(`${name} does not parse: ${lastLine}`);
  }
}
