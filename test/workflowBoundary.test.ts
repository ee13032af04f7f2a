// The boundary around workflow code holds: a Node API written in a workflow file fails the workflow
// typecheck (scripts/typecheck-workflows.ts) and the lint (eslint.config.js), each naming what is wrong,
// and so does one in a module a workflow imports. The probes are written into workflows/ (both checks know
// workflow code by that folder) and removed afterwards.
import { ESLint } from 'eslint';
import tseslint from 'typescript-eslint';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const WORKFLOWS = path.join(ROOT, 'workflows');
const id = `${process.pid}${Date.now()}`;

const GLOBALS = path.join(WORKFLOWS, `probeGlobals${id}.ts`);
const NODE_IMPORT = path.join(WORKFLOWS, `probeNodeImport${id}.ts`);
const INDIRECT = path.join(WORKFLOWS, `probeIndirect${id}.ts`);
// Outside workflows/, where lint does not look: only the typecheck follows the import to it.
const helperDir = mkdtempSync(path.join(tmpdir(), 'ar-probe-'));
const HELPER = path.join(helperDir, 'usesNode.ts');

const SOURCES: Record<string, string> = {
  [GLOBALS]: 'export const home = Buffer.from(process.env.HOME!);\n',
  [NODE_IMPORT]: "import fs from 'node:fs';\nexport const read = fs.readFileSync;\n",
  [INDIRECT]: `import { home } from '${path.relative(WORKFLOWS, HELPER).replace(/\.ts$/, '')}';\nexport const h = home;\n`,
  [HELPER]: 'export const home = () => process.env.HOME;\n',
};

/** Runs `check` with the given probe files written, and removes them whatever happens. */
async function withProbes<T>(files: string[], check: () => Promise<T>): Promise<T> {
  try {
    for (const file of files) writeFileSync(file, SOURCES[file]!);
    return await check();
  } finally {
    for (const file of files) rmSync(file, { force: true });
  }
}

const rel = (file: string) => path.relative(ROOT, file);

describe('workflow code cannot reach Node', () => {
  after(() => rmSync(helperDir, { recursive: true, force: true }));

  it('fails the workflow typecheck, naming each Node API and where it is', async () => {
    const output = await withProbes([GLOBALS, NODE_IMPORT, INDIRECT, HELPER], async () => {
      const run = promisify(execFile)(
        process.execPath,
        ['--import', 'tsx', 'scripts/typecheck-workflows.ts'],
        {
          cwd: ROOT,
        },
      );
      const failed = await run.then(
        () => assert.fail('the workflow typecheck passed with Node APIs in workflow code'),
        (error: { code: number; stdout: string; stderr: string }) => error,
      );
      assert.equal(failed.code, 1);
      return failed.stdout + failed.stderr;
    });
    const error = (file: string, what: string) =>
      new RegExp(
        `${rel(file).replaceAll('.', '\\.')}\\(\\d+,\\d+\\): error TS\\d+: Cannot find name '${what}'`,
      );
    assert.match(output, error(GLOBALS, 'Buffer'));
    assert.match(output, error(GLOBALS, 'process'));
    assert.match(output, error(NODE_IMPORT, 'node:fs'));
    assert.match(output, error(HELPER, 'process'));
    assert.ok(output.includes(`is in the workflow bundle: ${rel(INDIRECT)} -> ${rel(HELPER)}`), output);
  });

  it('fails the lint, naming each Node API', async () => {
    const results = await withProbes([GLOBALS, NODE_IMPORT], () =>
      // The project's config, less the type-aware rules: the sandbox rules need no types, and building
      // the whole project's types would take most of this test's time.
      new ESLint({ cwd: ROOT, overrideConfig: tseslint.configs.disableTypeChecked }).lintFiles([
        GLOBALS,
        NODE_IMPORT,
      ]),
    );
    const found = (file: string) =>
      results.find((r) => r.filePath === file)!.messages.map((m) => `${m.ruleId}: ${m.message}`);
    const globals = found(GLOBALS);
    assert.ok(
      globals.some((m) => m.startsWith("no-restricted-globals: Unexpected use of 'Buffer'")),
      globals.join('\n'),
    );
    assert.ok(
      globals.some((m) => m.startsWith("no-restricted-globals: Unexpected use of 'process'")),
      globals.join('\n'),
    );
    const imports = found(NODE_IMPORT);
    assert.ok(
      imports.some((m) =>
        m.startsWith("@typescript-eslint/no-restricted-imports: 'node:fs' import is restricted"),
      ),
      imports.join('\n'),
    );
  });
});
