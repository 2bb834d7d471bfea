// Typed lint for the whole project. Workflow files get an extra rule: they run in
// Temporal's deterministic sandbox, so Node built-ins and IO libraries are banned there.
// Import directions between the top-level folders are enforced too (see below and
// docs/architecture.md, "Import directions"); test/unit/import-rules.test.ts shows they fire.
import tseslint from 'typescript-eslint';
import importX, { createNodeResolver } from 'eslint-plugin-import-x';

const ioModules = [
  'fs', 'fs/promises', 'path', 'os', 'net', 'http', 'https', 'http2', 'child_process', 'crypto',
  'dns', 'tls', 'worker_threads', 'cluster', 'dgram', 'process', 'timers', 'timers/promises',
];
const bannedInWorkflows = [
  ...ioModules.flatMap((m) => [m, `node:${m}`]),
  '@kubernetes/client-node', 'simple-git', '@grpc/grpc-js', '@temporalio/client', '@temporalio/worker',
  '@temporalio/activity',
];

// ---- Import directions (issue #28) ----------------------------------------------------------
// Which top-level folders a folder must not import (static, dynamic and type imports alike;
// import-x/no-restricted-paths 4.18 has no option to allow type-only imports). test/ and bench/
// may import anything. Each rule below is one the issue asks for, or follows from the map in
// docs/architecture.md, and held on the day it was added except where `remainingWork` says.
const folders = ['core', 'api', 'proto', 'workflows', 'activities', 'agents', 'hub', 'cli', 'deploy', 'test', 'bench'];
const allBut = (...allowed) => folders.filter((f) => !allowed.includes(f));
const mustNotImport = {
  // Pure logic, shared by every process: imports nothing outside core/.
  core: allBut('core'),
  // The actors' contracts (ids, workflow types, messages, activity interfaces): core/ only, so
  // that workflows, activities, the hub, the CLI and dev tooling can all share them.
  api: allBut('api', 'core'),
  // The agent/hub protocol finds its own files.
  proto: allBut('proto'),
  // An agent knows the protocol and the pure core, never the hub's side.
  agents: allBut('agents', 'core', 'proto'),
  // Workflows run in Temporal's sandbox: core/ and api/ only, plus activities/ by type only
  // (the @typescript-eslint/no-restricted-imports rule in the workflows block below).
  workflows: allBut('workflows', 'core', 'api', 'activities'),
  // The IO engines: below the hub, not part of it; only the worker's wiring imports workflows/.
  activities: ['workflows', 'hub', 'agents', 'cli', 'proto', 'deploy', 'test', 'bench'],
  // The hub knows agents only through proto/; deploy/dev is for dev tooling, tests and benches.
  // hub/activities/ (the activity factories around the live hub) is hub: hub/, activities/, core/.
  hub: ['workflows', 'agents', 'cli', 'deploy', 'test', 'bench'],
  // The CLI talks to the hub's API and the actors' contracts, not the hub's internals.
  cli: ['workflows', 'hub', 'deploy', 'test', 'bench'],
  // Dev tooling: no hub internals, no workflows/ outside the worker's wiring.
  deploy: ['workflows', 'hub', 'test', 'bench'],
};
const reasons = {
  core: 'core/ imports nothing outside core/.',
  api: 'api/ (the actors\' contracts) imports core/ only.',
  proto: 'proto/ imports nothing outside proto/.',
  agents: 'agents/ import core/ and proto/ only.',
  workflows: 'workflows/ import core/ and api/ only (and activities/ by type).',
  activities: 'activities/ (the engines) sit below the hub: no hub/, workflows/, deploy/ or other actors.',
  hub: 'the hub imports no workflows/ outside its worker wiring, no agents/ (only proto/), no cli/ or deploy/.',
  cli: 'the CLI imports neither workflows/ nor the hub\'s internals, nor deploy/.',
  deploy: 'dev tooling imports neither workflows/ (outside the worker wiring) nor the hub\'s internals.',
};
// The worker's wiring may import workflows/, for good: it is what registers them. (The hub's
// worker in hub/assemble.ts names workflows/index.js by path and needs no import.)
const workerWiring = { 'deploy/dev/env.ts': ['workflows'] };
// Imports that break a rule above today, by file (file → what). All that is left is the CLI (and
// the dev fleet's declaration client) reaching into the hub to talk to Temporal and the hub's
// store directly: issue #25 ("One front door") moves every CLI command onto the hub's HTTP API,
// which removes these. Each file is exempt from exactly the folders listed, nothing more; delete an entry when the
// file stops importing that folder (test/unit/import-rules.test.ts fails on a stale entry).
const remainingWork = {
  // cli/cluster.ts ← hub/blob-store, cluster-api (type), http-api (type), registration
  'cli/cluster.ts': ['hub'],
  // cli/fleet.ts ← hub/artifact-store, declarations, fleet-view
  'cli/fleet.ts': ['hub'],
  // cli/gitops.ts ← hub/blob-store, config, data-objects, s3-store, declarations
  'cli/gitops.ts': ['hub'],
  // cli/inspect.ts:7-8 ← hub/declarations, history
  'cli/inspect.ts': ['hub'],
  // cli/notifications.ts:7-9 ← hub/blob-store, data-objects, receivers
  'cli/notifications.ts': ['hub'],
  // cli/rollout.ts:8 ← hub/declarations.ts
  'cli/rollout.ts': ['hub'],
  // deploy/dev/local-fleet.ts:12 ← hub/declarations.ts
  'deploy/dev/local-fleet.ts': ['hub'],
};
const zones = (exempt = []) => Object.entries(mustNotImport).flatMap(([folder, banned]) => banned
  .filter((from) => !exempt.includes(from))
  .map((from) => ({ target: `./${folder}`, from: `./${from}`, message: `${reasons[folder]} (#28; docs/architecture.md, "Import directions")` })));
const importDirections = (exempt) => ['error', { basePath: import.meta.dirname, zones: zones(exempt) }];
const exemptions = [...Object.entries(workerWiring), ...Object.entries(remainingWork)].map(([file, exempt]) => ({
  name: `flotilla/import-directions/exempt:${file}`,
  files: [file],
  rules: { 'import-x/no-restricted-paths': importDirections(exempt) },
}));

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'eslint.config.js', 'proto/gen/**'] },
  ...tseslint.configs.strictTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    plugins: { 'import-x': importX },
    settings: {
      // Sources import './x.js' for './x.ts' (NodeNext); without this alias import-x resolves
      // nothing and no-restricted-paths passes silently. (no-cycle still sees no .ts module:
      // it also needs 'import-x/extensions' and a parser for them; not enabled yet.)
      'import-x/resolver-next': [createNodeResolver({ extensionAlias: { '.js': ['.ts', '.js'] } })],
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true, allowBoolean: true }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'import-x/no-cycle': 'error',
      'import-x/no-restricted-paths': importDirections([]),
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
      // Activities run outside the sandbox: a workflow names them by type only, and
      // `import type` (not `import { type X }`, which still loads the module) keeps them out
      // of the workflow bundle.
      '@typescript-eslint/no-restricted-imports': ['error', { patterns: [{
        regex: '^(\\.\\./)+activities/',
        allowTypeImports: true,
        message: 'Workflows import activities/ by type only (import type { … }); the worker registers the implementations.',
      }] }],
      '@typescript-eslint/no-import-type-side-effects': 'error',
      'no-restricted-globals': ['error',
        { name: 'Date', message: 'Use workflow time (Date is replaced in the sandbox, but be explicit: pass now in).' },
        { name: 'setTimeout', message: 'Use sleep() from @temporalio/workflow.' },
        { name: 'fetch', message: 'Network IO belongs in an activity.' },
      ],
    },
  },
  ...exemptions,
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
