// core/kube-shape.ts: declarations as Kubernetes prints them (`flotilla get … -o json|yaml`):
// RFC 3339 times, kubectl's List, a Kustomization and a HelmRelease from Flux's YAML back to
// Flux's field names, and the jq a script would run on the output.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseDeclarationObject } from '../../core/declarations/parse.js';
import type { ActorDeclaration } from '../../core/declarations/types.js';
import { printStructured } from '../../cli/output.js';
import { goDuration, kubeList, rfc3339, toKubeObject, withRfc3339Times, type ActorStatusRecord } from '../../core/kube-shape.js';

function declaration(obj: Record<string, unknown>): ActorDeclaration {
  const d = parseDeclarationObject(obj, 'test.yaml');
  if (Array.isArray(d)) throw new Error(JSON.stringify(d));
  return d as ActorDeclaration;
}

const T0 = Date.UTC(2026, 11, 7, 12, 30, 5, 250); // 2026-12-07T12:30:05.250Z

describe('RFC 3339 times', () => {
  for (const [ms, want] of [
    [T0, '2026-12-07T12:30:05Z'],
    [Date.UTC(2026, 0, 1), '2026-01-01T00:00:00Z'],
    [1, '1970-01-01T00:00:00Z'],
  ] as const) {
    it(`${ms} → ${want}`, () => { assert.equal(rfc3339(ms), want); });
  }

  it('converts epoch ms in …At, …Time, …Since, …Until fields at any depth; leaves the rest; drops a zero time', () => {
    assert.deepEqual(withRfc3339Times({
      conditions: [{ type: 'Ready', status: 'True', lastTransitionTime: T0 }],
      lastReconciledAt: 0,
      lastHandledReconcileAt: '2026-12-07T12:00:00.000Z',
      observedGeneration: 3,
      clusters: [{ cluster: 'a', updatedAt: T0, generation: 7 }],
      lastScan: { scanTime: T0, tagCount: 4 },
      rollout: { bakeUntil: T0, connectionSince: T0 },
    }), {
      conditions: [{ type: 'Ready', status: 'True', lastTransitionTime: '2026-12-07T12:30:05Z' }],
      lastHandledReconcileAt: '2026-12-07T12:00:00.000Z',
      observedGeneration: 3,
      clusters: [{ cluster: 'a', updatedAt: '2026-12-07T12:30:05Z', generation: 7 }],
      lastScan: { scanTime: '2026-12-07T12:30:05Z', tagCount: 4 },
      rollout: { bakeUntil: '2026-12-07T12:30:05Z', connectionSince: '2026-12-07T12:30:05Z' },
    });
  });
});

describe('Go durations', () => {
  for (const [s, want] of [[0, '0s'], [45, '45s'], [60, '1m0s'], [90, '1m30s'], [600, '10m0s'], [3600, '1h0m0s'], [5400, '1h30m0s'], [90061, '25h1m1s']] as const) {
    it(`${s}s → ${want}`, () => { assert.equal(goDuration(s), want); });
  }
});

describe('kubectl List', () => {
  it('wraps items as kubectl prints several objects', () => {
    assert.deepEqual(kubeList([]), { apiVersion: 'v1', kind: 'List', items: [], metadata: { resourceVersion: '' } });
    assert.deepEqual(kubeList([{ kind: 'A' }, { kind: 'B' }]).items, [{ kind: 'A' }, { kind: 'B' }]);
  });
});

const kustomization = declaration({
  apiVersion: 'kustomize.toolkit.fluxcd.io/v1', kind: 'Kustomization',
  metadata: { name: 'apps', namespace: 'flux-system', labels: { team: 'web' }, annotations: { 'flotilla.dev/owned-by': 'kustomization/flux-system/flux-system' } },
  spec: {
    interval: '10m', path: './apps/staging/', prune: true, sourceRef: { kind: 'GitRepository', name: 'flux-system' },
    dependsOn: [{ name: 'infra' }], targetNamespace: 'web', postBuild: { substitute: { cluster: 'staging' } },
    placement: { clusters: ['staging'] },
    rollout: { waves: [{ name: 'canary', size: 1, bakeTime: '30s' }, { name: 'rest', maxConcurrency: '50%' }] },
  },
});

const kustomizationStatus: ActorStatusRecord = {
  id: 'kustomization/flux-system/apps', generation: 2, observedGeneration: 2,
  conditions: [
    { type: 'Ready', status: 'True', reason: 'ReconciliationSucceeded', message: 'Applied revision: main@sha1:abc', lastTransitionTime: T0 },
  ],
  suspended: false, suspendedByCli: false, lastHandledReconcileAt: '', lastReconciledAt: T0,
  source: 'gitrepository/flux-system/flux-system', sourceRevision: 'main@sha1:abc',
  lastAppliedRevision: 'main@sha1:abc', lastAttemptedRevision: 'main@sha1:abc',
  placed: ['staging'],
  clusters: [{ cluster: 'staging', ready: 'True', reason: 'Ready', message: 'ok', generation: 4, revision: 'main@sha1:abc', artifactDigest: 'sha256:00', counts: { created: 2 }, updatedAt: T0 }],
  declarations: [],
};

describe('a Kustomization as Kubernetes prints it', () => {
  const o = toKubeObject(kustomization, kustomizationStatus);

  it('has apiVersion, kind and metadata with labels, annotations and generation', () => {
    assert.equal(o.apiVersion, 'kustomize.toolkit.fluxcd.io/v1');
    assert.equal(o.kind, 'Kustomization');
    assert.deepEqual(o.metadata, {
      name: 'apps', namespace: 'flux-system', labels: { team: 'web' },
      annotations: { 'flotilla.dev/owned-by': 'kustomization/flux-system/flux-system' }, generation: 2,
    });
  });

  it('renders the spec with Flux\'s field names (defaults filled in, durations as Go prints them)', () => {
    assert.deepEqual(o.spec, {
      sourceRef: { kind: 'GitRepository', name: 'flux-system', namespace: 'flux-system' },
      path: './apps/staging',
      interval: '10m0s', retryInterval: '10m0s', timeout: '10m0s',
      prune: true, wait: false,
      dependsOn: [{ name: 'infra', namespace: 'flux-system' }],
      targetNamespace: 'web',
      postBuild: { substitute: { cluster: 'staging' } },
      force: false, suspend: false,
      placement: { clusters: ['staging'] },
      rollout: {
        onFailure: 'rollback',
        waves: [
          { name: 'canary', size: 1, maxFailures: 0, bakeTime: '30s', approval: false },
          { name: 'rest', maxConcurrency: '50%', maxFailures: 0, bakeTime: '0s', approval: false },
        ],
      },
    });
  });

  it('puts conditions and observedGeneration first in the status, times as RFC 3339, per-cluster entries kept', () => {
    const status = o.status as Record<string, unknown>;
    assert.deepEqual(Object.keys(status).slice(0, 2), ['conditions', 'observedGeneration']);
    assert.equal(status.generation, undefined, 'generation is metadata.generation');
    assert.equal(status.lastAppliedRevision, 'main@sha1:abc');
    assert.equal(status.lastReconciledAt, '2026-12-07T12:30:05Z');
    assert.deepEqual(status.conditions, [
      { type: 'Ready', status: 'True', reason: 'ReconciliationSucceeded', message: 'Applied revision: main@sha1:abc', lastTransitionTime: '2026-12-07T12:30:05Z' },
    ]);
    assert.equal((status.clusters as { updatedAt: unknown }[])[0]?.updatedAt, '2026-12-07T12:30:05Z');
  });

  it('survives JSON: jq \'.items[].status.conditions[] | select(.type=="Ready")\' finds Ready', () => {
    const list = JSON.parse(JSON.stringify(kubeList([o]))) as { items: { status: { conditions: { type: string; status: string; lastTransitionTime: string }[] } }[] };
    const ready = list.items.flatMap((i) => i.status.conditions).filter((c) => c.type === 'Ready');
    assert.deepEqual(ready.map((c) => [c.status, c.lastTransitionTime]), [['True', '2026-12-07T12:30:05Z']]);
  });
});

describe('a HelmRelease as Kubernetes prints it', () => {
  const hr = declaration({
    apiVersion: 'helm.toolkit.fluxcd.io/v2', kind: 'HelmRelease', metadata: { name: 'podinfo', namespace: 'apps' },
    spec: {
      interval: '5m',
      chart: { spec: { chart: 'podinfo', version: '>=6.0.0, <7.0.0', sourceRef: { kind: 'HelmRepository', name: 'podinfo' } } },
      values: { replicaCount: 2 },
      upgrade: { remediation: { retries: 3 } },
    },
  });
  const o = toKubeObject(hr, {
    id: 'helmrelease/apps/podinfo', generation: 1, observedGeneration: 1, conditions: [], suspended: false, suspendedByCli: false,
    lastHandledReconcileAt: '', lastReconciledAt: 0, releaseName: 'podinfo', chartName: 'podinfo', lastAttemptedChartVersion: '6.5.0',
    placed: ['a'], clusters: [], histories: { a: { revisions: [{ revision: 1, startedAt: T0, finishedAt: T0 + 2000, status: 'deployed' }] } },
  });

  it('renders chart.spec, the Helm actions and values with Flux\'s names and defaults', () => {
    const spec = o.spec as Record<string, Record<string, unknown>>;
    assert.deepEqual(spec.chart, {
      spec: {
        chart: 'podinfo', version: '>=6.0.0 <7.0.0', sourceRef: { kind: 'HelmRepository', name: 'podinfo', namespace: 'apps' },
        interval: '5m0s', reconcileStrategy: 'ChartVersion',
      },
    });
    assert.equal(spec.interval, '5m0s');
    assert.equal(spec.timeout, '5m0s');
    assert.equal(spec.releaseName, 'podinfo');
    assert.equal(spec.targetNamespace, 'apps');
    assert.deepEqual(spec.upgrade?.remediation, { retries: 3, ignoreTestFailures: false, remediateLastFailure: true, strategy: 'rollback' });
    assert.equal(spec.install?.crds, 'Create');
    assert.equal(spec.rollback?.timeout, '5m0s');
    assert.equal(spec.rollback.timeoutSeconds, undefined);
    assert.deepEqual(spec.values, { replicaCount: 2 });
    assert.equal(spec.placement, undefined, 'every registered cluster (the default) is left out');
  });

  it('has no epoch milliseconds anywhere in its status; an unset time is left out', () => {
    const status = o.status as Record<string, unknown>;
    assert.equal('lastReconciledAt' in status, false);
    const revision = (status.histories as Record<string, { revisions: Record<string, unknown>[] }>).a?.revisions[0];
    assert.deepEqual(revision, { revision: 1, startedAt: '2026-12-07T12:30:05Z', finishedAt: '2026-12-07T12:30:07Z', status: 'deployed' });
  });
});

describe('sources', () => {
  it('a GitRepository\'s artifact with Flux\'s field names', () => {
    const git = declaration({
      apiVersion: 'source.toolkit.fluxcd.io/v1', kind: 'GitRepository', metadata: { name: 'flux-system', namespace: 'flux-system' },
      spec: { url: 'https://example.com/fleet.git', interval: '1m', ref: { branch: 'main' }, secretRef: { name: 'auth' } },
    });
    const o = toKubeObject(git, {
      id: 'gitrepository/flux-system/flux-system', generation: 1, observedGeneration: 1, conditions: [],
      artifact: { revision: 'main@sha1:abc', artifactDigest: 'sha256:11', fileCount: 3, bytes: 1024, fetchedAt: T0 },
    });
    assert.deepEqual(o.spec, {
      url: 'https://example.com/fleet.git', interval: '1m0s', timeout: '1m0s', ref: { branch: 'main' }, secretRef: { name: 'auth' }, suspend: false,
    });
    assert.deepEqual((o.status as Record<string, unknown>).artifact, {
      revision: 'main@sha1:abc', digest: 'sha256:11', lastUpdateTime: '2026-12-07T12:30:05Z', size: 1024, fileCount: 3,
    });
  });
});

describe('-o yaml', () => {
  it('quotes RFC 3339 times as kubectl does, so YAML 1.1 readers keep them strings', () => {
    const written: string[] = [];
    const write = process.stdout.write.bind(process.stdout);
    process.stdout.write = ((chunk: string): boolean => { written.push(chunk); return true; });
    try {
      printStructured('yaml', kubeList([toKubeObject(kustomization, kustomizationStatus)]));
    } finally {
      process.stdout.write = write;
    }
    const text = written.join('');
    assert.match(text, /^ {10}lastTransitionTime: "2026-12-07T12:30:05Z"$/m);
    assert.match(text, /^ {6}interval: 10m0s$/m);
    assert.match(text, /^apiVersion: v1\nkind: List\nitems:\n {2}- apiVersion: kustomize\.toolkit\.fluxcd\.io\/v1\n {4}kind: Kustomization\n/);
  });
});
