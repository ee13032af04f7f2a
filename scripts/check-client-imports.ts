// `npm run typecheck`, last part: starting a run loads the client, never the worker. A client (the CLI's
// run commands, a script, a notebook) that imported worker.ts or an activity would load the worker SDK,
// its native core and every activity with their dependencies, just to send a workflow start. This follows
// the value imports (scripts/importGraph.ts) of client.ts and of the CLI (cli/main.ts, every command), as
// loaded at start: the two commands that run a worker (`worker`, `demo`) load it with import() when they
// run. It fails naming the chain to anything of the worker's.
// Usage: node --import tsx scripts/check-client-imports.ts [entry.ts ...]   (default: those above)
import path from 'node:path';
import ts from 'typescript';
import { relative, valueImportClosure } from './importGraph';

/** Project files and packages that belong to the worker side. */
const WORKER_FILES = [/^worker\.ts$/, /^activities\//];
const WORKER_PACKAGES = ['@temporalio/worker', '@temporalio/activity', '@anthropic-ai/sdk'];

const entries = process.argv.slice(2);
const roots = (entries.length ? entries : ['client.ts', 'cli/main.ts']).map((f) => path.resolve(f));
const parsed = ts.getParsedCommandLineOfConfigFile('tsconfig.json', undefined, {
  ...ts.sys,
  onUnRecoverableConfigFileDiagnostic: (d) => {
    throw new Error(ts.flattenDiagnosticMessageText(d.messageText, '\n'));
  },
});
if (!parsed) throw new Error('cannot read tsconfig.json');
const host = ts.createCompilerHost(parsed.options);
const program = ts.createProgram({ rootNames: roots, options: parsed.options, host });
const { files, paths, packages } = valueImportClosure(program, host, roots, { dynamic: false });

const found = [
  ...[...paths]
    .filter(([file]) => WORKER_FILES.some((p) => p.test(relative(file))))
    .map(([, chain]) => chain),
  ...WORKER_PACKAGES.flatMap((name) => (packages.has(name) ? [packages.get(name)!] : [])),
];
if (found.length) {
  for (const chain of found) console.error(`the client loads the worker's code: ${chain}`);
  console.error(
    `client imports: ${found.length} of the worker's modules reached. Names both sides share belong in ` +
      'common/ (workflow type, queues, refs, error types), settings in a module of their own; import ' +
      'activity types with `import type`.',
  );
  process.exit(1);
}
console.log(`client imports: ${roots.length} entries, ${files.length} files, none of the worker's`);
