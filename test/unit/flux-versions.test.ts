// Every Flux apiVersion Flotilla reads, converted the way Flux's API evolution does
// (core/declarations/versions.ts). (1) The corpus test/fixtures/flux-versions/<Kind>/<version>.yaml
// declares the same objects in every version of a kind: each older file must give the newest
// file's declarations, with one deprecation warning per object. (2) One row per conversion rule,
// each citing the Flux file it follows; every rule of versions.ts must have a row and every row a
// rule, so a converter removed (or added without a test) fails here.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../../deploy/dev/binaries.js';
import { formatDeclarationError, parseDeclarations, valueAt } from '../../core/declarations/parse.js';
import type { Declaration, KustomizationDeclaration } from '../../core/declarations/types.js';
import { deprecationMessage, removedTemplateFieldProblem, VERSION_RULES, versionRule } from '../../core/declarations/versions.js';
import { isRecord } from '../../core/manifests.js';

const CORPUS = join(repoRoot, 'test', 'fixtures', 'flux-versions');

/** "Kind/version.yaml" → its apiVersion, from the rules (the newest is every rule's `newest`). */
function apiVersionOf(kind: string, version: string): string | undefined {
  const rules = VERSION_RULES.filter((r) => r.kind === kind);
  return [...rules.map((r) => r.apiVersion), ...rules.map((r) => r.newest)].find((v) => v.endsWith(`/${version}`));
}

const withoutWarnings = (d: Declaration): Omit<Declaration, 'warnings'> => {
  const { warnings: _, ...rest } = d;
  return rest;
};

describe('flux-versions corpus: each older version gives the newest version\'s declarations', () => {
  const kinds = readdirSync(CORPUS).sort();

  it('has a directory for every kind with older versions, and a file for every version', () => {
    assert.deepEqual(kinds, [...new Set(VERSION_RULES.map((r) => r.kind))].sort());
    for (const kind of kinds) {
      const files = readdirSync(join(CORPUS, kind)).sort();
      const rules = VERSION_RULES.filter((r) => r.kind === kind);
      const newest = rules[0]?.newest ?? '';
      const want = [newest, ...rules.map((r) => r.apiVersion)].map((v) => `${v.slice(v.indexOf('/') + 1)}.yaml`).sort();
      assert.deepEqual(files, want, kind);
    }
  });

  for (const kind of kinds) {
    const files = readdirSync(join(CORPUS, kind)).sort();
    const parsed = new Map(files.map((file) => {
      const path = `test/fixtures/flux-versions/${kind}/${file}`;
      return [file, { path, result: parseDeclarations(readFileSync(join(repoRoot, path), 'utf8'), path) }] as const;
    }));
    const newestVersion = VERSION_RULES.find((r) => r.kind === kind)?.newest ?? '';
    const newestFile = `${newestVersion.slice(newestVersion.indexOf('/') + 1)}.yaml`;

    for (const file of files) {
      const apiVersion = apiVersionOf(kind, file.replace(/\.yaml$/, '')) ?? '';
      const { path, result } = parsed.get(file) ?? assert.fail(file);
      it(`${kind}: ${apiVersion} parses without errors${file === newestFile ? ' or warnings about its version' : ', to the newest version\'s declarations'}`, () => {
        assert.deepEqual(result.errors.map(formatDeclarationError), []);
        assert.ok(result.declarations.length > 0, `${path} declares nothing`);
        for (const d of result.declarations) {
          assert.equal(d.kind, kind);
          assert.equal(d.apiVersion, newestVersion, 'a declaration carries the newest apiVersion');
        }
        const versionWarnings = result.warnings.filter((w) => w.field === 'apiVersion');
        if (file === newestFile) {
          assert.deepEqual(versionWarnings, []);
          return;
        }
        // Exactly one per object, naming the version to move to.
        assert.deepEqual(versionWarnings.map((w) => [w.object, w.message]),
          result.declarations.map((d) => [`${d.kind}/${d.namespace}/${d.name}`, deprecationMessage(apiVersion, newestVersion)]));
        const newest = parsed.get(newestFile)?.result ?? assert.fail(newestFile);
        assert.deepEqual(result.declarations.map(withoutWarnings), newest.declarations.map(withoutWarnings));
      });
    }
  }
});

// ---------------------------------------------------------------------------------------
// One row per rule

type Raw = Record<string, unknown>;

/** A valid spec of each kind, for the rows to add their field to. */
const BASE: Readonly<Record<string, Raw>> = {
  GitRepository: { url: 'https://github.com/stefanprodan/podinfo', interval: '1m' },
  HelmRepository: { url: 'https://stefanprodan.github.io/podinfo', interval: '10m' },
  Kustomization: { interval: '5m', prune: true, sourceRef: { kind: 'GitRepository', name: 'podinfo' } },
  HelmRelease: { interval: '5m', chart: { spec: { chart: 'podinfo', sourceRef: { kind: 'HelmRepository', name: 'podinfo' } } } },
  ImageRepository: { image: 'ghcr.io/stefanprodan/podinfo', interval: '5m' },
  ImagePolicy: { imageRepositoryRef: { name: 'podinfo' }, policy: { semver: { range: '5.0.x' } } },
  ImageUpdateAutomation: { interval: '30m', sourceRef: { kind: 'GitRepository', name: 'flux-system' }, git: { commit: { author: { email: 'fluxcdbot@users.noreply.github.com' } } } },
  Provider: { type: 'slack', channel: 'general', secretRef: { name: 'slack-webhook' } },
  Alert: { providerRef: { name: 'slack' }, eventSources: [{ kind: 'Kustomization', name: '*' }] },
  Receiver: { type: 'github', secretRef: { name: 'receiver-token' }, resources: [{ kind: 'GitRepository', name: 'flux-system' }] },
};

function object(kind: string, apiVersion: string, spec: Raw): Raw {
  return { apiVersion, kind, metadata: { name: 'x', namespace: 'flux-system' }, spec: { ...structuredClone(BASE[kind]), ...spec } };
}

interface Row {
  /** The versions.ts rule: kind, the old version of its step, the field. */
  readonly kind: string;
  readonly apiVersion: string;
  readonly field: string;
  /** The version the object is written in, when older than the rule's (the chain passes through). */
  readonly written?: string;
  readonly spec: Raw;
  readonly expect:
    | { readonly converted: readonly (string | number)[]; readonly value: unknown; readonly gone: readonly (string | number)[]; readonly warned: string; readonly warning: string | RegExp }
    | { readonly dropped: string; readonly warning: string | RegExp }
    | { readonly refused: string; readonly message: RegExp };
}

const SOURCE = 'source.toolkit.fluxcd.io';
const KUSTOMIZE = 'kustomize.toolkit.fluxcd.io';
const HELM = 'helm.toolkit.fluxcd.io';
const IMAGE = 'image.toolkit.fluxcd.io';
const NOTIFICATION = 'notification.toolkit.fluxcd.io';

const SMP = { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'podinfo' }, spec: { replicas: 2 } };
const SMP_TEXT = '{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"podinfo"},"spec":{"replicas":2}}';
const JSON6902 = { target: { version: 'v1', kind: 'Deployment', name: 'podinfo' }, patch: [{ path: '/metadata/annotations/key', value: 'value', op: 'add' }] };
const JSON6902_PATCH = { patch: '[{"op":"add","path":"/metadata/annotations/key","value":"value"}]', target: { version: 'v1', kind: 'Deployment', name: 'podinfo' } };
const MINE = { patch: 'apiVersion: v1\nkind: Pod\nmetadata: {name: not-used}\n', target: { labelSelector: 'app=podinfo' } };
const UPDATED_TEMPLATE = '{{ range .Updated.Images }}- {{.}}\n{{ end }}';

const ROWS: readonly Row[] = [
  // fluxcd/source-controller api/v1beta2/gitrepository_types.go (v1.7.0) GitImplementation "Deprecated";
  // CHANGELOG.md 1.0.0-rc.1 "the deprecated field .spec.gitImplementation was removed".
  { kind: 'GitRepository', apiVersion: `${SOURCE}/v1beta2`, field: 'spec.gitImplementation', spec: { gitImplementation: 'libgit2' },
    expect: { dropped: 'spec.gitImplementation', warning: `has no effect (removed in ${SOURCE}/v1)` } },
  { kind: 'GitRepository', apiVersion: `${SOURCE}/v1beta2`, field: 'spec.gitImplementation', written: `${SOURCE}/v1beta1`, spec: { gitImplementation: 'go-git' },
    expect: { dropped: 'spec.gitImplementation', warning: `has no effect (removed in ${SOURCE}/v1)` } },
  // fluxcd/source-controller api/v1beta2/gitrepository_types.go (v1.7.0) AccessFrom "NOTE: Not implemented".
  { kind: 'GitRepository', apiVersion: `${SOURCE}/v1beta2`, field: 'spec.accessFrom', spec: { accessFrom: { namespaceSelectors: [{ matchLabels: { a: 'b' } }] } },
    expect: { dropped: 'spec.accessFrom', warning: /never implemented by Flux; removed in source\.toolkit\.fluxcd\.io\/v1/ } },

  // fluxcd/kustomize-controller api/v1beta2/kustomization_types.go (v1.7.0) PatchesStrategicMerge "Deprecated:
  // Use Patches instead"; kustomize applies them before patches (kubernetes-sigs/kustomize
  // api/internal/target/kusttarget.go), so they go first.
  { kind: 'Kustomization', apiVersion: `${KUSTOMIZE}/v1beta2`, field: 'spec.patchesStrategicMerge', spec: { patches: [MINE], patchesStrategicMerge: [SMP] },
    expect: { converted: ['spec', 'patches'], value: [{ patch: SMP_TEXT }, MINE], gone: ['spec', 'patchesStrategicMerge'], warned: 'spec.patchesStrategicMerge', warning: /^converted to spec\.patches \(removed in kustomize\.toolkit\.fluxcd\.io\/v1/ } },
  { kind: 'Kustomization', apiVersion: `${KUSTOMIZE}/v1beta2`, field: 'spec.patchesStrategicMerge', written: `${KUSTOMIZE}/v1beta1`, spec: { patchesStrategicMerge: [SMP] },
    expect: { converted: ['spec', 'patches'], value: [{ patch: SMP_TEXT }], gone: ['spec', 'patchesStrategicMerge'], warned: 'spec.patchesStrategicMerge', warning: /^converted to spec\.patches/ } },
  { kind: 'Kustomization', apiVersion: `${KUSTOMIZE}/v1beta2`, field: 'spec.patchesStrategicMerge', spec: { patchesStrategicMerge: ['replicas: 2'] },
    expect: { refused: 'spec.patchesStrategicMerge[0]', message: /^expected a mapping \(a strategic merge patch/ } },
  // fluxcd/kustomize-controller api/v1beta2/kustomization_types.go (v1.7.0) PatchesJSON6902; fluxcd/pkg
  // apis/kustomize JSON6902Patch {target, patch: [{op, path, from, value}]}, written as JSON (kustomize_generator.go).
  { kind: 'Kustomization', apiVersion: `${KUSTOMIZE}/v1beta2`, field: 'spec.patchesJson6902', spec: { patches: [MINE], patchesJson6902: [JSON6902] },
    expect: { converted: ['spec', 'patches'], value: [MINE, JSON6902_PATCH], gone: ['spec', 'patchesJson6902'], warned: 'spec.patchesJson6902', warning: /^converted to spec\.patches/ } },
  { kind: 'Kustomization', apiVersion: `${KUSTOMIZE}/v1beta2`, field: 'spec.patchesJson6902', spec: { patchesJson6902: [{ patch: JSON6902.patch }] },
    expect: { refused: 'spec.patchesJson6902[0].target', message: /^required: the objects to patch/ } },
  { kind: 'Kustomization', apiVersion: `${KUSTOMIZE}/v1beta2`, field: 'spec.patchesJson6902', spec: { patchesJson6902: [{ ...JSON6902, patch: [{ op: 'merge', path: '/a' }] }] },
    expect: { refused: 'spec.patchesJson6902[0].patch[0].op', message: /^must be one of test, remove, add, replace, move, copy$/ } },
  // fluxcd/kustomize-controller api/v1beta2/kustomization_types.go (v1.7.0) Validation "Deprecated: Not used in v1beta2".
  { kind: 'Kustomization', apiVersion: `${KUSTOMIZE}/v1beta2`, field: 'spec.validation', written: `${KUSTOMIZE}/v1beta1`, spec: { validation: 'client' },
    expect: { dropped: 'spec.validation', warning: `has no effect (removed in ${KUSTOMIZE}/v1)` } },

  // fluxcd/helm-controller api/v2beta2/helmrelease_types.go (v1.4.0) ValuesFile "merged before the ValuesFiles
  // items"; fluxcd/source-controller api/v1beta2/helmchart_types.go (v1.7.0) GetValuesFiles prepends it.
  { kind: 'HelmRelease', apiVersion: `${HELM}/v2beta2`, field: 'spec.chart.spec.valuesFile',
    spec: { chart: { spec: { chart: 'podinfo', sourceRef: { kind: 'HelmRepository', name: 'podinfo' }, valuesFile: 'prod.yaml', valuesFiles: ['ha.yaml'] } } },
    expect: { converted: ['spec', 'chart', 'spec', 'valuesFiles'], value: ['prod.yaml', 'ha.yaml'], gone: ['spec', 'chart', 'spec', 'valuesFile'], warned: 'spec.chart.spec.valuesFile', warning: /^converted to spec\.chart\.spec\.valuesFiles/ } },
  { kind: 'HelmRelease', apiVersion: `${HELM}/v2beta2`, field: 'spec.chart.spec.valuesFile', written: `${HELM}/v2beta1`,
    spec: { chart: { spec: { chart: 'podinfo', sourceRef: { kind: 'HelmRepository', name: 'podinfo' }, valuesFile: 'prod.yaml' } } },
    expect: { converted: ['spec', 'chart', 'spec', 'valuesFiles'], value: ['prod.yaml'], gone: ['spec', 'chart', 'spec', 'valuesFile'], warned: 'spec.chart.spec.valuesFile', warning: /^converted to spec\.chart\.spec\.valuesFiles/ } },
  // fluxcd/helm-controller api/v2beta2/helmrelease_types.go (v1.4.0) Kustomize.PatchesStrategicMerge "Deprecated:
  // use Patches instead"; internal/postrender/kustomize.go (v0.37.0) hands them to kustomize, which applies them first.
  { kind: 'HelmRelease', apiVersion: `${HELM}/v2beta2`, field: 'spec.postRenderers[*].kustomize.patchesStrategicMerge',
    spec: { postRenderers: [{ kustomize: { patches: [MINE], patchesStrategicMerge: [SMP] } }] },
    expect: { converted: ['spec', 'postRenderers', 0, 'kustomize', 'patches'], value: [{ patch: SMP_TEXT }, MINE], gone: ['spec', 'postRenderers', 0, 'kustomize', 'patchesStrategicMerge'], warned: 'spec.postRenderers[0].kustomize.patchesStrategicMerge', warning: /^converted to spec\.postRenderers\[0\]\.kustomize\.patches/ } },
  // fluxcd/helm-controller api/v2beta2/helmrelease_types.go (v1.4.0) Kustomize.PatchesJSON6902.
  { kind: 'HelmRelease', apiVersion: `${HELM}/v2beta2`, field: 'spec.postRenderers[*].kustomize.patchesJson6902', written: `${HELM}/v2beta1`,
    spec: { postRenderers: [{ kustomize: { images: [{ name: 'podinfo', newTag: '6.5.0' }] } }, { kustomize: { patchesJson6902: [JSON6902] } }] },
    expect: { converted: ['spec', 'postRenderers', 1, 'kustomize', 'patches'], value: [JSON6902_PATCH], gone: ['spec', 'postRenderers', 1, 'kustomize', 'patchesJson6902'], warned: 'spec.postRenderers[1].kustomize.patchesJson6902', warning: /^converted to spec\.postRenderers\[1\]\.kustomize\.patches/ } },

  // fluxcd/image-automation-controller internal/source/source.go (v1.0.0) RemovedTemplateFieldError: .Updated and
  // .Changed.ImageResult are gone from the template data, for objects of every version.
  { kind: 'ImageUpdateAutomation', apiVersion: `${IMAGE}/v1beta2`, field: 'spec.git.commit.messageTemplate', written: `${IMAGE}/v1beta1`,
    spec: { git: { commit: { author: { email: 'a@example.com' }, messageTemplate: UPDATED_TEMPLATE } } },
    expect: { refused: 'spec.git.commit.messageTemplate', message: /^template uses removed '\.Updated' field .* \.Updated\.Images → \.Changed\.Changes/ } },
  { kind: 'ImageUpdateAutomation', apiVersion: `${IMAGE}/v1beta2`, field: 'spec.git.commit.messageTemplate',
    spec: { git: { commit: { author: { email: 'a@example.com' }, messageTemplate: '{{ range $f, $_ := .Changed.ImageResult.Files }}{{ $f }}{{ end }}' } } },
    expect: { refused: 'spec.git.commit.messageTemplate', message: /^template uses removed '\.Changed\.ImageResult' field/ } },

  // fluxcd/notification-controller api/v1beta3/alert_types.go Summary "Deprecated: Use EventMetadata instead";
  // internal/server/event_handlers.go combineEventMetadata sets it over eventMetadata.summary.
  { kind: 'Alert', apiVersion: `${NOTIFICATION}/v1beta2`, field: 'spec.summary', written: `${NOTIFICATION}/v1beta1`, spec: { summary: 'Cluster addons impacted' },
    expect: { converted: ['spec', 'eventMetadata'], value: { summary: 'Cluster addons impacted' }, gone: ['spec', 'summary'], warned: 'spec.summary', warning: /^converted to spec\.eventMetadata\.summary/ } },
  { kind: 'Alert', apiVersion: `${NOTIFICATION}/v1beta2`, field: 'spec.summary', spec: { summary: 'new', eventMetadata: { env: 'prod', summary: 'old' } },
    expect: { converted: ['spec', 'eventMetadata'], value: { env: 'prod', summary: 'new' }, gone: ['spec', 'summary'], warned: 'spec.summary', warning: /^overrides spec\.eventMetadata\.summary, as in Flux/ } },
];

/**
 * Fields a newer version added, refused in an object of the older one (Flux's CRD for that
 * version did not have them). Found by comparing the api/<version>/*_types.go structs at the last
 * release serving each version; the citation is on each rule in versions.ts.
 */
const ADDED: readonly (readonly [kind: string, apiVersion: string, fields: readonly string[]])[] = [
  // fluxcd/source-controller api/v1beta2/gitrepository_types.go (v1.7.0); api/v1/gitrepository_types.go
  ['GitRepository', `${SOURCE}/v1beta1`, ['spec.ref.name']],
  ['GitRepository', `${SOURCE}/v1beta2`, ['spec.provider', 'spec.serviceAccountName', 'spec.proxySecretRef', 'spec.sparseCheckout']],
  // fluxcd/source-controller api/v1beta2/helmrepository_types.go (v1.7.0)
  ['HelmRepository', `${SOURCE}/v1beta1`, ['spec.type', 'spec.provider', 'spec.insecure', 'spec.certSecretRef']],
  // fluxcd/kustomize-controller api/v1beta2/kustomization_types.go (v1.7.0); api/v1/kustomization_types.go
  ['Kustomization', `${KUSTOMIZE}/v1beta1`, ['spec.wait', 'spec.commonMetadata', 'spec.components', 'spec.postBuild.substituteFrom[*].optional']],
  ['Kustomization', `${KUSTOMIZE}/v1beta2`, ['spec.namePrefix', 'spec.nameSuffix', 'spec.deletionPolicy', 'spec.ignoreMissingComponents', 'spec.healthCheckExprs', 'spec.dependsOn[*].readyExpr']],
  // fluxcd/helm-controller api/v2beta2/helmrelease_types.go (v1.4.0); api/v2/helmrelease_types.go
  ['HelmRelease', `${HELM}/v2beta1`, ['spec.chart.spec.ignoreMissingValuesFiles', 'spec.test.filters']],
  ['HelmRelease', `${HELM}/v2beta2`, [
    'spec.commonMetadata', 'spec.postRenderStrategy', 'spec.dependsOn[*].readyExpr',
    'spec.install.strategy', 'spec.install.disableSchemaValidation', 'spec.install.disableTakeOwnership', 'spec.install.serverSideApply',
    'spec.upgrade.strategy', 'spec.upgrade.disableSchemaValidation', 'spec.upgrade.disableTakeOwnership', 'spec.upgrade.serverSideApply',
    'spec.upgrade.chartNameChangeStrategy', 'spec.rollback.serverSideApply',
  ]],
  // fluxcd/image-reflector-controller api/v1beta2/imagerepository_types.go, imagepolicy_types.go (v1.1.0)
  ['ImageRepository', `${IMAGE}/v1beta1`, ['spec.provider', 'spec.insecure', 'spec.proxySecretRef']],
  ['ImagePolicy', `${IMAGE}/v1beta1`, ['spec.digestReflectionPolicy', 'spec.interval', 'spec.suspend']],
  // fluxcd/image-automation-controller api/v1beta2/imageupdateautomation_types.go, git.go (v1.1.0); api/v1/git.go
  ['ImageUpdateAutomation', `${IMAGE}/v1beta1`, ['spec.policySelector', 'spec.git.commit.messageTemplateValues']],
  ['ImageUpdateAutomation', `${IMAGE}/v1beta2`, ['spec.git.commit.signingKey.type']],
  // fluxcd/notification-controller api/v1beta2/{provider,alert,receiver}_types.go (v1.8.0); api/v1beta3/provider_types.go; api/v1/receiver_types.go
  ['Provider', `${NOTIFICATION}/v1beta1`, ['spec.interval']],
  ['Provider', `${NOTIFICATION}/v1beta2`, ['spec.commitStatusExpr', 'spec.serviceAccountName', 'spec.proxySecretRef']],
  ['Alert', `${NOTIFICATION}/v1beta1`, ['spec.inclusionList', 'spec.eventMetadata']],
  ['Receiver', `${NOTIFICATION}/v1beta1`, ['spec.interval']],
  ['Receiver', `${NOTIFICATION}/v1beta2`, ['spec.resourceFilter', 'spec.oidcProviders', 'spec.resources[*].filter']],
];

/** Sets `field` (spec.a[*].b) in a copy of `spec`-rooted `obj`, creating what is missing; '[*]' is the first element. */
function withField(obj: Raw, field: string): Raw {
  const out = structuredClone(obj);
  const path = field.replace(/\[\*\]/g, '.*').split('.');
  let current: Raw = out;
  path.forEach((segment, i) => {
    const last = i === path.length - 1;
    const nextIsList = path[i + 1] === '*';
    if (segment === '*') return;
    if (last) {
      current[segment] = 'set';
      return;
    }
    let next = current[segment];
    if (nextIsList) {
      if (!Array.isArray(next) || next.length === 0) current[segment] = next = [{}];
      const [first] = next as unknown[];
      current = isRecord(first) ? first : {};
    } else {
      if (!isRecord(next)) current[segment] = next = {};
      current = next as Raw;
    }
  });
  return out;
}

function ruleKey(kind: string, apiVersion: string, field: string): string {
  return `${kind} ${apiVersion} ${field}`;
}

describe('flux-versions conversion rules: one row per rule', () => {
  const explicit = new Set(ROWS.map((r) => ruleKey(r.kind, r.apiVersion, r.field)));
  const added = new Set(ADDED.flatMap(([kind, apiVersion, fields]) => fields.map((f) => ruleKey(kind, apiVersion, f))));

  it('has a row for every rule of versions.ts, and a rule for every row', () => {
    const rules = VERSION_RULES.flatMap((r) => r.fields.map((f) => ({ key: ruleKey(r.kind, r.apiVersion, f.field), added: f.action === 'added' })));
    assert.deepEqual(rules.filter((r) => !r.added).map((r) => r.key).sort(), [...explicit].sort());
    assert.deepEqual(rules.filter((r) => r.added).map((r) => r.key).sort(), [...added].sort());
    for (const rule of VERSION_RULES) {
      assert.match(rule.flux, /^fluxcd\/[\w-]+ /, `${rule.kind} ${rule.apiVersion} cites a Flux file`);
      for (const f of rule.fields) assert.match(f.flux, /^fluxcd\/[\w-]+ /, `${rule.kind} ${rule.apiVersion} ${f.field} cites a Flux file`);
    }
  });

  for (const row of ROWS) {
    const written = row.written ?? row.apiVersion;
    it(`${row.kind} ${written} ${row.field}: ${'refused' in row.expect ? 'refused' : 'dropped' in row.expect ? 'dropped' : 'converted'}`, () => {
      const input = object(row.kind, written, row.spec);
      const rule = versionRule(row.kind, written) ?? assert.fail(`no rule for ${row.kind} ${written}`);
      const conversion = rule.convert(input);
      const parsed = parseDeclarations(JSON.stringify(input), 'row.yaml');
      const { expect } = row;
      if ('refused' in expect) {
        assert.deepEqual(conversion.errors.map((e) => e.field), [expect.refused]);
        assert.match(conversion.errors[0]?.message ?? '', expect.message);
        // Through the parser: a DeclarationError naming the object and the field.
        assert.deepEqual(parsed.errors.map((e) => [e.object, e.field]), [[`${row.kind}/flux-system/x`, expect.refused]]);
        return;
      }
      assert.deepEqual(conversion.errors, []);
      assert.equal(conversion.object.apiVersion, rule.newest);
      assert.deepEqual(parsed.errors.map(formatDeclarationError), []);
      const field = 'dropped' in expect ? expect.dropped : expect.warned;
      const warning = conversion.warnings.find((w) => w.field === field) ?? assert.fail(`no warning on ${field}: ${JSON.stringify(conversion.warnings)}`);
      if (typeof expect.warning === 'string') assert.equal(warning.message, expect.warning);
      else assert.match(warning.message, expect.warning);
      if ('dropped' in expect) {
        assert.equal(valueAt(conversion.object, expect.dropped.split('.')), undefined);
        return;
      }
      assert.deepEqual(valueAt(conversion.object, expect.converted), expect.value);
      assert.equal(valueAt(conversion.object, expect.gone), undefined);
    });
  }

  for (const [kind, apiVersion, fields] of ADDED) {
    const rule = versionRule(kind, apiVersion);
    for (const field of fields) {
      it(`${kind} ${apiVersion} ${field}: refused (added in ${rule?.next ?? '?'})`, () => {
        const input = withField(object(kind, apiVersion, {}), field);
        const parsed = parseDeclarations(JSON.stringify(input), 'row.yaml');
        const where = field.replace(/\[\*\]/g, '[0]');
        assert.deepEqual(parsed.errors.map((e) => [e.object, e.field, e.message]), [[
          `${kind}/flux-system/x`, where, `unknown field in ${apiVersion} (added in ${rule?.next ?? '?'}): write apiVersion ${rule?.newest ?? '?'}`,
        ]]);
      });
    }
  }
});

describe('flux-versions: around the rules', () => {
  it('gives every old-version object exactly one deprecation warning, whatever its chain', () => {
    for (const rule of VERSION_RULES) {
      const r = parseDeclarations(JSON.stringify(object(rule.kind, rule.apiVersion, {})), 'x.yaml');
      assert.deepEqual(r.errors.map(formatDeclarationError), [], `${rule.kind} ${rule.apiVersion}`);
      assert.deepEqual(r.warnings.filter((w) => w.field === 'apiVersion').map((w) => w.message), [
        `${rule.apiVersion} is deprecated: use ${rule.newest} (flux migrate rewrites it)`,
      ]);
      assert.equal(r.declarations[0]?.apiVersion, rule.newest);
    }
  });

  it('names the field as written when converted patches come before the user\'s', () => {
    const r = parseDeclarations(JSON.stringify(object('Kustomization', `${KUSTOMIZE}/v1beta2`, {
      patchesStrategicMerge: [SMP, SMP], patches: [MINE, { patch: 'x: 1', target: { kind: 5 } }],
    })), 'k.yaml');
    assert.deepEqual(r.errors.map((e) => [e.field, e.message]), [['spec.patches[1].target.kind', 'expected a string, got 5']]);
  });

  it('reads a newest-version object unchanged, refusing the fields older versions had', () => {
    const kustomization = parseDeclarations(JSON.stringify(object('Kustomization', `${KUSTOMIZE}/v1`, { patchesStrategicMerge: [SMP] })), 'k.yaml');
    assert.deepEqual(kustomization.errors.map((e) => [e.field, e.message]), [['spec.patchesStrategicMerge', 'unknown field (removed in kustomize.toolkit.fluxcd.io/v1: use spec.patches)']]);
    const release = parseDeclarations(JSON.stringify(object('HelmRelease', `${HELM}/v2`, {
      chart: { spec: { chart: 'podinfo', sourceRef: { kind: 'HelmRepository', name: 'podinfo' }, valuesFile: 'prod.yaml' } },
      postRenderers: [{ kustomize: { patchesJson6902: [JSON6902] } }],
    })), 'h.yaml');
    assert.deepEqual(release.errors.map((e) => [e.field, e.message]), [
      ['spec.chart.spec.valuesFile', 'unknown field (removed in helm.toolkit.fluxcd.io/v2: use spec.chart.spec.valuesFiles)'],
      ['spec.postRenderers[0].kustomize.patchesJson6902', 'unknown field (removed in helm.toolkit.fluxcd.io/v2: use patches with a target)'],
    ]);
    const git = parseDeclarations(JSON.stringify(object('GitRepository', `${SOURCE}/v1`, { accessFrom: {} })), 'g.yaml');
    assert.match(git.errors[0]?.message ?? '', /^unknown field \(removed in source\.toolkit\.fluxcd\.io\/v1/);
    const automation = parseDeclarations(JSON.stringify(object('ImageUpdateAutomation', `${IMAGE}/v1`, {
      git: { commit: { author: { email: 'a@example.com' }, messageTemplate: UPDATED_TEMPLATE } },
    })), 'a.yaml');
    assert.deepEqual(automation.errors.map((e) => e.field), ['spec.git.commit.messageTemplate']);
    const v1 = parseDeclarations(JSON.stringify(object('Kustomization', `${KUSTOMIZE}/v1`, { patches: [MINE] })), 'k.yaml');
    assert.deepEqual(v1.warnings, []);
    assert.deepEqual((v1.declarations[0] as KustomizationDeclaration).spec.patches, [MINE]);
  });

  it('finds .Updated and .Changed.ImageResult of the root data only, inside actions', () => {
    for (const template of ['{{.Updated.Files}}', '{{ range $.Updated.Images }}{{ end }}', '{{ len (.Updated.Images) }}', '{{ with .Changed.ImageResult }}{{ end }}']) {
      assert.ok(removedTemplateFieldProblem(template) !== undefined, template);
    }
    for (const template of ['Updated .Updated images', '{{ $x.Updated }}', '{{ .Changed.FileChanges }}', '{{ .Values.Updated }}', '{{ range .Changed.Changes }}{{ .NewValue }}{{ end }}']) {
      assert.equal(removedTemplateFieldProblem(template), undefined, template);
    }
  });
});
