// Typed lint for the whole project. Workflow files get an extra rule: they run in
// Temporal's deterministic sandbox, so Node built-ins and IO libraries are banned there.
import tseslint from 'typescript-eslint';
import importX from 'eslint-plugin-import-x';

const ioModules = [
  'fs', 'fs/promises', 'path', 'os', 'net', 'http', 'https', 'http2', 'child_process', 'crypto',
  'dns', 'tls', 'worker_threads', 'cluster', 'dgram', 'process', 'timers', 'timers/promises',
];
const bannedInWorkflows = [
  ...ioModules.flatMap((m) => [m, `node:${m}`]),
  '@kubernetes/client-node', 'simple-git', '@grpc/grpc-js', '@temporalio/client', '@temporalio/worker',
  '@temporalio/activity',
];

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'eslint.config.js', 'proto/gen/**'] },
  ...tseslint.configs.strictTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    plugins: { 'import-x': importX },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true, allowBoolean: true }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'import-x/no-cycle': 'error',
      // @kubernetes/client-node declares its API types as classes but serializes plain
      // objects; object literals are the intended way to build them.
      '@typescript-eslint/no-unsafe-class-instance-assignment': 'off',
    },
  },
  {
    files: ['workflows/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        paths: bannedInWorkflows.map((name) => ({
          name,
          message: 'Workflow code must be deterministic: do IO in an activity and import activities by type only.',
        })),
      }],
      'no-restricted-globals': ['error',
        { name: 'Date', message: 'Use workflow time (Date is replaced in the sandbox, but be explicit: pass now in).' },
        { name: 'setTimeout', message: 'Use sleep() from @temporalio/workflow.' },
        { name: 'fetch', message: 'Network IO belongs in an activity.' },
      ],
    },
  },
  {
    files: ['test/**/*.ts', 'bench/**/*.ts'],
    rules: {
      // node:test's describe/it return promises that the runner itself awaits.
      '@typescript-eslint/no-floating-promises': ['error', { allowForKnownSafeCalls: [
        { from: 'package', package: 'node:test', name: ['describe', 'it', 'test', 'before', 'after', 'beforeEach', 'afterEach'] },
      ] }],
    },
  },
);
