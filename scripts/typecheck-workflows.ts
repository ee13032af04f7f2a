// `npm run typecheck`, second half: workflow code typechecked as Temporal's sandbox runs it, without Node
// (tsconfig.workflows.json), so a Node API reached from a workflow fails here, not in a live run.
// Plain `tsc -p tsconfig.workflows.json` cannot do it: the workflows import the activities' *types*
// (proxyActivities needs them), which puts Node-using code in the program, and the libraries it uses carry
// `/// <reference types="node" />`, which gives every file Node's globals again. So this check reads
// @types/node as empty and reports errors only in the files the workflow bundle contains: the workflow
// files and what they import as values, transitively. What is reached only through `import type` is the
// main typecheck's (`tsc --noEmit`, with Node).
// Usage: node --import tsx scripts/typecheck-workflows.ts [tsconfig]   (default: tsconfig.workflows.json)
import path from 'node:path';
import ts from 'typescript';

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

/** True unless every name the declaration brings in is a type (a bundler drops such an import). */
function importsValues(clause: ts.ImportClause | undefined): boolean {
  if (!clause) return true; // import 'x': run for its side effects
  if (clause.phaseModifier === ts.SyntaxKind.TypeKeyword) return false;
  if (clause.name || !clause.namedBindings || ts.isNamespaceImport(clause.namedBindings)) return true;
  const names = clause.namedBindings.elements;
  return names.length === 0 || names.some((n) => !n.isTypeOnly);
}

function exportsValues(node: ts.ExportDeclaration): boolean {
  if (node.isTypeOnly) return false;
  const clause = node.exportClause;
  return !clause || ts.isNamespaceExport(clause) || clause.elements.some((e) => !e.isTypeOnly);
}

/** The modules a file imports as values: static imports, re-exports, `import x = require()`, import(). */
function valueImports(file: ts.SourceFile): string[] {
  const found: string[] = [];
  const add = (specifier: ts.Node | undefined) => {
    if (specifier && ts.isStringLiteralLike(specifier)) found.push(specifier.text);
  };
  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node)) {
      if (importsValues(node.importClause)) add(node.moduleSpecifier);
    } else if (ts.isExportDeclaration(node)) {
      if (exportsValues(node)) add(node.moduleSpecifier);
    } else if (ts.isImportEqualsDeclaration(node)) {
      if (!node.isTypeOnly && ts.isExternalModuleReference(node.moduleReference)) {
        add(node.moduleReference.expression);
      }
    } else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) {
      add(node.arguments[0]);
    }
    ts.forEachChild(node, visit);
  };
  visit(file);
  return found;
}

const relative = (file: string) => path.relative(process.cwd(), file);

/**
 * The project's files the bundle would contain, from the workflow files along value imports, each but the
 * workflow files with the chain of imports that brings it in. Packages (node_modules) are not followed:
 * their code is the bundle check's (npm run check:workflows).
 */
function bundledFiles(program: ts.Program, host: ts.CompilerHost) {
  const options = program.getCompilerOptions();
  const paths = new Map<string, string>();
  const queue = program.getRootFileNames().map((f) => path.resolve(f));
  const seen = new Set<string>(queue);
  const files: ts.SourceFile[] = [];
  while (queue.length) {
    const file = program.getSourceFile(queue.shift()!);
    if (!file) continue;
    files.push(file);
    for (const specifier of valueImports(file)) {
      const resolved = ts.resolveModuleName(specifier, file.fileName, options, host).resolvedModule;
      // An import that does not resolve is reported in the importing file ("Cannot find module").
      if (!resolved || resolved.isExternalLibraryImport) continue;
      const name = resolved.resolvedFileName;
      if (seen.has(name)) continue;
      seen.add(name);
      paths.set(name, `${paths.get(file.fileName) ?? relative(file.fileName)} -> ${relative(name)}`);
      queue.push(name);
    }
  }
  return { files, paths };
}

const config = readConfig(process.argv[2] ?? 'tsconfig.workflows.json');
const host = ts.createCompilerHost(config.options);
const readSourceFile = host.getSourceFile;
host.getSourceFile = (fileName, language, ...rest) =>
  fileName.includes(NODE_TYPES)
    ? ts.createSourceFile(fileName, '', language)
    : readSourceFile(fileName, language, ...rest);

const program = ts.createProgram({ rootNames: config.fileNames, options: config.options, host });
const { files, paths } = bundledFiles(program, host);
const diagnostics = [
  ...program.getOptionsDiagnostics(),
  ...program.getGlobalDiagnostics(),
  ...files.flatMap((f) => [...program.getSyntacticDiagnostics(f), ...program.getSemanticDiagnostics(f)]),
];
if (diagnostics.length) fail(diagnostics, paths);
console.log(`workflow typecheck (no Node): ${files.length} files clean`);
