// Whether an edit's Python still parses, asked of `python3` on the control worker's PATH (the edit gate,
// editGate.ts). Every proposal asks, some twice (the proposer's own check for its repair round, then the
// step's gate), so what python3 names is found once per PATH and run directly: a version manager's shim
// (pyenv's runs some thirty shell processes before Python starts) is not started for every edit. And a
// content that parsed once is not parsed again.
import { createHash } from 'node:crypto';
import path from 'node:path';
import { ownEnvironment, runSmall, type SmallResult } from '../system/smallSpawner';

const PYTHON = 'python3';
const PARSE_ERROR_EXIT = 3;
const PARSE_CHECK = [
  'import ast, sys',
  'try:',
  '    ast.parse(sys.stdin.read(), filename=sys.argv[1])',
  'except (SyntaxError, ValueError) as e:',
  '    print(f"{type(e).__name__}: {e}", file=sys.stderr)',
  `    sys.exit(${PARSE_ERROR_EXIT})`,
].join('\n');

/** What asking gave: it parses, it does not (Python's own words), or python3 could not run (why). */
export type ParseAnswer = { parses: true } | { syntaxError: string } | { cannotRun: string };

/** The interpreter `python3` starts, by PATH. */
const interpreters = new Map<string, string>();
/** Contents (by interpreter, name and hash) that parsed; cleared when full, it only saves a start-up. */
const parsed = new Set<string>();
const PARSED_MAX = 1024;

export async function pythonParses(name: string, content: string): Promise<ParseAnswer> {
  const searchPath = process.env.PATH ?? '';
  const known = interpreters.get(searchPath);
  const interpreter = known ?? (await resolveInterpreter(searchPath));
  if (typeof interpreter !== 'string') return interpreter;
  const key = `${interpreter}\0${name}\0${createHash('sha256').update(content).digest('hex')}`;
  if (parsed.has(key)) return { parses: true };
  const result = await python(interpreter, ['-c', PARSE_CHECK, name], content);
  if (result.exitCode === PARSE_ERROR_EXIT)
    return { syntaxError: result.stderr.trim().split('\n').slice(-1)[0] || 'syntax error' };
  if (result.exitCode !== 0) {
    // The interpreter found earlier is gone (a virtual environment removed, a version uninstalled):
    // python3 is asked again, and says for itself what is wrong.
    if (known !== undefined) {
      interpreters.delete(searchPath);
      return pythonParses(name, content);
    }
    return { cannotRun: whyFailed(result) };
  }
  if (parsed.size >= PARSED_MAX) parsed.clear();
  parsed.add(key);
  return { parses: true };
}

/** The absolute path of the interpreter python3 runs (sys.executable), remembered for this PATH. */
async function resolveInterpreter(searchPath: string): Promise<string | { cannotRun: string }> {
  const result = await python(PYTHON, ['-c', 'import sys; print(sys.executable)']);
  if (result.exitCode !== 0) return { cannotRun: whyFailed(result) };
  const executable = result.stdout.trim();
  // An embedded interpreter may not know its own path: python3 is then run by name each time.
  if (!path.isAbsolute(executable)) return PYTHON;
  interpreters.set(searchPath, executable);
  return executable;
}

/** Runs Python with this process's environment and directory, through the small helper. */
function python(interpreter: string, args: string[], input?: string): Promise<SmallResult> {
  return runSmall(interpreter, args, {
    cwd: process.cwd(),
    env: ownEnvironment(),
    ...(input !== undefined ? { input } : {}),
    maxBuffer: 16 * 1024 * 1024,
  });
}

/** The spawn error as Node said it (ENOENT, EACCES), or the exit and the last line it printed. */
function whyFailed(result: SmallResult): string {
  const stderr = result.stderr.trim();
  if (result.error) return result.error.message;
  if (result.exitCode === null) return `killed by ${result.signal}`;
  return `exit ${result.exitCode}${stderr ? `: ${stderr.split('\n').slice(-1)[0]}` : ''}`;
}
