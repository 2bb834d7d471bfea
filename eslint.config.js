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
const folders = ['core', 'proto', 'workflows', 'activities', 'agents', 'hub', 'cli', 'deploy', 'test', 'bench'];
const allBut = (...allowed) => folders.filter((f) => !allowed.includes(f));
const mustNotImport = {
  // Pure logic, shared by every process: imports nothing outside core/.
  core: allBut('core'),
  // The agent/hub protocol finds its own files.
  proto: allBut('proto'),
  // An agent knows the protocol and the pure core, never the hub's side.
  agents: allBut('agents', 'core', 'proto'),
  // Workflows run in Temporal's sandbox: core/ only, plus activities/ by type only (the
  // @typescript-eslint/no-restricted-imports rule in the workflows block below).
  workflows: allBut('workflows', 'core', 'activities'),
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
  proto: 'proto/ imports nothing outside proto/.',
  agents: 'agents/ import core/ and proto/ only.',
  workflows: 'workflows/ import core/ only (and activities/ by type).',
  activities: 'activities/ (the engines) sit below the hub: no hub/, workflows/, deploy/ or other actors.',
  hub: 'the hub imports no workflows/ outside its worker wiring, no agents/ (only proto/), no cli/ or deploy/.',
  cli: 'the CLI imports neither workflows/ nor the hub\'s internals, nor deploy/.',
  deploy: 'dev tooling imports neither workflows/ (outside the worker wiring) nor the hub\'s internals.',
};
// The worker's wiring may import workflows/, for good: it is what registers them. (The hub's
// worker in hub/assemble.ts names workflows/index.js by path and needs no import.)
const workerWiring = { 'deploy/dev/env.ts': ['workflows'] };
// The remaining work of #28: imports that break a rule above today, by file (file:line → what).
// Each file is exempt from exactly the folders listed, nothing more; delete an entry when the
// file stops importing that folder (test/unit/import-rules.test.ts fails on a stale entry).
const remainingWork = {
  // core/dependencies.ts:14 type DependencyStatus ← workflows/messages.ts
  'core/dependencies.ts': ['workflows'],
  // activities/agent-delivery.ts:4 type ← workflows/messages.ts
  'activities/agent-delivery.ts': ['workflows'],
  // activities/hub-types.ts:8 types ← workflows/messages.ts (the activities ↔ workflows type loop)
  'activities/hub-types.ts': ['workflows'],
  // activities/rollout-activities.ts:9 type ← workflows/messages.ts
  'activities/rollout-activities.ts': ['workflows'],
  // hub/activities/helm-activities.ts:21 ← workflows/messages.ts (value)
  'hub/activities/helm-activities.ts': ['workflows'],
  // hub/activities/hub-activities.ts:24 ← workflows/messages.ts (value)
  'hub/activities/hub-activities.ts': ['workflows'],
  // hub/dashboard/pages.ts:6, hub/dashboard/routes.ts:10 types ← workflows/messages.ts
  'hub/dashboard/pages.ts': ['workflows'],
  'hub/dashboard/routes.ts': ['workflows'],
  // hub/declarations.ts:16-24 ← every workflow function and workflows/messages.ts; :36 type ← workflows/rollout.ts
  'hub/declarations.ts': ['workflows'],
  // hub/events.ts:11-12 ← workflows/messages.ts, workflows/notifications.ts
  'hub/events.ts': ['workflows'],
  // hub/fleet-view.ts:8 type ← workflows/messages.ts
  'hub/fleet-view.ts': ['workflows'],
  // hub/fleet.ts:9-10 ← workflows/cluster.ts, workflows/messages.ts
  'hub/fleet.ts': ['workflows'],
  // hub/gateway.ts:11 type ← workflows/messages.ts
  'hub/gateway.ts': ['workflows'],
  // hub/history.ts:12 ← workflows/messages.ts
  'hub/history.ts': ['workflows'],
  // hub/notification-metrics.ts:12 ← workflows/activity-profiles.ts
  'hub/notification-metrics.ts': ['workflows'],
  // cli/cluster.ts:24-27 ← hub/blob-store, cluster-api (type), http-api (type), registration
  'cli/cluster.ts': ['hub'],
  // cli/fleet.ts:9-11 ← hub/artifact-store, declarations, fleet-view; :12 type ← workflows/messages.ts
  'cli/fleet.ts': ['hub', 'workflows'],
  // cli/gitops.ts:14-18 ← hub/blob-store, config, data-objects, s3-store, declarations; :19 type ← workflows/messages.ts
  'cli/gitops.ts': ['hub', 'workflows'],
  // cli/inspect.ts:7-8 ← hub/declarations, history
  'cli/inspect.ts': ['hub'],
  // cli/notifications.ts:6-8 ← hub/blob-store, data-objects, receivers; :9 type ← workflows/messages.ts
  'cli/notifications.ts': ['hub', 'workflows'],
  // cli/rollout.ts:7 ← hub/declarations.ts; :8 type ← workflows/messages.ts
  'cli/rollout.ts': ['hub', 'workflows'],
  // deploy/dev/demo.ts:14 type ← workflows/messages.ts
  'deploy/dev/demo.ts': ['workflows'],
  // deploy/dev/local-fleet.ts:11 ← hub/declarations.ts; :12 ← workflows/messages.ts
  'deploy/dev/local-fleet.ts': ['hub', 'workflows'],
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
