// Lint rules: the recommended sets, plus the workflow sandbox rule that matters most here:
// workflow code may not import Node built-ins (it must stay deterministic and replayable).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['node_modules/**', 'examples/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      globals: { process: 'readonly', console: 'readonly', URL: 'readonly', setTimeout: 'readonly' },
    },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    files: ['workflows/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: [
                'node:*',
                'fs',
                'path',
                'child_process',
                'os',
                // the folders that use Node (common/ and the pure proposer rules are what workflows may use)
                '../activities/*',
                '../training/*',
                '../store/*',
                '../target/*',
                '../temporal/*',
                '../system/*',
                '../proposers/proposal',
                '../proposers/promptContext',
                '../proposers/editGate',
                '../proposers/claude/*',
                '../proposers/command/*',
                '../proposers/mutate/proposer',
              ],
              message: 'Workflow code must stay deterministic: no Node APIs or activity implementations.',
            },
            {
              // proposers/index.ts: which proposer answers, with every proposer behind it
              regex: '^\\.\\./proposers(/index)?$',
              message: 'Workflow code must stay deterministic: no Node APIs or activity implementations.',
            },
          ],
        },
      ],
    },
  },
);
