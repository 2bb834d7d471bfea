// An existing Flux fleet repository, unchanged (issue #11): clusters/<env>/flux-system as
// `flux bootstrap` commits it (gotk-components.yaml, gotk-sync.yaml), infrastructure
// Kustomizations with dependsOn, a HelmRepository and a HelmRelease of podinfo with values
// patched per environment, a plain app, and a SOPS decryption field Flotilla does not act on.
// `flotilla bootstrap --cluster <env>` once per cluster, then everything follows from git:
// each cluster gets its own scoped declarations, its own values, none of Flux's controllers,
// and a commit removing podinfo from one overlay prunes it from that cluster only.
// Real parts only: a bare git repository, a chart repository over loopback HTTP, the hub and
// one agent per real cluster as processes, Temporal, and the `flotilla` CLI.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import type { HelmReleaseStatus } from '../../api/helm-release.js';
import type { KustomizationStatus } from '../../api/kustomization.js';
import { ClusterClient } from '../../agents/apply/cluster-client.js';
import { conditionOf, isReady } from '../../core/conditions.js';
import type { KubeObject } from '../../core/objects.js';
import { repoRoot } from '../../deploy/dev/binaries.js';
import { waitFor } from '../../deploy/dev/processes.js';
import type { HistoryEntry } from '../../hub/history.js';
import { ChartRepo } from '../harness/chart-repo.js';
import { useFleet } from '../harness/fleet.js';
import { FLUX_ENVIRONMENTS, PODINFO_VALUES, removeFromOverlay, writeFluxFleet, type FluxEnvironment } from '../harness/flux-fleet.js';
import { BareRepo, type GitRepo } from '../harness/git.js';
import { replayLive } from '../harness/replay.js';

const ENVS = FLUX_ENVIRONMENTS;
const { env, fleet, dir } = useFleet({ staging: { env: 'staging' }, production: { env: 'production' } }, 'flotilla-flux-repo-');
const podinfoChart = join(repoRoot, '..', 'shared', 'fixtures', 'podinfo', 'charts', 'podinfo');

const state: { charts?: ChartRepo; bare?: BareRepo; work?: GitRepo } = {};
before(async () => {
  state.charts = await ChartRepo.start();
  state.charts.publish(podinfoChart);
});
after(async () => {
  await state.charts?.stop();
});

function charts(): ChartRepo {
  if (!state.charts) throw new Error('chart repository not started');
  return state.charts;
}

function bare(): BareRepo {
  state.bare ??= new BareRepo(join(dir(), 'fleet.git'));
  return state.bare;
}

/** The working clone a person edits the fleet in. */
function work(): GitRepo {
  state.work ??= bare().clone(join(dir(), 'fleet-work'));
  return state.work;
}

const ks = (e: FluxEnvironment, name: string): string => `kustomization/flux-system@${e}/${name}`;
const podinfoRelease = (e: FluxEnvironment): string => `helmrelease/podinfo@${e}/podinfo`;

function kube(cluster: string): ClusterClient {
  return new ClusterClient(env().cluster(cluster).kubeConfig());
}

async function getObject(cluster: string, apiVersion: string, kind: string, name: string, namespace?: string): Promise<KubeObject | undefined> {
  return kube(cluster).get({ apiVersion, kind, metadata: { name, ...(namespace !== undefined ? { namespace } : {}) } });
}

async function release(id: string): Promise<HelmReleaseStatus> {
  const s = await fleet().status(id);
  if (s.kind !== 'HelmRelease') throw new Error(`${id} is a ${s.kind}, not a HelmRelease`);
  return s.status;
}

/** What a Kustomization is waiting for, for failure messages. */
async function describeKustomization(id: string): Promise<string> {
  const s = await fleet().kustomization(id).catch((err: unknown) => (err instanceof Error ? err.message : String(err)));
  if (typeof s === 'string') return `${id}: ${s}`;
  const ready = conditionOf(s.conditions, 'Ready');
  return `${id}: Ready=${ready?.status ?? '-'} ${ready?.reason ?? ''}: ${ready?.message ?? ''} (placed: ${s.placed.join(',')}; declarations: ${s.declarations.join(', ')})`;
}

async function waitForReady(id: string, timeoutMs = 180_000): Promise<KustomizationStatus> {
  try {
    return await fleet().waitForKustomization(id, (s) => isReady(s.conditions), 'Ready', timeoutMs);
  } catch (err) {
    const e = scopeOf(id);
    const all = await Promise.all(['flux-system', 'infra-controllers', 'infra-configs', 'apps'].map((n) => describeKustomization(`kustomization/flux-system@${e}/${n}`)));
    throw new Error(`${err instanceof Error ? err.message : String(err)}\n${all.join('\n')}`, { cause: err });
  }
}

/** `kustomization/flux-system@staging/apps` → staging. */
function scopeOf(id: string): string {
  return id.split('/')[1]?.split('@')[1] ?? '';
}

/** The podinfo Deployment's replicas and PODINFO_UI_MESSAGE on one cluster. */
async function podinfoOn(cluster: string): Promise<{ replicas: number; message: string } | undefined> {
  const d = await getObject(cluster, 'apps/v1', 'Deployment', 'podinfo', 'podinfo');
  if (!d) return undefined;
  const spec = d.spec as { replicas?: number; template: { spec: { containers: { env?: { name: string; value?: string }[] }[] } } };
  const message = spec.template.spec.containers.flatMap((c) => c.env ?? []).find((v) => v.name === 'PODINFO_UI_MESSAGE')?.value ?? '';
  return { replicas: spec.replicas ?? 1, message };
}

async function timeline(id: string): Promise<HistoryEntry[]> {
  const r = await fleet().cli('history', id, '-o', 'json');
  assert.equal(r.code, 0, r.stderr);
  return (JSON.parse(r.stdout) as { entries: HistoryEntry[] }).entries;
}

describe('an existing Flux fleet repository works unchanged', () => {
  it('flotilla bootstrap --cluster reconciles clusters/<env> for each cluster', async () => {
    writeFluxFleet(work().dir, { gitUrl: bare().url, helmRepositoryUrl: charts().url });
    work().commit('flux bootstrap staging and production; infrastructure and apps');
    work().push('main');
    for (const e of ENVS) {
      const r = await fleet().cli('bootstrap', '--url', bare().url, '--branch', 'main', '--path', `clusters/${e}`, '--cluster', e, '--timeout', '5m');
      assert.equal(r.code, 0, `bootstrap ${e}: ${r.stdout}\n${r.stderr}`);
      assert.match(r.stdout, new RegExp(`GitRepository/flux-system@${e}/flux-system (created|configured|unchanged)`));
      assert.match(r.stdout, /notice: .*gotk-components/);
      assert.match(r.stdout, new RegExp(`^see them with: flotilla get all --scope ${e}$`, 'm'), 'the hint lists the whole scope');
    }
  });

  it('each cluster\'s Kustomizations become Ready in dependsOn order', async () => {
    for (const e of ENVS) await waitForReady(ks(e, 'apps'));
    for (const e of ENVS) {
      // When each first became Ready (its first Applied, healthy, in its history): Ready's
      // lastTransitionTime moves on every later reconcile (Ready=Unknown while reconciling, as
      // in Flux), so it cannot tell the order in which they first became Ready.
      const readyAt = async (name: string): Promise<number> => {
        const ready = conditionOf((await fleet().kustomization(ks(e, name))).conditions, 'Ready');
        assert.equal(ready?.status, 'True', `${e}/${name} Ready`);
        const applied = (await timeline(ks(e, name))).find((x) => x.type === 'Applied');
        assert.ok(applied, `${e}/${name} has an Applied entry`);
        return applied.at;
      };
      const controllers = await readyAt('infra-controllers');
      const configs = await readyAt('infra-configs');
      const apps = await readyAt('apps');
      assert.ok(controllers <= configs && configs <= apps, `${e}: infra-controllers ${controllers} <= infra-configs ${configs} <= apps ${apps}`);
    }

    // The history says why apps waited: infra-configs was not ready, then was, then apps applied.
    const entries = await timeline(ks('staging', 'apps'));
    const configsId = ks('staging', 'infra-configs');
    const firstIndex = (p: (x: HistoryEntry) => boolean): number => entries.findIndex(p);
    const notReady = firstIndex((x) => x.type === 'DependencyNotReady' && x.message.includes(configsId));
    const ready = firstIndex((x) => x.type === 'DependencyReady' && x.message.includes(configsId));
    const applied = firstIndex((x) => x.type === 'Applied');
    const summary = entries.map((x) => `${x.type}: ${x.message}`).join('\n');
    assert.ok(notReady >= 0 && ready > notReady && applied > ready, `DependencyNotReady, then DependencyReady, then Applied:\n${summary}`);
  });

  it('each cluster runs podinfo from the HelmRelease with its own values', async () => {
    for (const e of ENVS) {
      const want = PODINFO_VALUES[e];
      await waitFor(`${e}: podinfo released`, async () => {
        const s = await release(podinfoRelease(e)).catch(() => undefined);
        return s && isReady(s.conditions) ? s : undefined;
      }, { timeoutMs: 180_000, intervalMs: 500 }).catch(async (err: unknown) => {
        const s = await release(podinfoRelease(e)).catch(() => undefined);
        throw new Error(`${String(err)}\n${podinfoRelease(e)}: ${JSON.stringify(s ? conditionOf(s.conditions, 'Ready') : 'not found')}\n${await describeKustomization(ks(e, 'apps'))}`, { cause: err });
      });
      const s = await release(podinfoRelease(e));
      assert.deepEqual(s.placed, [e]);
      assert.deepEqual(await podinfoOn(e), { replicas: want.replicaCount, message: want.message }, e);
    }
    const repository = await fleet().status('helmrepository/flux-system@staging/podinfo');
    assert.equal(repository.kind, 'HelmRepository');
    assert.ok(isReady(repository.status.conditions), 'the HelmRepository from infrastructure/controllers is Ready');
  });

  it('plain objects reach both clusters; Flux\'s controllers and CRDs reach neither', async () => {
    for (const e of ENVS) {
      assert.ok(await getObject(e, 'v1', 'Namespace', 'infra'), `${e}: Namespace infra`);
      assert.ok(await getObject(e, 'v1', 'ConfigMap', 'infra-info', 'infra'), `${e}: ConfigMap infra-info`);
      assert.deepEqual((await getObject(e, 'v1', 'ConfigMap', 'cluster-settings', 'infra'))?.data, { region: 'eu-west-1', logLevel: 'info' }, e);
      assert.deepEqual((await getObject(e, 'v1', 'ConfigMap', 'hello', 'hello'))?.data, { greeting: 'hello from git' }, e);
      assert.ok(await getObject(e, 'apps/v1', 'Deployment', 'hello', 'hello'), `${e}: Deployment hello`);
      assert.ok(await getObject(e, 'v1', 'Namespace', 'flux-system'), `${e}: Namespace flux-system (other objects may live in it)`);
      assert.equal(await getObject(e, 'apiextensions.k8s.io/v1', 'CustomResourceDefinition', 'gitrepositories.source.toolkit.fluxcd.io'), undefined, `${e}: no Flux CRD`);
      assert.equal(await getObject(e, 'apiextensions.k8s.io/v1', 'CustomResourceDefinition', 'kustomizations.kustomize.toolkit.fluxcd.io'), undefined, `${e}: no Flux CRD`);
      assert.equal(await getObject(e, 'apps/v1', 'Deployment', 'source-controller', 'flux-system'), undefined, `${e}: no source-controller`);
      assert.equal(await getObject(e, 'rbac.authorization.k8s.io/v1', 'ClusterRole', 'crd-controller-flux-system'), undefined, `${e}: no Flux ClusterRole`);
    }
  });

  it('the declarations are scoped per cluster, say what was skipped and what is not acted on', async () => {
    for (const e of ENVS) {
      const apps = await fleet().status(ks(e, 'apps'));
      assert.equal(apps.kind, 'Kustomization');
      assert.equal(apps.declaration.kind, 'Kustomization');
      assert.deepEqual(apps.declaration.spec.placement.clusters, [e], `${e}: apps is placed on its own cluster`);
      assert.match(apps.declaration.spec.path, new RegExp(`^(\\./)?apps/${e}$`), 'spec.path as written in clusters/<env>/apps.yaml');
      assert.deepEqual(apps.status.placed, [e]);
      assert.ok(apps.status.declarations.includes(podinfoRelease(e)), `${e}: apps adopted ${podinfoRelease(e)}: ${apps.status.declarations.join(', ')}`);
      assert.ok((apps.status.unsupported ?? []).some((u) => u.startsWith('spec.decryption')), `${e}: unsupported lists spec.decryption: ${JSON.stringify(apps.status.unsupported)}`);

      const root = await fleet().kustomization(ks(e, 'flux-system'));
      assert.ok((root.lastBuild?.notices ?? []).some((n) => n.includes('gotk-components')), `${e}: notices ${JSON.stringify(root.lastBuild?.notices)}`);
      assert.deepEqual([...root.declarations].sort(), [ks(e, 'apps'), ks(e, 'infra-configs'), ks(e, 'infra-controllers')]);
    }
    const kustomizations = await fleet().declarations.list('Kustomization');
    for (const e of ENVS) {
      for (const name of ['flux-system', 'infra-controllers', 'infra-configs', 'apps']) assert.ok(kustomizations.includes(ks(e, name)), `${ks(e, name)} exists`);
    }
    assert.deepEqual(kustomizations.filter((id) => id.startsWith('kustomization/flux-system/')), [], 'nothing unscoped');

    // `-n flux-system` lists every scope's flux-system, with the namespace that tells them apart, and says what is not acted on.
    const get = await fleet().cli('get', 'ks', '-n', 'flux-system');
    assert.equal(get.code, 0, get.stderr);
    for (const e of ENVS) {
      assert.match(get.stdout, new RegExp(`^flux-system@${e}\\s+apps\\s`, 'm'), get.stdout);
      assert.match(get.stderr, new RegExp(`^warning: Kustomization/flux-system@${e}/apps: spec\\.decryption: `, 'm'), get.stderr);
    }
    const one = await fleet().cli('get', 'ks', '-n', 'flux-system@staging');
    assert.doesNotMatch(one.stdout, /production/);
    assert.match(one.stdout, /^NAME\s/m, 'one scope: no namespace column');
  });

  it('scoped output: get all, events, --scope and not-found hints tell the clusters\' objects apart', async () => {
    // get all (no -A): both scopes' flux-system, each row named with its scope.
    const all = await fleet().cli('get', 'all');
    assert.equal(all.code, 0, all.stderr);
    const kustomizations = all.stdout.split(/\n\n/).find((s) => s.startsWith('KUSTOMIZATIONS')) ?? '';
    for (const e of ENVS) {
      for (const name of ['flux-system', 'infra-controllers', 'infra-configs', 'apps']) {
        assert.match(kustomizations, new RegExp(`^\\s+flux-system@${e}/${name}\\s`, 'm'), `get all names ${e}'s ${name} with its scope:\n${all.stdout}`);
      }
      assert.match(all.stdout, new RegExp(`^\\s+gitrepository/flux-system@${e}/flux-system\\s`, 'm'), all.stdout);
    }
    assert.doesNotMatch(kustomizations, /^\s+apps\s/m, 'no row named apps alone');
    // Their HelmReleases are in podinfo@<env>, outside -n flux-system: said on stderr.
    assert.match(all.stderr, /^note: scopes production, staging also have podinfo@production, podinfo@staging: --scope <name> lists every namespace of one$/m, all.stderr);

    // events: a NAMESPACE column with the scope; every row of a scoped object names its cluster.
    const ev = await fleet().cli('events', '--since', '1h');
    assert.equal(ev.code, 0, ev.stderr);
    assert.match(ev.stdout, /^TIME\s+NAMESPACE\s+OBJECT\s+CLUSTER\s+EVENT\s/m, ev.stdout);
    const rows = ev.stdout.split('\n').filter((l) => /^\d{4}-\d\d-\d\d /.test(l)).map((l) => l.split(/\s+/));
    for (const e of ENVS) {
      const apps = rows.filter(([, , ns, object]) => ns === `flux-system@${e}` && object === 'kustomization/apps');
      assert.ok(apps.length > 0, `events of ${e}'s apps:\n${ev.stdout}`);
    }
    // DependencyNotReady is about no cluster in particular: the scope's cluster is shown all the same.
    assert.ok(rows.some(([, , ns, object, cluster, type]) => ns === 'flux-system@staging' && object === 'kustomization/apps' && type === 'DependencyNotReady' && cluster === 'staging'),
      `staging's apps waited for infra-configs, on staging:\n${ev.stdout}`);
    const scopedRows = rows.filter(([, , ns]) => ns?.includes('@'));
    assert.ok(scopedRows.length > 0);
    for (const [, , ns = '', object, cluster] of scopedRows) assert.equal(cluster, ns.split('@')[1], `${ns} ${object ?? ''}: cluster ${cluster ?? ''}`);
    const json = JSON.parse((await fleet().cli('events', '--for', 'kustomization/flux-system@staging/apps', '-o', 'json')).stdout) as { object: string; scope?: string; scopeClusters?: string[] }[];
    assert.ok(json.length > 0 && json.every((x) => x.object === ks('staging', 'apps') && x.scope === 'staging' && x.scopeClusters?.join() === 'staging'), JSON.stringify(json[0]));

    // --scope staging: every namespace of the scope, the HelmReleases in podinfo@staging included.
    const helmReleases = (await fleet().declarations.list('HelmRelease')).filter((id) => scopeOf(id) === 'staging');
    assert.ok(helmReleases.includes(podinfoRelease('staging')), helmReleases.join(', '));
    const scoped = await fleet().cli('get', 'all', '--scope', 'staging');
    assert.equal(scoped.code, 0, scoped.stderr);
    const releasesSection = scoped.stdout.split(/\n\n/).find((s) => s.startsWith('HELMRELEASES')) ?? '';
    for (const id of helmReleases) {
      assert.match(releasesSection, new RegExp(`^\\s+${id.split('/').slice(1).join('/')}\\s`, 'm'), `get all --scope staging lists ${id}:\n${scoped.stdout}`);
    }
    assert.match(scoped.stdout, /^\s+flux-system@staging\/apps\s/m);
    assert.doesNotMatch(scoped.stdout, /@production/, 'nothing of production');
    const hr = await fleet().cli('get', 'hr', '--scope', 'staging');
    assert.match(hr.stdout, /^podinfo@staging\s+podinfo\s/m, hr.stdout);
    // One namespace of the scope says what else the scope has.
    const one = await fleet().cli('get', 'all', '-n', 'flux-system@staging');
    assert.equal(one.code, 0, one.stderr);
    assert.match(one.stderr, /note: scope staging also has podinfo@staging: --scope staging lists every namespace of it/, one.stderr);

    // An unscoped name: not found, and the scoped ones named (the cluster's own first).
    const explain = await fleet().cli('explain', 'kustomization/apps', '--cluster', 'staging');
    assert.equal(explain.code, 1);
    assert.match(explain.stderr, /no kustomization flux-system\/apps; did you mean flux-system@staging\/apps or flux-system@production\/apps\? .*--scope staging/, explain.stderr);
    const history = await fleet().cli('history', 'hr/podinfo', '-n', 'podinfo');
    assert.equal(history.code, 1);
    assert.match(history.stderr, /no helmrelease podinfo\/podinfo; did you mean podinfo@production\/podinfo or podinfo@staging\/podinfo\?/, history.stderr);
    // --scope names it.
    const explained = await fleet().cli('explain', 'kustomization/apps', '--cluster', 'staging', '--scope', 'staging', '-o', 'json');
    assert.doesNotMatch(explained.stderr, /not found|did you mean/, explained.stderr);
    assert.equal((JSON.parse(explained.stdout) as { id: string }).id, ks('staging', 'apps'));
    const conflict = await fleet().cli('get', 'ks', '-n', 'flux-system@production', '--scope', 'staging');
    assert.equal(conflict.code, 2, 'a -n of another scope is refused');
  });

  it('a commit removing podinfo from production\'s overlay prunes it from production only', async () => {
    removeFromOverlay(work().dir, 'production', '../base/podinfo');
    const commit = work().commit('production: drop podinfo');
    work().push('main');
    const r = await fleet().cli('reconcile', 'ks', 'flux-system', '-n', 'flux-system@production', '--with-source', '--timeout', '3m');
    assert.equal(r.code, 0, r.stdout + r.stderr);
    await fleet().waitForReadyAt(ks('production', 'apps'), `main@sha1:${commit}`, 180_000)
      .catch(async (err: unknown) => { throw new Error(`${String(err)}\n${await describeKustomization(ks('production', 'apps'))}`, { cause: err }); });

    await waitFor('the production HelmRelease declaration deleted', async () => {
      const releases = await fleet().declarations.list('HelmRelease');
      return releases.includes(podinfoRelease('production')) ? undefined : releases;
    }, { timeoutMs: 90_000, intervalMs: 500 });
    await waitFor('podinfo pruned from production', async () => (
      (await getObject('production', 'apps/v1', 'Deployment', 'podinfo', 'podinfo')) === undefined
      && (await getObject('production', 'v1', 'Namespace', 'podinfo')) === undefined ? true : undefined
    ), { timeoutMs: 120_000, intervalMs: 500 });
    const apps = await fleet().kustomization(ks('production', 'apps'));
    assert.ok(!apps.declarations.includes(podinfoRelease('production')), apps.declarations.join(', '));
    assert.ok(await getObject('production', 'apps/v1', 'Deployment', 'hello', 'hello'), 'hello stays on production');

    // Staging is untouched.
    assert.ok((await fleet().declarations.list('HelmRelease')).includes(podinfoRelease('staging')));
    assert.deepEqual(await podinfoOn('staging'), { replicas: PODINFO_VALUES.staging.replicaCount, message: PODINFO_VALUES.staging.message });
    assert.ok(isReady((await release(podinfoRelease('staging'))).conditions), 'staging\'s podinfo stays Ready');
  });

  it('a build declaring its own owner (a cycle) or another Kustomization\'s object is refused: reported, and nothing else breaks', async () => {
    const kustomization = (name: string, path: string): Record<string, unknown> => ({
      apiVersion: 'kustomize.toolkit.fluxcd.io/v1', kind: 'Kustomization', metadata: { name, namespace: 'flux-system' },
      spec: { interval: '10m', path, prune: true, sourceRef: { kind: 'GitRepository', name: 'flux-system' } },
    });
    // loop builds clusters/staging again, which declares flux-system, loop's owner; dup builds what infra-controllers builds.
    work().writeObjects('clusters/staging/loop.yaml', [kustomization('loop', './clusters/staging')]);
    work().writeObjects('clusters/staging/dup.yaml', [kustomization('dup', './infrastructure/controllers')]);
    const commit = work().commit('staging: a Kustomization that builds its own parent, another that repeats infra-controllers');
    work().push('main');
    const r = await fleet().cli('reconcile', 'ks', 'flux-system', '-n', 'flux-system@staging', '--with-source', '--timeout', '3m');
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const loop = await fleet().waitForKustomization(ks('staging', 'loop'), (s) => conditionOf(s.conditions, 'Stalled')?.status === 'True', 'stalled on the cycle', 120_000);
    const stalled = conditionOf(loop.conditions, 'Ready');
    assert.equal(stalled?.reason, 'BuildFailed');
    assert.match(stalled.message, new RegExp(`declaration cycle: ${ks('staging', 'flux-system')} → ${ks('staging', 'loop')} → ${ks('staging', 'flux-system')}`));
    assert.equal(loop.lastAppliedRevision, '', 'nothing of the cycle was applied');
    const dup = await fleet().waitForKustomization(ks('staging', 'dup'), (s) => conditionOf(s.conditions, 'Stalled')?.status === 'True', 'stalled on the conflict', 120_000);
    assert.match(conditionOf(dup.conditions, 'Ready')?.message ?? '',
      new RegExp(`helmrepository/flux-system@staging/podinfo is already declared by ${ks('staging', 'infra-controllers')}`));
    assert.equal(dup.lastAppliedRevision, '', 'nothing of the conflicting build was applied');
    const repository = await fleet().status('helmrepository/flux-system@staging/podinfo');
    assert.equal(repository.declaration.annotations['flotilla.dev/owned-by'], `${ks('staging', 'flux-system')},${ks('staging', 'infra-controllers')}`);
    // Its siblings kept their owner and their state.
    const root = await fleet().kustomization(ks('staging', 'flux-system'));
    assert.equal(root.lastAppliedRevision, `main@sha1:${commit}`);
    assert.ok(isReady((await fleet().kustomization(ks('staging', 'apps'))).conditions), 'apps stays Ready');
    const apps = await fleet().status(ks('staging', 'apps'));
    assert.equal(apps.declaration.annotations['flotilla.dev/owned-by'], ks('staging', 'flux-system'), 'apps is still owned by flux-system');

    // Removing the file removes the Kustomization (pruned by its owner).
    work().remove('clusters/staging/loop.yaml').remove('clusters/staging/dup.yaml');
    work().commit('staging: drop the loop and the duplicate');
    work().push('main');
    assert.equal((await fleet().cli('reconcile', 'ks', 'flux-system', '-n', 'flux-system@staging', '--with-source', '--timeout', '3m')).code, 0);
    await waitFor('loop and dup deleted', async () => {
      const left = await fleet().declarations.list('Kustomization');
      return left.includes(ks('staging', 'loop')) || left.includes(ks('staging', 'dup')) ? undefined : true;
    }, { timeoutMs: 60_000, intervalMs: 500 });
    assert.ok(await getObject('staging', 'v1', 'ConfigMap', 'infra-info', 'infra'), 'infra-controllers\' objects stay');
  });

  it('the scoped actors\' histories replay deterministically on the current code', async () => {
    await replayLive(fleet().client, [ks('staging', 'flux-system'), ks('production', 'apps'), podinfoRelease('staging')]);
  });
});
