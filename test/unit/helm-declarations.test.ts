// Flux's HelmRepository and HelmRelease YAML → typed declarations: Flux's defaults (as
// helm-controller api/v2 and source-controller api/v1 define them), the default release
// name, and errors and warnings naming file, object and field.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { parseDeclarations } from '../../core/declarations/parse.js';
import { declarationId, type HelmReleaseDeclaration, type HelmRepositoryDeclaration } from '../../core/declarations/types.js';
import { defaultReleaseName, sha256Hex } from '../../core/helm-release.js';
import { one, onlyError } from '../harness/declarations.js';

function repository(text: string): HelmRepositoryDeclaration {
  const d = one(text);
  assert.equal(d.kind, 'HelmRepository');
  return d;
}

function release(text: string): HelmReleaseDeclaration {
  const d = one(text);
  assert.equal(d.kind, 'HelmRelease');
  return d;
}

const REPO = (spec: string, apiVersion = 'source.toolkit.fluxcd.io/v1'): string =>
  `apiVersion: ${apiVersion}\nkind: HelmRepository\nmetadata: {name: podinfo, namespace: flux-system}\nspec: ${spec}\n`;
const HR = (spec: string, apiVersion = 'helm.toolkit.fluxcd.io/v2'): string =>
  `apiVersion: ${apiVersion}\nkind: HelmRelease\nmetadata: {name: podinfo, namespace: apps}\nspec: ${spec}\n`;
const CHART = 'chart: {spec: {chart: podinfo, sourceRef: {kind: HelmRepository, name: podinfo}}}';
const HR_SPEC = (extra: string, apiVersion?: string): string => HR(`{interval: 10m, ${CHART}${extra}}`, apiVersion);

describe('HelmRepository', () => {
  it('fills in Flux defaults: type default, 1m interval, 60s timeout, provider generic', () => {
    const d = repository(REPO('{url: "https://stefanprodan.github.io/podinfo"}'));
    assert.deepEqual(d, {
      kind: 'HelmRepository', apiVersion: 'source.toolkit.fluxcd.io/v1', namespace: 'flux-system', name: 'podinfo',
      labels: {}, annotations: {},
      spec: {
        url: 'https://stefanprodan.github.io/podinfo', type: 'default', intervalSeconds: 60, timeoutSeconds: 60,
        secretRef: undefined, passCredentials: false, insecure: false, provider: 'generic', suspend: false,
      },
    } satisfies HelmRepositoryDeclaration);
    assert.equal(declarationId(d), 'helmrepository/flux-system/podinfo');
  });

  it('reads every supported field, and v1beta2 as v1', () => {
    const d = repository(REPO('{url: "oci://ghcr.io/stefanprodan/charts", type: oci, interval: 5m, timeout: 90s, secretRef: {name: ghcr}, passCredentials: true, insecure: true, provider: generic, suspend: true}', 'source.toolkit.fluxcd.io/v1beta2'));
    assert.equal(d.apiVersion, 'source.toolkit.fluxcd.io/v1');
    assert.deepEqual(d.spec, {
      url: 'oci://ghcr.io/stefanprodan/charts', type: 'oci', intervalSeconds: 300, timeoutSeconds: 90,
      secretRef: 'ghcr', passCredentials: true, insecure: true, provider: 'generic', suspend: true,
    });
  });

  it('warns about a cloud provider and certSecretRef, not about generic', () => {
    const r = parseDeclarations(`${REPO('{url: "oci://r.example.com/charts", type: oci, provider: aws, certSecretRef: {name: tls}}')}---\n${REPO('{url: "https://e.com", provider: generic}').replace('podinfo', 'other')}`, 'w.yaml');
    assert.deepEqual(r.errors, []);
    assert.deepEqual(r.warnings.map((w) => `${w.object ?? ''} ${w.field ?? ''}`), [
      'HelmRepository/flux-system/podinfo spec.provider', 'HelmRepository/flux-system/podinfo spec.certSecretRef',
    ]);
  });

  const cases: [string, string, string, RegExp][] = [
    ['type oci with an https URL', REPO('{url: "https://e.com/charts", type: oci}'), 'spec.url', /type oci needs an oci:\/\/ URL/],
    ['an oci URL without type oci', REPO('{url: "oci://ghcr.io/charts"}'), 'spec.type', /an oci:\/\/ URL needs type: oci/],
    ['an unsupported URL', REPO('{url: "git@github.com:a/b"}'), 'spec.url', /use https:\/\/ or http:\/\/ \(a chart repository\) or oci:\/\//],
    ['a missing URL', REPO('{interval: 5m}'), 'spec.url', /^required: the Helm repository URL/],
    ['an unknown type', REPO('{url: "https://e.com", type: git}'), 'spec.type', /must be one of default, oci/],
    ['an unsupported apiVersion', REPO('{url: "https://e.com"}', 'source.toolkit.fluxcd.io/v1alpha1'), 'apiVersion', /HelmRepository source\.toolkit\.fluxcd\.io\/v1alpha1 is not supported: use source\.toolkit\.fluxcd\.io\/v1 \(older versions read: /],
  ];
  for (const [what, yaml, field, message] of cases) {
    it(`reports ${what}`, () => {
      const e = onlyError(parseDeclarations(yaml, 'repos.yaml'));
      assert.equal(e.file, 'repos.yaml');
      assert.equal(e.object, 'HelmRepository/flux-system/podinfo');
      assert.equal(e.field, field);
      assert.match(e.message, message);
    });
  }
});

describe('HelmRelease: defaults', () => {
  it("fills in helm-controller's defaults", () => {
    const d = release(HR_SPEC(''));
    assert.deepEqual(d, {
      kind: 'HelmRelease', apiVersion: 'helm.toolkit.fluxcd.io/v2', namespace: 'apps', name: 'podinfo',
      labels: {}, annotations: {},
      spec: {
        chart: {
          chart: 'podinfo', version: '*', sourceRef: { kind: 'HelmRepository', namespace: 'apps', name: 'podinfo' },
          intervalSeconds: 600, reconcileStrategy: 'ChartVersion',
        },
        intervalSeconds: 600, timeoutSeconds: 300, releaseName: 'podinfo', targetNamespace: 'apps', storageNamespace: 'apps',
        install: {
          timeoutSeconds: 300, createNamespace: false, crds: 'Create',
          remediation: { retries: 0, ignoreTestFailures: false, remediateLastFailure: false }, disableWait: false, replace: false,
        },
        upgrade: {
          timeoutSeconds: 300, remediation: { retries: 0, ignoreTestFailures: false, remediateLastFailure: false, strategy: 'rollback' },
          crds: 'Skip', force: false, disableWait: false, cleanupOnFail: false,
        },
        rollback: { timeoutSeconds: 300, force: false, cleanupOnFail: false, recreate: false, disableWait: false },
        uninstall: { timeoutSeconds: 300, keepHistory: false, disableWait: false },
        test: { enable: false, timeoutSeconds: 300, ignoreFailures: false },
        values: {}, valuesFrom: [], dependsOn: [], suspend: false, maxHistory: 5,
        placement: { clusters: [], clusterSelector: undefined, hub: false },
      },
    } satisfies HelmReleaseDeclaration);
    assert.equal(declarationId(d), 'helmrelease/apps/podinfo');
  });

  it('defaults action timeouts to spec.timeout and ignoreTestFailures to test.ignoreFailures', () => {
    const d = release(HR_SPEC(', timeout: 2m, test: {enable: true, ignoreFailures: true}, upgrade: {timeout: 7m}'));
    assert.equal(d.spec.timeoutSeconds, 120);
    assert.equal(d.spec.install.timeoutSeconds, 120);
    assert.equal(d.spec.upgrade.timeoutSeconds, 420);
    assert.equal(d.spec.rollback.timeoutSeconds, 120);
    assert.equal(d.spec.test.timeoutSeconds, 120);
    assert.equal(d.spec.install.remediation.ignoreTestFailures, true);
    assert.equal(d.spec.upgrade.remediation.ignoreTestFailures, true);
  });

  it('defaults upgrade remediateLastFailure to retries > 0, and keeps an explicit false', () => {
    assert.equal(release(HR_SPEC(', upgrade: {remediation: {retries: 3}}')).spec.upgrade.remediation.remediateLastFailure, true);
    assert.equal(release(HR_SPEC(', upgrade: {remediation: {retries: -1}}')).spec.upgrade.remediation.remediateLastFailure, false);
    assert.equal(release(HR_SPEC(', upgrade: {remediation: {retries: 3, remediateLastFailure: false}}')).spec.upgrade.remediation.remediateLastFailure, false);
    assert.equal(release(HR_SPEC(', install: {remediation: {retries: 3}}')).spec.install.remediation.remediateLastFailure, false);
  });

  it('honours the deprecated install.skipCRDs when crds is not set', () => {
    assert.equal(release(HR_SPEC(', install: {skipCRDs: true}')).spec.install.crds, 'Skip');
    assert.equal(release(HR_SPEC(', install: {skipCRDs: true, crds: CreateReplace}')).spec.install.crds, 'CreateReplace');
  });

  it('names the release [<targetNamespace>-]<name>, hashed past 53 characters as Flux does', () => {
    assert.equal(release(HR_SPEC(', targetNamespace: web')).spec.releaseName, 'web-podinfo');
    assert.equal(release(HR_SPEC(', targetNamespace: web, releaseName: site')).spec.releaseName, 'site');
    // The example of Flux's documentation (helmreleases.md, "Release name"): the hash is the
    // documented one; the prefix is helm-controller's code (name[:40]), since the documented
    // 42-character prefix would make a 55-character name that Helm refuses.
    const shortened = 'a-very-lengthy-target-namespace-with-a-n-97af5d7f41f3';
    assert.equal(defaultReleaseName('with-a-nice-object-name', 'a-very-lengthy-target-namespace'), shortened);
    const long = release(`apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata: {name: with-a-nice-object-name, namespace: apps}\nspec: {interval: 1m, targetNamespace: a-very-lengthy-target-namespace, ${CHART}}\n`);
    assert.equal(long.spec.releaseName, shortened);
    assert.equal(long.spec.releaseName.length, 53);
  });

  it('computes SHA-256 like node:crypto', () => {
    for (const text of ['', 'abc', 'a'.repeat(55), 'x'.repeat(64), 'é-ü-名前', 'b'.repeat(1000)]) {
      assert.equal(sha256Hex(text), createHash('sha256').update(text).digest('hex'), JSON.stringify(text.slice(0, 10)));
    }
  });
});

describe('HelmRelease: every supported field', () => {
  it('reads them', () => {
    const d = release(`apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata: {name: podinfo, namespace: apps, labels: {team: a}}
spec:
  interval: 15m
  timeout: 4m
  chart:
    spec:
      chart: podinfo
      version: ">=6.0.0, <7.0.0"
      sourceRef: {kind: HelmRepository, name: charts, namespace: flux-system, apiVersion: source.toolkit.fluxcd.io/v1}
      interval: 5m
      reconcileStrategy: Revision
  releaseName: podinfo-web
  targetNamespace: web
  storageNamespace: helm-storage
  install:
    createNamespace: true
    crds: CreateReplace
    remediation: {retries: 3, ignoreTestFailures: true, remediateLastFailure: true}
    disableWait: true
    replace: true
    timeout: 10m
  upgrade:
    remediation: {retries: -1, remediateLastFailure: true, strategy: uninstall}
    crds: Create
    force: true
    disableWait: true
    cleanupOnFail: true
  rollback: {timeout: 1m, force: true, cleanupOnFail: true, recreate: true, disableWait: true}
  uninstall: {keepHistory: true, timeout: 30s, disableWait: true}
  test: {enable: true}
  values:
    replicaCount: 2
    ingress: {enabled: true, hosts: [{host: web.example.com}]}
  valuesFrom:
    - {kind: ConfigMap, name: prod-values}
    - {kind: Secret, name: tls, valuesKey: crt, targetPath: "tls.crt", optional: true}
  dependsOn:
    - name: cert-manager
    - {name: ingress, namespace: infra}
  suspend: true
  maxHistory: 0
  placement:
    clusterSelector: {matchLabels: {env: prod}}
`);
    assert.deepEqual(d.labels, { team: 'a' });
    assert.deepEqual(d.spec, {
      chart: {
        chart: 'podinfo', version: '>=6.0.0 <7.0.0', sourceRef: { kind: 'HelmRepository', namespace: 'flux-system', name: 'charts' },
        intervalSeconds: 300, reconcileStrategy: 'Revision',
      },
      intervalSeconds: 900, timeoutSeconds: 240, releaseName: 'podinfo-web', targetNamespace: 'web', storageNamespace: 'helm-storage',
      install: {
        timeoutSeconds: 600, createNamespace: true, crds: 'CreateReplace',
        remediation: { retries: 3, ignoreTestFailures: true, remediateLastFailure: true }, disableWait: true, replace: true,
      },
      upgrade: {
        timeoutSeconds: 240, remediation: { retries: -1, ignoreTestFailures: false, remediateLastFailure: true, strategy: 'uninstall' },
        crds: 'Create', force: true, disableWait: true, cleanupOnFail: true,
      },
      rollback: { timeoutSeconds: 60, force: true, cleanupOnFail: true, recreate: true, disableWait: true },
      uninstall: { timeoutSeconds: 30, keepHistory: true, disableWait: true },
      test: { enable: true, timeoutSeconds: 240, ignoreFailures: false },
      values: { replicaCount: 2, ingress: { enabled: true, hosts: [{ host: 'web.example.com' }] } },
      valuesFrom: [
        { kind: 'ConfigMap', name: 'prod-values', valuesKey: 'values.yaml', targetPath: undefined, optional: false },
        { kind: 'Secret', name: 'tls', valuesKey: 'crt', targetPath: 'tls.crt', optional: true },
      ],
      dependsOn: [{ namespace: 'apps', name: 'cert-manager' }, { namespace: 'infra', name: 'ingress' }],
      suspend: true, maxHistory: 0,
      placement: { clusters: [], clusterSelector: { matchLabels: { env: 'prod' }, matchExpressions: [] }, hub: false },
    });
  });

  it('accepts exact versions, wildcards and v-prefixed versions', () => {
    for (const version of ['6.5.3', '6.5.*', 'v1.2.3', '^1.2', '~1.2.0', '1.x || 2.x']) {
      assert.equal(release(HR(`{interval: 1m, chart: {spec: {chart: podinfo, version: "${version}", sourceRef: {kind: HelmRepository, name: p}}}}`)).spec.chart.version, version);
    }
  });

  it('reads a chart from a GitRepository as a path, warning that version is not used there', () => {
    const r = parseDeclarations(HR('{interval: 1m, chart: {spec: {chart: ./charts/podinfo/, version: "1.0.0", sourceRef: {kind: GitRepository, name: fleet}}}}'), 'g.yaml');
    assert.deepEqual(r.errors, []);
    const d = r.declarations[0];
    assert.ok(d?.kind === 'HelmRelease');
    assert.equal(d.spec.chart.chart, 'charts/podinfo');
    assert.deepEqual(d.spec.chart.sourceRef, { kind: 'GitRepository', namespace: 'apps', name: 'fleet' });
    assert.deepEqual(r.warnings.map((w) => [w.object, w.field]), [['HelmRelease/apps/podinfo', 'spec.chart.spec.version']]);
  });

  it('keeps null values, which Helm uses to delete a chart default', () => {
    const d = release(HR_SPEC(', values: {resources: null, nested: {a: null, b: 1}}'));
    assert.deepEqual(d.spec.values, { resources: null, nested: { a: null, b: 1 } });
  });

  it('reads v2beta2 as v2', () => {
    assert.equal(release(HR_SPEC('', 'helm.toolkit.fluxcd.io/v2beta2')).apiVersion, 'helm.toolkit.fluxcd.io/v2');
  });

  it('warns about Flux fields it accepts but does not act on yet, not about their "off" values', () => {
    const r = parseDeclarations(HR_SPEC(`, postRenderers: [{kustomize: {patches: []}}], driftDetection: {mode: enabled},
      install: {disableHooks: false, disableWaitForJobs: true}, upgrade: {preserveValues: false}, persistentClient: true,
      valuesFrom: [{kind: Secret, name: s, targetPath: a.b, literal: true}], dependsOn: [{name: x, readyExpr: "true"}]`), 'w.yaml');
    assert.deepEqual(r.errors, []);
    assert.deepEqual(r.warnings.map((w) => w.field), [
      'spec.postRenderers', 'spec.driftDetection.mode', 'spec.install.disableWaitForJobs', 'spec.valuesFrom[0].literal', 'spec.dependsOn[0].readyExpr',
    ]);
    assert.match(r.warnings[0]?.message ?? '', /without post-rendering/);
    const quiet = parseDeclarations(HR_SPEC(', driftDetection: {mode: disabled}, uninstall: {deletionPropagation: background}'), 'q.yaml');
    assert.deepEqual(quiet.warnings, []);
  });
});

describe('HelmRelease: errors name file, object and field', () => {
  const cases: [string, string, string, RegExp][] = [
    ['a chartRef to an OCIRepository', HR('{interval: 1m, chartRef: {kind: OCIRepository, name: podinfo}}'), 'spec.chartRef.kind', /chartRef to an OCIRepository is not supported yet: use spec\.chart/],
    ['a chartRef to a HelmChart', HR('{interval: 1m, chartRef: {kind: HelmChart, name: podinfo}}'), 'spec.chartRef.kind', /chartRef to a HelmChart is not supported yet/],
    ['neither chart nor chartRef', HR('{interval: 1m}'), 'spec.chart', /^required: the chart to install/],
    ['a missing interval', HR(`{${CHART}}`), 'spec.interval', /^required: how often to reconcile/],
    ['a bad chart version', HR('{interval: 1m, chart: {spec: {chart: p, version: "not a version", sourceRef: {kind: HelmRepository, name: p}}}}'), 'spec.chart.spec.version', /invalid chart version "not a version"/],
    ['a chart path leaving the GitRepository', HR('{interval: 1m, chart: {spec: {chart: ../../etc, sourceRef: {kind: GitRepository, name: p}}}}'), 'spec.chart.spec.chart', /leaves the source root/],
    ['a Bucket source', HR('{interval: 1m, chart: {spec: {chart: p, sourceRef: {kind: Bucket, name: p}}}}'), 'spec.chart.spec.sourceRef.kind', /Bucket sources are not supported yet/],
    ['an unknown source kind', HR('{interval: 1m, chart: {spec: {chart: p, sourceRef: {kind: OCIRepository, name: p}}}}'), 'spec.chart.spec.sourceRef.kind', /must be HelmRepository or GitRepository/],
    ['a missing sourceRef', HR('{interval: 1m, chart: {spec: {chart: p}}}'), 'spec.chart.spec.sourceRef', /^required: where the chart comes from/],
    ['an OCIRepository chart template', HR('{interval: 1m, chart: {kind: OCIRepository, spec: {chart: p, sourceRef: {kind: HelmRepository, name: p}}}}'), 'spec.chart.kind', /OCIRepository chart templates are not supported yet/],
    ['a release name too long', HR_SPEC(`, releaseName: ${'a'.repeat(54)}`), 'spec.releaseName', /at most 53/],
    ['an uppercase release name', HR_SPEC(', releaseName: Web'), 'spec.releaseName', /invalid release name "Web"/],
    ['hub placement', HR_SPEC(', placement: {hub: true}'), 'spec.placement.hub', /a HelmRelease is installed on clusters/],
    ['an unknown remediation strategy', HR_SPEC(', upgrade: {remediation: {strategy: ignore}}'), 'spec.upgrade.remediation.strategy', /must be one of rollback, uninstall \(got "ignore"\)/],
    ['fractional retries', HR_SPEC(', install: {remediation: {retries: 1.5}}'), 'spec.install.remediation.retries', /expected a whole number, got 1.5/],
    ['an unknown crds policy', HR_SPEC(', install: {crds: Replace}'), 'spec.install.crds', /must be one of Skip, Create, CreateReplace/],
    ['an unknown install field', HR_SPEC(', install: {wait: true}'), 'spec.install.wait', /^unknown field$/],
    ['values that are not a mapping', HR_SPEC(', values: [1, 2]'), 'spec.values', /expected a mapping, got a list/],
    ['a bad valuesKey', HR_SPEC(', valuesFrom: [{kind: ConfigMap, name: v, valuesKey: "a/b"}]'), 'spec.valuesFrom[0].valuesKey', /invalid valuesKey/],
    ['a bad targetPath', HR_SPEC(', valuesFrom: [{kind: ConfigMap, name: v, targetPath: "a b"}]'), 'spec.valuesFrom[0].targetPath', /invalid targetPath/],
    ['a negative maxHistory', HR_SPEC(', maxHistory: -1'), 'spec.maxHistory', /at least 0/],
    ['an unsupported apiVersion', HR_SPEC('', 'helm.toolkit.fluxcd.io/v2alpha1'), 'apiVersion', /^HelmRelease helm\.toolkit\.fluxcd\.io\/v2alpha1 is not supported: use helm\.toolkit\.fluxcd\.io\/v2 \(older versions read: helm\.toolkit\.fluxcd\.io\/v2beta2, helm\.toolkit\.fluxcd\.io\/v2beta1\)$/],
  ];
  for (const [what, yaml, field, message] of cases) {
    it(`reports ${what}`, () => {
      const e = onlyError(parseDeclarations(yaml, 'apps.yaml'));
      assert.equal(e.file, 'apps.yaml');
      assert.equal(e.document, 1);
      assert.equal(e.object, 'HelmRelease/apps/podinfo');
      assert.equal(e.field, field);
      assert.match(e.message, message);
    });
  }

  it('reports both chart and chartRef, and the unsupported chartRef', () => {
    const r = parseDeclarations(HR(`{interval: 1m, ${CHART}, chartRef: {kind: OCIRepository, name: p}}`), 'apps.yaml');
    assert.deepEqual(r.errors.map((e) => e.field).sort(), ['spec.chartRef', 'spec.chartRef.kind']);
  });

  it('reports a missing chart along with other problems', () => {
    const r = parseDeclarations(HR('{interval: 5x}'), 'apps.yaml');
    assert.deepEqual(r.errors.map((e) => e.field).sort(), ['spec.chart', 'spec.interval']);
  });
});
