// Lint rules: the recommended sets; type-aware rules for promises and type imports everywhere; and the
// workflow sandbox's rules for workflows/**: workflow code runs in Temporal's sandbox, deterministic and
// replayable, where Node is absent (scripts/typecheck-workflows.ts checks the same from the types' side,
// for everything workflow code imports too).
import js from '@eslint/js';
import { builtinModules } from 'node:module';
import tseslint from 'typescript-eslint';

const bare = (name) => name.replace(/^node:/, '');
/** Every Node built-in, as `x` and as `node:x` (some exist only with the prefix, e.g. node:test). */
const NODE_BUILTINS = [...new Set(builtinModules.map(bare))].flatMap((m) => [m, `node:${m}`]);

const notInSandbox = (name, instead) => ({
  name,
  message: `Workflow code runs in Temporal's sandbox: ${name} is ${instead}.`,
});

/** Globals workflow code must not use: Node's, and what the sandbox lacks or makes non-deterministic. */
const WORKFLOW_RESTRICTED_GLOBALS = [
  notInSandbox(
    'process',
    "Node's: read settings in the client or an activity and pass them in the run's options",
  ),
  notInSandbox('Buffer', "Node's: use Uint8Array, TextEncoder and TextDecoder"),
  notInSandbox('require', "Node's: import modules instead"),
  notInSandbox('module', "Node's"),
  notInSandbox('__dirname', "Node's: workflow code reads no files"),
  notInSandbox('__filename', "Node's: workflow code reads no files"),
  notInSandbox('global', "Node's: use globalThis"),
  notInSandbox('setInterval', 'absent: loop over sleep() from @temporalio/workflow'),
  notInSandbox('clearInterval', 'absent: cancel a CancellationScope'),
  notInSandbox('setImmediate', 'absent: use sleep() or condition() from @temporalio/workflow'),
  notInSandbox('clearImmediate', 'absent'),
  notInSandbox('queueMicrotask', 'not for workflow code: await a promise'),
  notInSandbox('structuredClone', 'absent: copy plain data with JSON'),
  notInSandbox('fetch', 'I/O: do it in an activity'),
  notInSandbox('performance', 'a wall clock: use Date.now(), which the sandbox makes deterministic'),
  notInSandbox('WeakRef', 'non-deterministic (garbage collection); the sandbox throws'),
  notInSandbox('FinalizationRegistry', 'non-deterministic (garbage collection); the sandbox throws'),
];

export default tseslint.config(
  { ignores: ['node_modules/**', 'examples/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      globals: { process: 'readonly', console: 'readonly', URL: 'readonly', setTimeout: 'readonly' },
      // Type information for the type-aware rules, from the tsconfig.json that includes each file.
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      // A promise nobody awaits loses its error (an unhandled rejection) and its ordering. node:test's
      // describe/it return promises the runner itself awaits.
      '@typescript-eslint/no-floating-promises': [
        'error',
        {
          allowForKnownSafeCalls: [
            { from: 'package', package: 'node:test', name: ['describe', 'it', 'test', 'suite'] },
          ],
        },
      ],
      // A promise where a value or a void callback is expected (an if, an event handler) is the same loss.
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/await-thenable': 'error',
      // Type-only imports marked as such: what a bundler drops is visible (scripts/typecheck-workflows.ts
      // follows only value imports), and a workflow may import an activity's type, never its code.
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
    },
  },
  {
    // Plain JavaScript is in no tsconfig (allowJs is off): no type information to lint with.
    files: ['**/*.js'],
    ...tseslint.configs.disableTypeChecked,
  },
  {
    files: ['workflows/**/*.ts'],
    rules: {
      'no-restricted-globals': ['error', ...WORKFLOW_RESTRICTED_GLOBALS],
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          paths: [
            ...NODE_BUILTINS.map((name) => ({
              name,
              message: `Workflow code runs in Temporal's sandbox, without Node: no ${name}.`,
            })),
            ...['@temporalio/activity', '@temporalio/client', '@temporalio/worker'].map((name) => ({
              name,
              message: `${name} runs outside workflows (it needs Node): workflow code uses @temporalio/workflow.`,
            })),
          ],
          patterns: [
            {
              regex: '(^|/)activities(/|$)',
              allowTypeImports: true,
              message:
                'Workflow code calls activities through proxyActivities: import their types (import type), never their code.',
            },
          ],
        },
      ],
    },
  },
);
