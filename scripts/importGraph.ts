// Following a program's imports the way it is loaded: only imports that bring values (a bundler and
// Node drop `import type`), transitively, with the chain that reaches each file. The workflow typecheck
// uses it to find what the workflow bundle contains; the client check, what starting a run loads.
import path from 'node:path';
import ts from 'typescript';

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

/**
 * The modules a file imports as values: static imports, re-exports, `import x = require()`, and, unless
 * `dynamic` is false, import() (a bundler includes those; Node loads them only when the call runs).
 */
function valueImports(file: ts.SourceFile, dynamic: boolean): string[] {
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
    } else if (dynamic && ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) {
      add(node.arguments[0]);
    }
    ts.forEachChild(node, visit);
  };
  visit(file);
  return found;
}

export const relative = (file: string) => path.relative(process.cwd(), file);

/** The package an import names: `@scope/name` or `name`, without a path inside it. */
function packageName(specifier: string): string {
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]!;
}

/**
 * The project's files reached from `roots` along value imports (what a bundler, or Node at run time, loads),
 * each but the roots with the chain of imports that brings it in, and the packages those files import, each
 * with the chain to its first importer. Packages are not followed into: a package's own imports are its own.
 * `dynamic: false` leaves out what is loaded by import() (what a process loads at start, not on demand).
 */
export function valueImportClosure(
  program: ts.Program,
  host: ts.CompilerHost,
  roots: readonly string[],
  { dynamic = true }: { dynamic?: boolean } = {},
) {
  const options = program.getCompilerOptions();
  const paths = new Map<string, string>();
  const packages = new Map<string, string>();
  const queue = roots.map((f) => path.resolve(f));
  const seen = new Set<string>(queue);
  const files: ts.SourceFile[] = [];
  while (queue.length) {
    const file = program.getSourceFile(queue.shift()!);
    if (!file) continue;
    files.push(file);
    const chain = paths.get(file.fileName) ?? relative(file.fileName);
    for (const specifier of valueImports(file, dynamic)) {
      const resolved = ts.resolveModuleName(specifier, file.fileName, options, host).resolvedModule;
      if (!resolved || resolved.isExternalLibraryImport) {
        // A relative import that does not resolve is reported in the importing file ("Cannot find module").
        const name = packageName(specifier);
        if (!specifier.startsWith('.') && !packages.has(name)) packages.set(name, `${chain} -> ${name}`);
        continue;
      }
      const name = resolved.resolvedFileName;
      if (seen.has(name)) continue;
      seen.add(name);
      paths.set(name, `${chain} -> ${relative(name)}`);
      queue.push(name);
    }
  }
  return { files, paths, packages };
}
