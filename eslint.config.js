import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'data/', 'coverage/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      globals: { process: 'readonly', console: 'readonly', URL: 'readonly', setTimeout: 'readonly', clearTimeout: 'readonly', setInterval: 'readonly', clearInterval: 'readonly', Buffer: 'readonly' },
    },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    // Workflow code must stay deterministic: no Node built-ins, no I/O modules.
    files: ['workflows/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': ['error', {
        patterns: [
          { group: ['node:*', 'fs', 'path', 'child_process', 'http', 'https', 'crypto', 'os'], message: 'Workflow code is deterministic: do I/O in activities.' },
          { group: ['@temporalio/activity', '@temporalio/client', '@temporalio/worker', 'execa', 'pg', 'pino', '@slack/*'], message: 'Workflow code may import only @temporalio/workflow and pure code.' },
          { group: ['../activities/*'], message: 'Workflows use activities through proxyActivities; import their types only.', allowTypeImports: true },
        ],
      }],
    },
  },
);
