// `npm run typecheck`, second half: workflow code typechecked as Temporal's sandbox runs it, without Node
// (tsconfig.workflows.json), so a Node API reached from a workflow fails here, not in a live run.
// Plain `tsc -p tsconfig.workflows.json` cannot do it: the workflows import the activities' *types*
// (proxyActivities needs them), which puts Node-using code in the program, and the libraries it uses carry
// `/// <reference types="node" />`, which gives every file Node's globals again. So this check reads
// @types/node as empty and reports errors only in the files the workflow bundle contains: the workflow
// files and what they import as values, transitively. What is reached only through `import type` is the
// main typecheck's (`tsc --noEmit`, with Node).
// Usage: node --import tsx scripts/typecheck-workflows.ts [tsconfig]   (default: tsconfig.workflows.json)
import ts from 'typescript';
import { relative, valueImportClosure } from './importGraph';

const NODE_TYPES = '/node_modules/@types/node/';

function fail(diagnostics: readonly ts.Diagnostic[], paths = new Map<string, string>()): never {
  const host: ts.FormatDiagnosticsHost = {
    getCanonicalFileName: (f) => f,
    getCurrentDirectory: () => process.cwd(),
    getNewLine: () => '\n',
  };
  const format = process.stdout.isTTY ? ts.formatDiagnosticsWithColorAndContext : ts.formatDiagnostics;
  console.error(format(diagnostics, host));
  const reached = new Set(
    diagnostics.flatMap((d) => (d.file && paths.has(d.file.fileName) ? [d.file.fileName] : [])),
  );
  for (const file of reached)
    console.error(`${relative(file)} is in the workflow bundle: ${paths.get(file)}`);
  console.error(
    `workflow typecheck (no Node): ${diagnostics.length} error(s). Workflow code runs in Temporal's sandbox, ` +
      'where Node is absent: use @temporalio/workflow, or do the work in an activity.',
  );
  process.exit(1);
}

function readConfig(file: string): ts.ParsedCommandLine {
  const parsed = ts.getParsedCommandLineOfConfigFile(file, undefined, {
    ...ts.sys,
    onUnRecoverableConfigFileDiagnostic: (d) => fail([d]),
  });
  if (!parsed) throw new Error(`cannot read ${file}`);
  if (parsed.errors.length) fail(parsed.errors);
  return parsed;
}

const config = readConfig(process.argv[2] ?? 'tsconfig.workflows.json');
const host = ts.createCompilerHost(config.options);
const readSourceFile = host.getSourceFile;
host.getSourceFile = (fileName, language, ...rest) =>
  fileName.includes(NODE_TYPES)
    ? ts.createSourceFile(fileName, '', language)
    : readSourceFile(fileName, language, ...rest);

const program = ts.createProgram({ rootNames: config.fileNames, options: config.options, host });
const { files, paths } = valueImportClosure(program, host, program.getRootFileNames());
const diagnostics = [
  ...program.getOptionsDiagnostics(),
  ...program.getGlobalDiagnostics(),
  ...files.flatMap((f) => [...program.getSyntacticDiagnostics(f), ...program.getSemanticDiagnostics(f)]),
];
if (diagnostics.length) fail(diagnostics, paths);
console.log(`workflow typecheck (no Node): ${files.length} files clean`);
