// Helm releases across the fleet, end to end with real parts: a chart repository served over
// loopback HTTP (charts packaged and indexed by the real helm), the hub process on a real
// Temporal server, an agent process per real cluster, and the `flotilla` CLI.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import type { HelmReleaseStatus } from '../../api/helm-release.js';
import type { RolloutStatus } from '../../api/rollout.js';
import { ClusterClient } from '../../agents/apply/cluster-client.js';
import { conditionOf } from '../../core/conditions.js';
import type { ReleaseHistory } from '../../core/helm-release.js';
import type { KubeObject } from '../../core/objects.js';
import { repoRoot } from '../../deploy/dev/binaries.js';
import { waitFor } from '../../deploy/dev/processes.js';
import { ChartRepo, webChart } from '../harness/chart-repo.js';
import { TestFleet } from '../harness/fleet.js';
import { useEnvironment } from '../harness/index.js';
import { replayLive } from '../harness/replay.js';

const CLUSTERS = ['east', 'west'];
const podinfoChart = join(repoRoot, '..', 'shared', 'fixtures', 'podinfo', 'charts', 'podinfo');
const WEB_ID = 'helmrelease/flux-system/web';


const state: { fleet?: TestFleet; charts?: ChartRepo; dir: string; web: string } = { dir: '', web: '' };
const env = useEnvironment({ clusters: CLUSTERS }, {
  afterStart: async (e) => {
    state.dir = mkdtempSync(join(tmpdir(), 'flotilla-helm-'));
    state.charts = await ChartRepo.start();
    state.web = webChart();
    state.charts.publish(state.web, '1.0.0').publish(state.web, '1.1.0').publish(podinfoChart);
    const fleet = await TestFleet.create(e);
    state.fleet = fleet;
    await fleet.startHub();
    for (const c of CLUSTERS) await fleet.startAgent(c, { env: 'prod' });
  },
  beforeStop: async () => {
    await state.fleet?.stop();
    await state.charts?.stop();
    rmSync(state.dir, { recursive: true, force: true });
    if (state.web) rmSync(state.web, { recursive: true, force: true });
  },
});

function fleet(): TestFleet {
  if (!state.fleet) throw new Error('fleet not started');
  return state.fleet;
}

async function getObject(cluster: string, apiVersion: string, kind: string, name: string, namespace: string): Promise<KubeObject | undefined> {
  return new ClusterClient(env().cluster(cluster).kubeConfig()).get({ apiVersion, kind, metadata: { name, namespace } });
}

async function apply(name: string, objects: readonly unknown[]): Promise<void> {
  const file = join(state.dir, `${name}.yaml`);
  writeFileSync(file, objects.map((o) => stringify(o)).join('---\n'));
  const r = await fleet().cli('apply', '-f', file);
  assert.equal(r.code, 0, `flotilla apply failed: ${r.stderr}`);
}

const helmRepository = (apiVersion = 'source.toolkit.fluxcd.io/v1'): Record<string, unknown> => ({
  apiVersion, kind: 'HelmRepository', metadata: { name: 'charts', namespace: 'flux-system' },
  spec: { url: state.charts?.url, interval: '10m' },
});

const webRelease = (version: string, values: Record<string, unknown> = {}, apiVersion = 'helm.toolkit.fluxcd.io/v2'): Record<string, unknown> => ({
  apiVersion, kind: 'HelmRelease', metadata: { name: 'web', namespace: 'flux-system' },
  spec: {
    interval: '10m', timeout: '30s', targetNamespace: 'web', releaseName: 'web',
    chart: { spec: { chart: 'web', version, sourceRef: { kind: 'HelmRepository', name: 'charts' } } },
    install: { createNamespace: true },
    upgrade: { remediation: { retries: 0, remediateLastFailure: true } },
    values, placement: { clusterSelector: { matchLabels: { env: 'prod' } } },
  },
});

async function release(id = WEB_ID): Promise<HelmReleaseStatus> {
  const s = await fleet().status(id);
  assert.equal(s.kind, 'HelmRelease');
  return s.status;
}

function history(s: HelmReleaseStatus, cluster: string): ReleaseHistory {
  const h = s.histories[cluster];
  assert.ok(h, `no history on ${cluster}`);
  return h;
}

function summary(h: ReleaseHistory): string[] {
  return h.revisions.map((r) => `${r.revision}:${r.action}:${r.chartVersion}:${r.status}`);
}

describe('Helm releases across the fleet', () => {
  it('installs a chart from a chart repository on both clusters (declared in Flux\'s oldest versions: source v1beta1, helm v2beta1)', async () => {
    // The versions of a three-year-old Flux repository: read, converted to v1/v2 and deployed.
    await apply('web', [helmRepository('source.toolkit.fluxcd.io/v1beta1'), webRelease('~1.0.0', {}, 'helm.toolkit.fluxcd.io/v2beta1')]);
    const r = await fleet().cli('reconcile', 'helmrelease', 'web', '--with-source');
    assert.equal(r.code, 0, r.stderr);
    const s = await release();
    assert.deepEqual(s.placed, CLUSTERS);
    for (const c of CLUSTERS) {
      assert.deepEqual(summary(history(s, c)), ['1:install:1.0.0:deployed'], c);
      assert.deepEqual((await getObject(c, 'v1', 'ConfigMap', 'web-config', 'web'))?.data, { version: '1.0.0' });
    }
  });

  it('upgrades to the highest chart version a new range allows', async () => {
    await apply('web', [helmRepository(), webRelease('>=1.1.0 <2.0.0')]);
    assert.equal((await fleet().cli('reconcile', 'helmrelease', 'web')).code, 0);
    const s = await release();
    for (const c of CLUSTERS) assert.deepEqual(summary(history(s, c)), ['1:install:1.0.0:superseded', '2:upgrade:1.1.0:deployed'], c);
    const get = await fleet().cli('get', 'helmreleases');
    assert.match(get.stdout, /web\s+web@1\.1\.0\s+false\s+2\/2\s+True/);
  });

  it('an upgrade whose pods never become ready is rolled back to the previous revision automatically', async () => {
    await apply('web', [helmRepository(), webRelease('>=1.1.0 <2.0.0', { podAnnotations: { 'sim.flotilla.dev/fail': 'ErrImagePull' } })]);
    const r = await fleet().cli('reconcile', 'helmrelease', 'web');
    assert.equal(r.code, 1, 'the failed upgrade is reported');
    assert.match(r.stderr, /rolled back to revision 2/);
    const s = await release();
    for (const c of CLUSTERS) {
      const h = history(s, c);
      assert.deepEqual(summary(h), ['1:install:1.0.0:superseded', '2:upgrade:1.1.0:superseded', '3:upgrade:1.1.0:failed', '4:rollback:1.1.0:deployed'], c);
      const [, second, , rollback] = h.revisions;
      assert.ok(second && rollback);
      assert.equal(rollback.rolledBackTo, 2);
      assert.equal(rollback.artifactDigest, second.artifactDigest, 'the exact artifact of revision 2');
      const deployment = await getObject(c, 'apps/v1', 'Deployment', 'web', 'web');
      assert.ok(deployment);
      const annotations = (deployment.spec as { template: { metadata: { annotations: Record<string, string> } } }).template.metadata.annotations;
      assert.equal(annotations['sim.flotilla.dev/fail'], undefined, `${c}: the previous pods are back`);
    }
    const ready = conditionOf(s.conditions, 'Ready');
    assert.ok(ready);
    assert.equal(ready.status, 'False');
    assert.match(ready.reason, /UpgradeFailed|RetriesExceeded/);
  });

  it('flotilla helm rollback returns one cluster to revision 1 and history shows it', async () => {
    const r = await fleet().cli('helm', 'rollback', 'web', '--cluster', 'east', '--to-revision', '1');
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual((await getObject('east', 'v1', 'ConfigMap', 'web-config', 'web'))?.data, { version: '1.0.0' });
    assert.deepEqual((await getObject('west', 'v1', 'ConfigMap', 'web-config', 'web'))?.data, { version: '1.1.0' });
    const h = await fleet().cli('helm', 'history', 'web', '--cluster', 'east');
    assert.equal(h.code, 0, h.stderr);
    assert.match(h.stdout, /5\s+\S+\s+deployed\s+web-1\.0\.0\s+1\.0\s+Rollback to 1/);
    // Held there while the desired state is unchanged.
    await fleet().cli('reconcile', 'helmrelease', 'web');
    assert.deepEqual((await getObject('east', 'v1', 'ConfigMap', 'web-config', 'web'))?.data, { version: '1.0.0' });
    const bad = await fleet().cli('helm', 'rollback', 'web', '--cluster', 'east', '--to-revision', '3');
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /revision 3 is failed/);
  });

  it('a hub killed during an upgrade yields exactly one new revision per cluster', async () => {
    // Good values again (an upgrade at 1.1.0), then 1.2.0 appears in the repository.
    await apply('web', [helmRepository(), webRelease('>=1.1.0 <2.0.0')]);
    assert.equal((await fleet().cli('reconcile', 'helmrelease', 'web')).code, 0);
    state.charts?.publish(state.web, '1.2.0');
    // east's agent is down, so the upgrade to 1.2.0 is still waiting for its report when the hub dies.
    await fleet().agents.get('east')?.stop();
    const reconcile = fleet().cli('reconcile', 'helmrelease', 'web', '--with-source', '--timeout', '4m');
    await waitFor('an upgrade to 1.2.0 in flight on east', async () => {
      const h = (await release()).histories.east;
      return h?.revisions.some((r) => r.chartVersion === '1.2.0' && r.status === 'pending-upgrade') ? true : undefined;
    }, { timeoutMs: 60_000, intervalMs: 200 });
    await fleet().killHub();
    await fleet().startHub();
    await fleet().startAgent('east', { env: 'prod' });
    const r = await reconcile;
    assert.equal(r.code, 0, r.stderr);
    const s = await release();
    for (const c of CLUSTERS) {
      const upgrades = history(s, c).revisions.filter((x) => x.chartVersion === '1.2.0');
      assert.equal(upgrades.length, 1, `${c}: ${summary(history(s, c)).join(' ')}`);
      assert.equal(upgrades[0]?.status, 'deployed');
      assert.deepEqual((await getObject(c, 'v1', 'ConfigMap', 'web-config', 'web'))?.data, { version: '1.2.0' });
    }
  });

  it('a release pruned from a cluster is never called healthy there: explain exits 1 and says why', async () => {
    const onEast = webRelease('>=1.1.0 <2.0.0');
    await apply('web', [helmRepository(), { ...onEast, spec: { ...(onEast.spec as object), placement: { clusters: ['east'] } } }]);
    await waitFor('west: web uninstalled', async () => ((await getObject('west', 'apps/v1', 'Deployment', 'web', 'web')) === undefined ? true : undefined), { timeoutMs: 90_000 });
    const west = await fleet().cli('explain', 'helmrelease/web', '--cluster', 'west');
    assert.equal(west.code, 1, west.stdout);
    assert.doesNotMatch(west.stdout, /healthy/);
    assert.match(west.stdout, /not placed on west|uninstalled from west|no longer in west's desired state/);
    const east = await fleet().cli('explain', 'helmrelease/web', '--cluster', 'east');
    assert.equal(east.code, 0, east.stdout);
  });

  it('uninstalling (deleting the HelmRelease) prunes everything from every cluster', async () => {
    assert.equal((await fleet().cli('delete', 'helmrelease', 'web')).code, 0);
    for (const c of CLUSTERS) {
      await waitFor(`${c}: web pruned`, async () => (await getObject(c, 'apps/v1', 'Deployment', 'web', 'web')) === undefined
        && (await getObject(c, 'v1', 'ConfigMap', 'web-config', 'web')) === undefined ? true : undefined, { timeoutMs: 90_000 });
    }
    const gone = await fleet().cli('explain', 'helmrelease/web', '--cluster', 'east');
    assert.equal(gone.code, 1, 'a deleted release is not up to date anywhere');
    assert.doesNotMatch(gone.stdout, /healthy/);
  });

  it('the real podinfo chart installs with its hook Jobs run in order, and a bad version range keeps it running', async () => {
    const hook = { job: { enabled: true, hookDeletePolicy: 'before-hook-creation' } };
    const podinfo = (version: string): Record<string, unknown> => ({
      apiVersion: 'helm.toolkit.fluxcd.io/v2', kind: 'HelmRelease', metadata: { name: 'podinfo', namespace: 'flux-system' },
      spec: {
        interval: '10m', timeout: '2m', targetNamespace: 'podinfo', releaseName: 'podinfo', install: { createNamespace: true },
        chart: { spec: { chart: 'podinfo', version, sourceRef: { kind: 'HelmRepository', name: 'charts' } } },
        values: { hooks: { preInstall: hook, postInstall: hook } }, placement: { clusters: ['west'] },
      },
    });
    await apply('podinfo', [podinfo('*')]);
    const r = await fleet().cli('reconcile', 'helmrelease', 'podinfo');
    assert.equal(r.code, 0, r.stderr);
    const created = async (kind: string, name: string, apiVersion: string): Promise<number> => {
      const o = await getObject('west', apiVersion, kind, name, 'podinfo');
      assert.ok(o, `${kind}/${name} exists`);
      const stamp = (o.metadata as { creationTimestamp?: string }).creationTimestamp;
      return Date.parse(stamp ?? '');
    };
    const pre = await created('Job', 'podinfo-pre-install', 'batch/v1');
    const deployment = await created('Deployment', 'podinfo', 'apps/v1');
    const post = await created('Job', 'podinfo-post-install', 'batch/v1');
    assert.ok(pre <= deployment && deployment <= post, `pre-install ${pre} <= Deployment ${deployment} <= post-install ${post}`);

    await apply('podinfo', [podinfo('>=99.0.0')]);
    const bad = await fleet().cli('reconcile', 'helmrelease', 'podinfo');
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /NoMatchingVersion|no chart version/);
    assert.ok(await getObject('west', 'apps/v1', 'Deployment', 'podinfo', 'podinfo'), 'the deployed revision keeps running');
  });

  it('values from a Secret never reach a workflow history; bad values and a dead repository are clear conditions', async () => {
    const secret = (values: string): Record<string, unknown> => ({
      apiVersion: 'v1', kind: 'Secret', metadata: { name: 'podinfo-values', namespace: 'flux-system' },
      stringData: { 'values.yaml': values },
    });
    const podinfo = {
      apiVersion: 'helm.toolkit.fluxcd.io/v2', kind: 'HelmRelease', metadata: { name: 'podinfo', namespace: 'flux-system' },
      spec: {
        interval: '10m', timeout: '2m', targetNamespace: 'podinfo', releaseName: 'podinfo', install: { createNamespace: true },
        chart: { spec: { chart: 'podinfo', version: '*', sourceRef: { kind: 'HelmRepository', name: 'charts' } } },
        valuesFrom: [{ kind: 'Secret', name: 'podinfo-values' }], placement: { clusters: ['west'] },
      },
    };
    const token = 's3cr3t-token-5f0e1c';
    await apply('podinfo-secret', [secret(`ui:\n  message: ${token}\n`), podinfo]);
    assert.equal((await fleet().cli('reconcile', 'helmrelease', 'podinfo')).code, 0);
    const deployment = await getObject('west', 'apps/v1', 'Deployment', 'podinfo', 'podinfo');
    assert.match(JSON.stringify(deployment), new RegExp(token), 'the value reached the cluster');
    const history = await fleet().client.workflow.getHandle('helmrelease/flux-system/podinfo').fetchHistory();
    assert.doesNotMatch(JSON.stringify(history, (_k, v: unknown) => (v instanceof Uint8Array ? Buffer.from(v).toString('utf8') : v)), new RegExp(token));

    await apply('podinfo-secret', [secret('ui: [not closed\n'), podinfo]);
    const bad = await fleet().cli('reconcile', 'helmrelease', 'podinfo');
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /ValuesError.*podinfo-values.*values\.yaml.*not YAML/);
    assert.ok(await getObject('west', 'apps/v1', 'Deployment', 'podinfo', 'podinfo'), 'the deployed revision keeps running');

    await apply('dead-repo', [{ ...helmRepository(), metadata: { name: 'dead', namespace: 'flux-system' }, spec: { url: 'http://127.0.0.1:1', interval: '10m' } }]);
    const dead = await fleet().cli('reconcile', 'source', 'helm', 'dead');
    assert.equal(dead.code, 1);
    const s = await fleet().status('helmrepository/flux-system/dead');
    assert.equal(conditionOf(s.status.conditions, 'Ready')?.reason, 'IndexationFailed');
    assert.match(conditionOf(s.status.conditions, 'Ready')?.message ?? '', /127\.0\.0\.1:1/);
  });

  it('with spec.rollout, east (the canary wave) upgrades first; a failing upgrade there is rolled back and west is never touched', async () => {
    const ID = 'helmrelease/flux-system/staged';
    const rollout = { waves: [{ name: 'canary', clusters: ['east'], bakeTime: '2s', healthTimeout: '10s' }, { name: 'rest' }] };
    const staged = (version: string, values: Record<string, unknown> = {}): Record<string, unknown> => {
      const base = webRelease(version, values) as { spec: Record<string, unknown> };
      return { ...base, metadata: { name: 'staged', namespace: 'flux-system' }, spec: { ...base.spec, targetNamespace: 'staged', releaseName: 'staged', timeout: '10s', rollout } };
    };
    const rolloutOf = async (): Promise<RolloutStatus> => {
      const r = await fleet().declarations.rolloutStatus(ID);
      assert.ok(r, 'a rollout exists');
      return r;
    };
    await apply('staged', [helmRepository(), staged('1.0.0')]);
    assert.equal((await fleet().cli('reconcile', 'helmrelease', 'staged')).code, 0);
    assert.equal((await rolloutOf()).phase, 'Succeeded');

    await apply('staged', [helmRepository(), staged('1.1.0')]);
    const up = await fleet().cli('reconcile', 'helmrelease', 'staged');
    assert.equal(up.code, 0, up.stderr);
    const good = await rolloutOf();
    assert.equal(good.phase, 'Succeeded');
    assert.equal(good.revision, 'web@1.1.0');
    const [canary, rest] = good.waves;
    assert.ok(canary?.bakeUntil !== undefined && rest?.startedAt !== undefined && rest.startedAt >= canary.bakeUntil, 'west waited for the canary bake');
    for (const c of CLUSTERS) assert.deepEqual(summary(history(await release(ID), c)), ['1:install:1.0.0:superseded', '2:upgrade:1.1.0:deployed'], c);

    await apply('staged', [helmRepository(), staged('1.1.0', { podAnnotations: { 'sim.flotilla.dev/fail': 'ErrImagePull' } })]);
    const bad = await fleet().cli('reconcile', 'helmrelease', 'staged');
    assert.equal(bad.code, 1, 'the failed rollout is reported');
    const failed = await rolloutOf();
    assert.equal(failed.phase, 'RolledBack');
    assert.equal(failed.waves[1]?.phase, 'Skipped');
    const s = await release(ID);
    assert.deepEqual(summary(history(s, 'east')), ['1:install:1.0.0:superseded', '2:upgrade:1.1.0:superseded', '3:upgrade:1.1.0:failed', '4:rollback:1.1.0:deployed']);
    assert.deepEqual(summary(history(s, 'west')), ['1:install:1.0.0:superseded', '2:upgrade:1.1.0:deployed'], 'west never saw the bad values');
    assert.equal(conditionOf(s.conditions, 'Ready')?.reason, 'RolloutFailed');
    for (const c of CLUSTERS) {
      const deployment = await getObject(c, 'apps/v1', 'Deployment', 'staged', 'staged');
      const annotations = (deployment?.spec as { template: { metadata: { annotations?: Record<string, string> } } } | undefined)?.template.metadata.annotations ?? {};
      assert.equal(annotations['sim.flotilla.dev/fail'], undefined, `${c} runs the good pods`);
    }
  });

  it('the Helm actors\' histories replay deterministically on the current code', async () => {
    await replayLive(fleet().client, ['helmrepository/flux-system/charts', 'helmrelease/flux-system/podinfo', WEB_ID, 'helmrelease/flux-system/staged']);
  });
});
