// The import directions of issue #28 (docs/architecture.md, "Import directions") are lint
// rules in eslint.config.js. This runs ESLint with that config on small texts linted as if
// they were files in the restricted folders, and checks that a forbidden import fails and an
// allowed one passes. Parsing is untyped and only the import rules run, so it stays fast;
// imports are resolved against the real tree, so the fixtures name files that exist.
// Last, the list of known violations (the remaining work of #28) must not go stale.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ESLint } from 'eslint';

const root = resolve(fileURLToPath(new URL('.', import.meta.url)), '../../..');
const importRules = new Set([
  'import-x/no-restricted-paths', '@typescript-eslint/no-restricted-imports',
  '@typescript-eslint/no-import-type-side-effects', 'no-restricted-imports',
]);
const eslint = new ESLint({
  cwd: root,
  // The repo's eslint.config.js, minus the type information the import rules do not need.
  overrideConfig: { languageOptions: { parserOptions: { projectService: false } } },
  ruleFilter: ({ ruleId }) => importRules.has(ruleId),
});

/** The rule ids that fire on `code` linted as if it were the file at `filePath`. */
async function fired(filePath: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath: join(root, filePath) });
  assert.ok(result, 'ESLint returned no result');
  const fatal = result.messages.filter((m) => m.fatal === true);
  assert.deepEqual(fatal, [], `${filePath} did not parse`);
  return result.messages.map((m) => m.ruleId ?? '(none)');
}

const restricted = 'import-x/no-restricted-paths';
const forbidden: readonly [string, string][] = [
  // [a file in the restricted folder, an import it must not have]
  ['core/x.ts', "import { loadHubConfig } from '../hub/config.js';"],
  ['core/x.ts', "import type { DependencyStatus } from '../api/actor.js';"],
  ['core/declarations/x.ts', "import { repoRoot } from '../../deploy/dev/binaries.js';"],
  ['core/x.ts', "const m = await import('../activities/tarball.js');"],
  ['agents/x.ts', "import { loadHubConfig } from '../hub/config.js';"],
  ['agents/apply/x.ts', "import * as a from '../../activities/tarball.js';"],
  ['agents/x.ts', "export type { DeclarationActor } from '../workflows/actor.js';"],
  ['agents/x.ts', "import { clusterWorkflowId } from '../api/cluster.js';"],
  ['proto/x.ts', "import { repoRoot } from '../deploy/dev/binaries.js';"],
  ['workflows/x.ts', "import { loadHubConfig } from '../hub/config.js';"],
  ['workflows/x.ts', "import { repoRoot } from '../deploy/dev/binaries.js';"],
  ['activities/x.ts', "import type { DeclarationActor } from '../workflows/actor.js';"],
  ['activities/x.ts', "import { loadHubConfig } from '../hub/config.js';"],
  ['activities/x.ts', "import { createHubActivities } from '../hub/activities/hub-activities.js';"],
  ['activities/x.ts', "import { bin } from '../deploy/dev/binaries.js';"],
  ['hub/activities/x.ts', "import { bin } from '../../deploy/dev/binaries.js';"],
  ['hub/x.ts', "import { clusterWorkflow } from '../workflows/cluster.js';"],
  ['hub/x.ts', "import { repoRoot } from '../deploy/dev/binaries.js';"],
  ['hub/dashboard/x.ts', "import * as agent from '../../agents/agent.js';"],
  ['cli/x.ts', "import { loadHubConfig } from '../hub/config.js';"],
  ['cli/x.ts', "import type { DeclarationActor } from '../workflows/actor.js';"],
  ['deploy/dev/x.ts', "import { loadHubConfig } from '../../hub/config.js';"],
  ['hub/x.ts', "import { replay } from '../test/harness/replay.js';"],
  ['api/x.ts', "import { loadHubConfig } from '../hub/config.js';"],
  ['api/x.ts', "import type { DeclarationActor } from '../workflows/actor.js';"],
];
const allowed: readonly [string, string][] = [
  ['core/x.ts', "import { parseDuration } from './declarations/duration.js';"],
  ['agents/x.ts', "import { kstatus } from '../core/kstatus.js'; import { loadProto } from '../proto/load.js';"],
  ['workflows/x.ts', "import type { TenancyActivities } from '../activities/tenancy.js';"],
  ['workflows/x.ts', "import { specSignal, type ActorMemory } from '../api/actor.js';"],
  ['api/x.ts', "import { defineSignal } from '@temporalio/workflow'; import { declarationId } from '../core/declarations/types.js';"],
  ['activities/x.ts', "import { digest } from '../core/digest.js';"],
  ['hub/x.ts', "import { KUSTOMIZATION_WORKFLOW_TYPE, type KustomizationWorkflow } from '../api/kustomization.js';"],
  ['activities/x.ts', "import type { HelmReleaseActivities } from '../api/helm-release.js';"],
  ['cli/x.ts', "import type { RolloutStatus } from '../api/rollout.js';"],
  ['deploy/dev/x.ts', "import { clusterStatusQuery } from '../../api/cluster.js';"],
  ['hub/x.ts', "import { buildKustomization } from '../activities/kustomize-build.js';"],
  // The hub's activity factories are hub: they close over its stores and call the engines.
  ['hub/activities/x.ts', "import { TemporalFleet } from '../fleet.js'; import { buildKustomization } from '../../activities/kustomize-build.js';"],
  ['cli/x.ts', "import { packTarball } from '../activities/tarball.js';"],
  ['deploy/dev/env2.ts', "import * as activities from '../../activities/index.js';"],
  ['test/unit/x.ts', "import { loadHubConfig } from '../../hub/config.js'; import { clusterWorkflow } from '../../workflows/cluster.js';"],
  ['bench/x.ts', "import { clusterWorkflow } from '../workflows/cluster.js';"],
];

describe('import directions (#28) are enforced by lint', () => {
  for (const [file, code] of forbidden) {
    it(`${file}: ${code} fails`, async () => {
      assert.ok((await fired(file, code)).includes(restricted), `${restricted} did not fire`);
    });
  }
  for (const [file, code] of allowed) {
    it(`${file}: ${code} passes`, async () => {
      assert.deepEqual(await fired(file, code), []);
    });
  }

  it('workflows import activities by type only, with `import type`', async () => {
    const rule = '@typescript-eslint/no-restricted-imports';
    assert.deepEqual(await fired('workflows/x.ts', "import { buildKustomization } from '../activities/kustomize-build.js';"), [rule]);
    assert.deepEqual(await fired('workflows/x.ts', "import type * as probes from '../activities/kubernetes-probe.js';"), []);
    // `import { type X }` still loads the module under verbatimModuleSyntax.
    assert.deepEqual(await fired('workflows/x.ts', "import { type TenancyActivities } from '../activities/tenancy.js';"),
      ['@typescript-eslint/no-import-type-side-effects']);
  });

  it('the worker wiring may import workflows/; its neighbours may not', async () => {
    assert.deepEqual(await fired('deploy/dev/env.ts', "import { environmentCheckWorkflow } from '../../workflows/index.js';"), []);
    assert.ok((await fired('deploy/dev/x.ts', "import { environmentCheckWorkflow } from '../../workflows/index.js';")).includes(restricted));
  });

  it('a known violation is exempt from its own folder only, not from the other rules', async () => {
    // cli/inspect.ts still imports hub/ (remaining work of #28)…
    assert.deepEqual(await fired('cli/inspect.ts', "import { NotFoundError } from '../hub/declarations.js';"), []);
    // …but not workflows/, and its neighbours not even hub/.
    assert.ok((await fired('cli/inspect.ts', "import type { DeclarationActor } from '../workflows/actor.js';")).includes(restricted));
    assert.ok((await fired('cli/inspect2.ts', "import { NotFoundError } from '../hub/declarations.js';")).includes(restricted));
  });
});

// ---- the list of known violations in eslint.config.js stays true --------------------------
const folders = ['core', 'api', 'proto', 'workflows', 'activities', 'agents', 'hub', 'cli', 'deploy'];
const topFolder = (path: string): string => path.split('/')[0] ?? '';

function sourceFiles(dir: string): string[] {
  return readdirSync(join(root, dir), { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return path === 'proto/gen' ? [] : sourceFiles(path);
    return e.name.endsWith('.ts') && !e.name.endsWith('.d.ts') ? [path] : [];
  });
}

/** The folders a file's no-restricted-paths zones forbid it, from the repo's config. */
async function forbiddenFolders(file: string): Promise<Set<string>> {
  const config: unknown = await eslint.calculateConfigForFile(join(root, file));
  const rules: unknown = typeof config === 'object' && config !== null && 'rules' in config ? config.rules : undefined;
  const entry: unknown = typeof rules === 'object' && rules !== null ? new Map(Object.entries(rules)).get(restricted) : undefined;
  const options: unknown = Array.isArray(entry) ? entry[1] : undefined;
  const zones: unknown = typeof options === 'object' && options !== null && 'zones' in options ? options.zones : undefined;
  assert.ok(Array.isArray(zones), `no ${restricted} zones for ${file}`);
  return new Set(zones.map((z: unknown) => {
    assert.ok(typeof z === 'object' && z !== null && 'from' in z && typeof z.from === 'string');
    return z.from.replace(/^\.\//, '');
  }));
}

/** The top-level folders a file's relative imports (static, dynamic, re-exports) point into. */
function importedFolders(file: string): Set<string> {
  const text = readFileSync(join(root, file), 'utf8');
  const specifiers = [...text.matchAll(/(?:\bfrom\s*|\bimport\s*\(?\s*)'(\.[^']*)'/g)].map((m) => m[1] ?? '');
  return new Set(specifiers.map((s) => topFolder(relative(root, resolve(join(root, dirname(file)), s)))));
}

describe('the known violations listed in eslint.config.js are still violations', () => {
  it('each exemption is used by its file (delete the entry once the import is gone)', async () => {
    const stale: string[] = [];
    let exemptions = 0;
    for (const folder of folders) {
      const full = await forbiddenFolders(`${folder}/__none__.ts`);
      for (const file of sourceFiles(folder)) {
        const mine = await forbiddenFolders(file);
        const imports = importedFolders(file);
        for (const exempt of [...full].filter((f) => !mine.has(f))) {
          exemptions++;
          if (!imports.has(exempt)) stale.push(`${file} no longer imports ${exempt}/`);
        }
      }
    }
    assert.deepEqual(stale, []);
    assert.ok(exemptions > 0, 'found no exemptions at all: does the check read the config?');
  });
});
