// Flux's core loop across a fleet, end to end with real parts: git repositories on disk, the
// hub process (`flotilla-hub serve`) on a real Temporal server, an agent process per real
// cluster, and the `flotilla` CLI as the trigger. Every reconcile is started with
// `flotilla reconcile ... --with-source`, so nothing depends on interval timing.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { clusterStatusQuery, clusterWorkflowId } from '../../api/cluster.js';
import { GIT_REPOSITORY_WORKFLOW_TYPE, gitRepositoryStatusQuery, type GitRepositoryWorkflow } from '../../api/git-repository.js';
import { KUSTOMIZATION_WORKFLOW_TYPE, type KustomizationWorkflow } from '../../api/kustomization.js';
import { ClusterClient } from '../../agents/apply/cluster-client.js';
import type { KubeObject } from '../../core/objects.js';
import { parseDeclarationObject } from '../../core/declarations/parse.js';
import { conditionOf, isReady } from '../../core/conditions.js';
import { repoRoot } from '../../deploy/dev/binaries.js';
import { waitFor } from '../../deploy/dev/processes.js';
import { TASK_QUEUE, useFleet } from '../harness/fleet.js';
import { replayLive } from '../harness/replay.js';
import { configMap, GitRepo } from '../harness/git.js';

const CLUSTERS: Record<string, Record<string, string>> = { dev: { env: 'dev' }, 'prod-eu': { env: 'prod' }, 'prod-us': { env: 'prod' } };
const PROD = ['prod-eu', 'prod-us'];
const podinfoFixture = join(repoRoot, '..', 'shared', 'fixtures', 'podinfo', 'kustomize');

const { env, fleet, dir } = useFleet(CLUSTERS, 'flotilla-gitops-');

function kube(cluster: string): ClusterClient {
  return new ClusterClient(env().cluster(cluster).kubeConfig());
}

async function getObject(cluster: string, apiVersion: string, kind: string, name: string, namespace: string): Promise<KubeObject | undefined> {
  return kube(cluster).get({ apiVersion, kind, metadata: { name, namespace } });
}

async function configMapNames(cluster: string, namespace: string): Promise<string[]> {
  const list = await kube(cluster).list('v1', 'ConfigMap', { namespace, labelSelector: 'app.kubernetes.io/managed-by=flotilla' });
  return list.map((o) => o.metadata.name).sort();
}

/** Writes declarations to a file and applies them with the CLI. */
async function applyDeclarations(name: string, objects: readonly unknown[]): Promise<string> {
  const file = join(dir(), `${name}.yaml`);
  writeFileSync(file, objects.map((o) => stringify(o)).join('---\n'));
  const r = await fleet().cli('apply', '-f', file);
  assert.equal(r.code, 0, `flotilla apply failed: ${r.stderr}`);
  return r.stdout;
}

const gitRepository = (name: string, url: string, ref: Record<string, string> = { branch: 'main' }): Record<string, unknown> => ({
  apiVersion: 'source.toolkit.fluxcd.io/v1', kind: 'GitRepository', metadata: { name, namespace: 'flux-system' },
  spec: { url, interval: '10m', ref },
});

const kustomization = (name: string, spec: Record<string, unknown>): Record<string, unknown> => ({
  apiVersion: 'kustomize.toolkit.fluxcd.io/v1', kind: 'Kustomization', metadata: { name, namespace: 'flux-system' },
  spec: { interval: '10m', prune: true, sourceRef: { kind: 'GitRepository', name: 'fleet' }, ...spec },
});

const fleetRepo: { repo?: GitRepo } = {};
function repo(): GitRepo {
  if (!fleetRepo.repo) {
    fleetRepo.repo = new GitRepo(join(dir(), 'fleet'));
  }
  return fleetRepo.repo;
}

describe('GitRepository and Kustomization actors across the fleet', () => {
  let firstCommit = '';
  let secondCommit = '';

  it('a commit reaches the two placed clusters and not the third; applying again changes nothing', async () => {
    repo().writeObjects('web/namespace.yaml', [{ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'web' } }])
      .writeObjects('web/config.yaml', [configMap('web-a', 'web', { v: '1' }), configMap('web-b', 'web', { v: '1' })])
      .write('web/README.md', 'not a manifest\n');
    firstCommit = repo().commit('web v1');
    const decls = [
      gitRepository('fleet', repo().url),
      kustomization('web', { path: './web', placement: { clusterSelector: { matchLabels: { env: 'prod' } } } }),
    ];
    const out = await applyDeclarations('web', decls);
    assert.match(out, /GitRepository\/flux-system\/fleet created/);
    assert.match(out, /Kustomization\/flux-system\/web created/);

    const r = await fleet().cli('reconcile', 'kustomization', 'web', '--with-source');
    assert.equal(r.code, 0, r.stderr);
    const s = await fleet().waitForReadyAt('kustomization/flux-system/web', `main@sha1:${firstCommit}`);
    assert.deepEqual(s.placed, PROD);
    assert.equal(s.lastAttemptedRevision, `main@sha1:${firstCommit}`);
    assert.equal(s.lastBuild?.objectCount, 3);
    for (const c of PROD) assert.deepEqual(await configMapNames(c, 'web'), ['web-a', 'web-b'], c);
    assert.deepEqual(await kube('dev').list('v1', 'Namespace', { labelSelector: 'app.kubernetes.io/managed-by=flotilla' }).then((l) => l.map((o) => o.metadata.name)).then((n) => n.filter((x) => x === 'web')), []);

    const again = await applyDeclarations('web', decls);
    assert.match(again, /GitRepository\/flux-system\/fleet unchanged/);
    assert.match(again, /Kustomization\/flux-system\/web unchanged/);

    const get = await fleet().cli('get', 'kustomizations', '-A');
    assert.equal(get.code, 0, get.stderr);
    assert.match(get.stdout, /flux-system\s+web\s+main@sha1:[0-9a-f]{40}\s+false\s+2\/2\s+True/);
  });

  it('a second commit removing a manifest prunes it from every placed cluster', async () => {
    repo().writeObjects('web/config.yaml', [configMap('web-a', 'web', { v: '2' })]);
    secondCommit = repo().commit('web v2: drop web-b');
    const r = await fleet().cli('reconcile', 'kustomization', 'web', '--with-source');
    assert.equal(r.code, 0, r.stderr);
    const s = await fleet().waitForReadyAt('kustomization/flux-system/web', `main@sha1:${secondCommit}`);
    for (const c of s.clusters) assert.equal(c.counts.pruned, 1, `${c.cluster} pruned count`);
    for (const c of PROD) {
      assert.deepEqual(await configMapNames(c, 'web'), ['web-a'], c);
      const cm = await getObject(c, 'v1', 'ConfigMap', 'web-a', 'web');
      assert.deepEqual(cm?.data, { v: '2' });
    }
  });

  it('a broken kustomization stalls with kustomize\'s message while the last good revision stays applied', async () => {
    repo().write('web/kustomization.yaml', stringify({ apiVersion: 'kustomize.config.k8s.io/v1beta1', kind: 'Kustomization', resources: ['namespace.yaml', 'config.yaml', 'missing.yaml'] }));
    const broken = repo().commit('web v3: broken kustomization');
    const r = await fleet().cli('reconcile', 'kustomization', 'web', '--with-source');
    assert.equal(r.code, 1, 'reconcile of a broken build exits 1');
    assert.match(r.stderr, /BuildFailed/);
    const s = await fleet().kustomization('kustomization/flux-system/web');
    assert.equal(conditionOf(s.conditions, 'Stalled')?.status, 'True');
    assert.match(conditionOf(s.conditions, 'Ready')?.message ?? '', /missing\.yaml/);
    assert.equal(s.lastAttemptedRevision, `main@sha1:${broken}`);
    assert.equal(s.lastAppliedRevision, `main@sha1:${secondCommit}`);
    for (const c of PROD) assert.deepEqual(await configMapNames(c, 'web'), ['web-a'], `${c} keeps the last good revision`);

    repo().remove('web/kustomization.yaml');
    const fixed = repo().commit('web v4: fixed');
    assert.equal((await fleet().cli('reconcile', 'kustomization', 'web', '--with-source')).code, 0);
    const after = await fleet().waitForReadyAt('kustomization/flux-system/web', `main@sha1:${fixed}`);
    assert.equal(conditionOf(after.conditions, 'Stalled'), undefined, 'Stalled removed once it no longer holds (Flux)');
  });

  it('dependsOn holds a Kustomization until its dependency is Ready on the same clusters', async () => {
    repo().writeObjects('team/namespace.yaml', [{ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'team' } }])
      .writeObjects('team-apps/config.yaml', [configMap('team-config', 'team', { owner: 'team' })]);
    repo().commit('team infra and apps');
    const placement = { clusters: ['dev', 'prod-eu'] };
    await applyDeclarations('team', [
      { ...kustomization('team-infra', { path: './team', placement }), spec: { ...kustomization('x', { path: './team', placement }).spec as object, suspend: true } },
      kustomization('team-apps', { path: './team-apps', placement, dependsOn: [{ name: 'team-infra' }] }),
    ]);
    assert.equal((await fleet().cli('reconcile', 'source', 'git', 'fleet')).code, 0);
    const waiting = await fleet().waitForKustomization('kustomization/flux-system/team-apps',
      (s) => conditionOf(s.conditions, 'Ready')?.reason === 'DependencyNotReady', 'held by dependsOn');
    assert.match(conditionOf(waiting.conditions, 'Ready')?.message ?? '', /team-infra/);
    for (const c of placement.clusters) assert.deepEqual(await configMapNames(c, 'team'), [], `${c}: nothing applied before the dependency is ready`);

    // The dependency becoming Ready wakes its dependent: no reconcile request needed.
    await applyDeclarations('team', [
      kustomization('team-infra', { path: './team', placement }),
      kustomization('team-apps', { path: './team-apps', placement, dependsOn: [{ name: 'team-infra' }] }),
    ]);
    const infra = await fleet().waitForKustomization('kustomization/flux-system/team-infra', (s) => isReady(s.conditions), 'Ready');
    const apps = await fleet().waitForKustomization('kustomization/flux-system/team-apps', (s) => isReady(s.conditions), 'Ready');
    const infraReadyAt = conditionOf(infra.conditions, 'Ready')?.lastTransitionTime ?? Infinity;
    const appsReadyAt = conditionOf(apps.conditions, 'Ready')?.lastTransitionTime ?? 0;
    assert.ok(appsReadyAt >= infraReadyAt, 'apps became Ready after infra');
    for (const c of placement.clusters) assert.deepEqual(await configMapNames(c, 'team'), ['team-config'], c);
    assert.deepEqual(await configMapNames('prod-us', 'team'), []);
  });

  it('a dependency declared after its dependent is found on the dependent\'s next retry', async () => {
    repo().writeObjects('late/config.yaml', [configMap('late-config', 'team', { late: 'yes' })])
      .writeObjects('early/config.yaml', [configMap('early-config', 'team', { early: 'yes' })]);
    repo().commit('late dependency');
    assert.equal((await fleet().cli('reconcile', 'source', 'git', 'fleet')).code, 0);
    const placement = { clusters: ['dev'] };
    await applyDeclarations('early', [kustomization('early', { path: './early', placement, retryInterval: '2s', dependsOn: [{ name: 'late' }] })]);
    const held = await fleet().waitForKustomization('kustomization/flux-system/early',
      (s) => conditionOf(s.conditions, 'Ready')?.reason === 'DependencyNotReady', 'held by a dependency that does not exist');
    assert.match(conditionOf(held.conditions, 'Ready')?.message ?? '', /'flux-system\/late' not found/);
    // Declared now: the dependent, which could not subscribe before, subscribes on its retry and follows.
    await applyDeclarations('late', [kustomization('late', { path: './late', placement })]);
    await fleet().waitForKustomization('kustomization/flux-system/early', (s) => isReady(s.conditions), 'Ready once its dependency is');
    assert.equal((await fleet().cli('delete', 'kustomization', 'early')).code, 0);
    assert.equal((await fleet().cli('delete', 'kustomization', 'late')).code, 0);
  });

  it('one commit that breaks a dependency and changes its dependent: the dependent waits until the dependency applied that revision (Flux\'s rule)', async () => {
    const placement = { clusters: ['dev'] };
    const decls = [
      kustomization('chain-infra', { path: './chain/infra', placement }),
      kustomization('chain-apps', { path: './chain/apps', placement, dependsOn: [{ name: 'chain-infra' }] }),
    ];
    repo().writeObjects('chain/infra/config.yaml', [configMap('chain-infra', 'team', { v: '1' })])
      .writeObjects('chain/apps/config.yaml', [configMap('chain-app', 'team', { v: '1' })]);
    const first = repo().commit('chain v1');
    await applyDeclarations('chain', decls);
    assert.equal((await fleet().cli('reconcile', 'source', 'git', 'fleet')).code, 0);
    await fleet().waitForReadyAt('kustomization/flux-system/chain-apps', `main@sha1:${first}`);
    const appValue = async (): Promise<string | undefined> =>
      ((await getObject('dev', 'v1', 'ConfigMap', 'chain-app', 'team'))?.data as Record<string, string> | undefined)?.v;
    assert.equal(await appValue(), '1');

    // One commit: the dependency gets an object whose kind the cluster does not serve (it
    // cannot apply), and the dependent changes.
    repo().writeObjects('chain/infra/config.yaml', [configMap('chain-infra', 'team', { v: '2' }), { apiVersion: 'example.com/v1', kind: 'Gadget', metadata: { name: 'g', namespace: 'team' } }])
      .writeObjects('chain/apps/config.yaml', [configMap('chain-app', 'team', { v: '2' })]);
    const broken = repo().commit('chain v2: infra broken, apps changed');
    assert.equal((await fleet().cli('reconcile', 'source', 'git', 'fleet')).code, 0);
    await fleet().waitForKustomization('kustomization/flux-system/chain-infra',
      (s) => s.lastAttemptedRevision === `main@sha1:${broken}` && conditionOf(s.conditions, 'Ready')?.status === 'False', 'failed at the broken revision');
    const held = await fleet().waitForKustomization('kustomization/flux-system/chain-apps',
      (s) => conditionOf(s.conditions, 'Ready')?.reason === 'DependencyNotReady', 'held by its dependency');
    assert.match(conditionOf(held.conditions, 'Ready')?.message ?? '', /dependency 'flux-system\/chain-infra' (is not ready|revision is not up to date)/);
    assert.equal(held.lastAppliedRevision, `main@sha1:${first}`, 'the dependent did not apply the new revision');
    assert.equal(await appValue(), '1', 'the cluster still runs the dependent at the old revision');

    // The fix: the dependency applies the new revision, then (woken, no request) the dependent.
    repo().writeObjects('chain/infra/config.yaml', [configMap('chain-infra', 'team', { v: '3' })]);
    const fixed = repo().commit('chain v3: infra fixed');
    assert.equal((await fleet().cli('reconcile', 'source', 'git', 'fleet')).code, 0);
    const infra = await fleet().waitForReadyAt('kustomization/flux-system/chain-infra', `main@sha1:${fixed}`);
    const apps = await fleet().waitForReadyAt('kustomization/flux-system/chain-apps', `main@sha1:${fixed}`);
    assert.ok((conditionOf(apps.conditions, 'Ready')?.lastTransitionTime ?? 0) >= (conditionOf(infra.conditions, 'Ready')?.lastTransitionTime ?? Infinity));
    assert.equal(await appValue(), '2');
    for (const name of ['chain-apps', 'chain-infra']) assert.equal((await fleet().cli('delete', 'kustomization', name)).code, 0);
  });

  it('Ready is Unknown (Reconciling) while a reconcile waits, True only once it is done, as in Flux', async () => {
    // A Kustomization that waits for its Deployment, whose pods never become ready (kwok's
    // simulated ErrImagePull): the wait lasts its whole 20 s timeout.
    repo().writeObjects('waits/app.yaml', [{
      apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'slow', namespace: 'team' },
      spec: {
        replicas: 1, selector: { matchLabels: { app: 'slow' } },
        template: { metadata: { labels: { app: 'slow' }, annotations: { 'sim.flotilla.dev/fail': 'ErrImagePull' } }, spec: { containers: [{ name: 'c', image: 'example.com/slow:1' }] } },
      },
    }]);
    repo().commit('waits');
    assert.equal((await fleet().cli('reconcile', 'source', 'git', 'fleet')).code, 0);
    await applyDeclarations('waits', [kustomization('waits', { path: './waits', placement: { clusters: ['dev'] }, wait: true, timeout: '20s' })]);
    const waiting = await fleet().waitForKustomization('kustomization/flux-system/waits',
      (s) => conditionOf(s.conditions, 'Reconciling')?.status === 'True', 'reconciling');
    assert.equal(conditionOf(waiting.conditions, 'Ready')?.status, 'Unknown', 'not Ready while it waits');
    assert.equal(conditionOf(waiting.conditions, 'Ready')?.reason, 'Progressing');
    const failed = await fleet().waitForKustomization('kustomization/flux-system/waits',
      (s) => conditionOf(s.conditions, 'Ready')?.status === 'False', 'failed its wait', 60_000);
    assert.equal(conditionOf(failed.conditions, 'Reconciling'), undefined, 'Reconciling removed when the reconcile ends (Flux)');
    assert.equal((await fleet().cli('delete', 'kustomization', 'waits')).code, 0);
  });

  it('a semver range over tags picks the highest matching tag (declared in source and kustomize v1beta1)', async () => {
    const tagged = new GitRepo(join(dir(), 'tagged'));
    for (const version of ['1.0.0', '1.2.0', '2.0.0']) {
      tagged.writeObjects('app/config.yaml', [configMap('versioned', 'default', { version })]);
      tagged.commit(`release ${version}`);
      tagged.tag(`v${version}`);
    }
    const want = tagged.git('rev-parse', 'v1.2.0^{commit}');
    // Flux's oldest versions of both kinds: read, converted to v1 and deployed.
    await applyDeclarations('tagged', [
      { ...gitRepository('tagged', tagged.url, { semver: '>=1.0.0 <2.0.0' }), apiVersion: 'source.toolkit.fluxcd.io/v1beta1' },
      {
        ...kustomization('tagged', { path: './app', placement: { clusters: ['dev'] }, sourceRef: { kind: 'GitRepository', name: 'tagged' } }),
        apiVersion: 'kustomize.toolkit.fluxcd.io/v1beta1',
      },
    ]);
    assert.equal((await fleet().cli('reconcile', 'kustomization', 'tagged', '--with-source')).code, 0);
    const s = await fleet().waitForReadyAt('kustomization/flux-system/tagged', 'v1.2.0@sha1:');
    assert.equal(s.lastAppliedRevision, `v1.2.0@sha1:${want}`);
    const cm = await getObject('dev', 'v1', 'ConfigMap', 'versioned', 'default');
    assert.deepEqual(cm?.data, { version: '1.2.0' });
  });

  it('a GitRepository includes another repository\'s directory, and follows its new revisions', async () => {
    const shared = new GitRepo(join(dir(), 'shared'));
    shared.writeObjects('common/config.yaml', [configMap('shared-config', 'default', { from: 'shared-v1' })]);
    shared.commit('shared v1');
    const withInclude = { ...gitRepository('with-include', repo().url), spec: { url: repo().url, interval: '10m', ref: { branch: 'main' }, include: [{ repository: { name: 'shared' }, fromPath: 'common', toPath: 'vendor/common' }] } };
    const consumer = kustomization('vendored', { path: './vendor/common', placement: { clusters: ['dev'] } });
    await applyDeclarations('include', [
      gitRepository('shared', shared.url), withInclude,
      { ...consumer, spec: { ...(consumer.spec as object), sourceRef: { kind: 'GitRepository', name: 'with-include' } } },
    ]);
    assert.equal((await fleet().cli('reconcile', 'source', 'git', 'shared')).code, 0);
    await fleet().waitForKustomization('kustomization/flux-system/vendored', (s) => isReady(s.conditions), 'Ready');
    assert.deepEqual((await getObject('dev', 'v1', 'ConfigMap', 'shared-config', 'default'))?.data, { from: 'shared-v1' });

    // A new revision of the included repository flows through the including one by itself.
    shared.writeObjects('common/config.yaml', [configMap('shared-config', 'default', { from: 'shared-v2' })]);
    shared.commit('shared v2');
    assert.equal((await fleet().cli('reconcile', 'source', 'git', 'shared')).code, 0);
    await waitFor('dev gets shared v2', async () => {
      const cm = await getObject('dev', 'v1', 'ConfigMap', 'shared-config', 'default');
      return (cm?.data as Record<string, string> | undefined)?.from === 'shared-v2' ? true : undefined;
    }, { timeoutMs: 90_000 });
  });

  it('podinfo\'s real kustomize directory deploys to the placed clusters', async () => {
    repo().copy(podinfoFixture, 'podinfo')
      .writeObjects('podinfo-namespace/namespace.yaml', [{ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'podinfo' } }]);
    const commit = repo().commit('podinfo from its upstream kustomize directory');
    await applyDeclarations('podinfo', [
      kustomization('podinfo-namespace', { path: './podinfo-namespace', placement: { clusters: PROD } }),
      kustomization('podinfo', { path: './podinfo', targetNamespace: 'podinfo', wait: true, timeout: '2m', placement: { clusters: PROD }, dependsOn: [{ name: 'podinfo-namespace' }] }),
    ]);
    assert.equal((await fleet().cli('reconcile', 'source', 'git', 'fleet')).code, 0);
    const s = await fleet().waitForReadyAt('kustomization/flux-system/podinfo', `main@sha1:${commit}`, 180_000);
    assert.equal(s.lastBuild?.objectCount, 3);
    for (const c of PROD) {
      assert.ok(await getObject(c, 'apps/v1', 'Deployment', 'podinfo', 'podinfo'), `${c}: Deployment`);
      assert.ok(await getObject(c, 'v1', 'Service', 'podinfo', 'podinfo'), `${c}: Service`);
      assert.ok(await getObject(c, 'autoscaling/v2', 'HorizontalPodAutoscaler', 'podinfo', 'podinfo'), `${c}: HPA`);
    }
    assert.equal(await getObject('dev', 'apps/v1', 'Deployment', 'podinfo', 'podinfo'), undefined);
  });

  it('flotilla apply validates before applying anything and --dry-run changes nothing', async () => {
    const bad = join(dir(), 'bad.yaml');
    writeFileSync(bad, [
      stringify(gitRepository('never-applied', repo().url)),
      stringify(kustomization('bad', { path: './web', interval: '5x' })),
    ].join('---\n'));
    const r = await fleet().cli('apply', '-f', bad);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /bad\.yaml.*Kustomization\/flux-system\/bad.*spec\.interval/);
    assert.match(r.stderr, /nothing applied/);
    assert.deepEqual((await fleet().declarations.list('GitRepository')).filter((id) => id.includes('never-applied')), []);

    const changed = join(dir(), 'changed.yaml');
    writeFileSync(changed, stringify(kustomization('web', { path: './web', interval: '20m', placement: { clusterSelector: { matchLabels: { env: 'prod' } } } })));
    const generation = (await fleet().kustomization('kustomization/flux-system/web')).generation;
    const dry = await fleet().cli('apply', '-f', changed, '--dry-run');
    assert.equal(dry.code, 0, dry.stderr);
    assert.match(dry.stdout, /Kustomization\/flux-system\/web configured \(dry run\)/);
    assert.equal((await fleet().kustomization('kustomization/flux-system/web')).generation, generation);
  });

  it('flotilla suspend holds a Kustomization until resume', async () => {
    assert.equal((await fleet().cli('suspend', 'kustomization', 'web')).code, 0);
    const get = await fleet().cli('get', 'kustomizations');
    assert.match(get.stdout, /web\s+main@sha1:[0-9a-f]{40}\s+true/);
    repo().writeObjects('web/config.yaml', [configMap('web-a', 'web', { v: 'while-suspended' })]);
    const commit = repo().commit('web: change while suspended');
    const held = await fleet().cli('reconcile', 'kustomization', 'web', '--with-source');
    assert.equal(held.code, 1);
    assert.match(held.stderr, /suspended/);
    assert.deepEqual((await getObject('prod-eu', 'v1', 'ConfigMap', 'web-a', 'web'))?.data, { v: '2' }, 'nothing applied while suspended');
    assert.equal((await fleet().cli('resume', 'kustomization', 'web')).code, 0);
    assert.equal((await fleet().cli('reconcile', 'kustomization', 'web')).code, 0);
    await fleet().waitForReadyAt('kustomization/flux-system/web', `main@sha1:${commit}`);
  });

  it('an unreachable repository is reported on its GitRepository and breaks nothing else', async () => {
    await applyDeclarations('unreachable', [gitRepository('unreachable', `file://${join(dir(), 'no-such-repo')}`)]);
    const r = await fleet().cli('reconcile', 'source', 'git', 'unreachable');
    assert.equal(r.code, 1);
    const s = await fleet().status('gitrepository/flux-system/unreachable');
    const ready = conditionOf(s.status.conditions, 'Ready');
    assert.ok(ready);
    assert.equal(ready.status, 'False');
    assert.equal(ready.reason, 'GitOperationFailed');
    assert.match(ready.message, /no-such-repo/);
    assert.ok(isReady((await fleet().kustomization('kustomization/flux-system/web')).conditions), 'web stays Ready');
  });

  it('flotilla bootstrap makes the hub reconcile its own declarations from git, and prunes them', async () => {
    const hubRepo = new GitRepo(join(dir(), 'hub-config'));
    repo().writeObjects('boot/config.yaml', [configMap('from-bootstrap', 'default', { via: 'bootstrap' })]);
    repo().commit('app for the bootstrapped Kustomization');
    hubRepo.writeObjects('clusters/fleet/boot.yaml', [kustomization('boot', { path: './boot', placement: { clusters: ['dev'] } })]);
    hubRepo.commit('declare boot');
    const r = await fleet().cli('bootstrap', '--url', hubRepo.url, '--path', 'clusters/fleet', '--branch', 'main');
    assert.equal(r.code, 0, r.stderr);
    const root = await fleet().kustomization('kustomization/flotilla-system/flotilla-system');
    assert.deepEqual(root.declarations, ['kustomization/flux-system/boot']);
    assert.equal((await fleet().cli('reconcile', 'kustomization', 'boot', '--with-source')).code, 0);
    assert.deepEqual((await getObject('dev', 'v1', 'ConfigMap', 'from-bootstrap', 'default'))?.data, { via: 'bootstrap' });

    hubRepo.remove('clusters/fleet/boot.yaml').write('clusters/fleet/.keep', '');
    hubRepo.commit('remove boot');
    const again = await fleet().cli('reconcile', 'kustomization', 'flotilla-system', '-n', 'flotilla-system', '--with-source');
    assert.equal(again.code, 0, again.stderr);
    assert.deepEqual((await fleet().kustomization('kustomization/flotilla-system/flotilla-system')).declarations, []);
    await waitFor('boot pruned from dev', async () => (await getObject('dev', 'v1', 'ConfigMap', 'from-bootstrap', 'default')) === undefined ? true : undefined, { timeoutMs: 60_000 });
    assert.deepEqual((await fleet().declarations.list('Kustomization')).filter((id) => id.endsWith('/boot')), []);
  });

  it('an actor continues as new before its history grows large, and its status survives', async () => {
    const id = 'kustomization/flux-system/long-lived';
    const spec = parseDeclarationObject(kustomization('long-lived', { path: './web', placement: { clusters: ['dev'] } }), 'test');
    assert.ok(!Array.isArray(spec) && spec.kind === 'Kustomization');
    const handle = await fleet().client.workflow.start<KustomizationWorkflow>(KUSTOMIZATION_WORKFLOW_TYPE, {
      workflowId: id, taskQueue: TASK_QUEUE, args: [{ declaration: spec, generation: 1, suspendedByCli: false, subscribers: [], historyLimit: 60 }],
    });
    const firstRun = handle.firstExecutionRunId;
    let runs = new Set<string>();
    for (let i = 0; i < 8; i++) {
      assert.equal((await fleet().cli('reconcile', 'kustomization', 'long-lived')).code, 0, `reconcile ${i}`);
      runs.add((await fleet().client.workflow.getHandle(id).describe()).runId);
    }
    runs = new Set([...runs, firstRun]);
    assert.ok(runs.size >= 3, `continued as new at least twice (runs: ${runs.size})`);
    const s = await fleet().kustomization(id);
    assert.ok(isReady(s.conditions));
    assert.equal(s.generation, 1);
    assert.match(s.lastAppliedRevision, /^main@sha1:/);
    const history = await fleet().client.workflow.getHandle(id).fetchHistory();
    assert.ok((history.events?.length ?? 0) <= 60 + 40, 'the current run stays near its limit');
  });

  it('Kustomizations that subscribe while their source waits to continue as new are told in its next run (why 1,000 did not converge)', async () => {
    // The source continues as new every few dozen events while a burst of subscribers arrives;
    // those arriving while it waited for its outbox before continuing used to be forgotten, and
    // waited for their retry interval (10 minutes) with "has no artifact yet". A race: with the
    // old code this test failed in 2 of 3 runs (90 subscribers, a source continuing as new every
    // 10 events); with it fixed, every subscriber is told on its first subscription.
    const source = new GitRepo(join(dir(), 'burst'));
    const names = Array.from({ length: 90 }, (_, i) => `burst-${String(i).padStart(2, '0')}`);
    for (const n of names) source.writeObjects(`${n}/config.yaml`, [configMap(n, 'default', { app: n })]);
    const revision = `main@sha1:${source.commit('burst apps')}`;
    const sourceId = 'gitrepository/flux-system/burst';
    const declaration = parseDeclarationObject(gitRepository('burst', source.url), 'test');
    assert.ok(!Array.isArray(declaration) && declaration.kind === 'GitRepository');
    const started = await fleet().client.workflow.start<GitRepositoryWorkflow>(GIT_REPOSITORY_WORKFLOW_TYPE, {
      workflowId: sourceId, taskQueue: TASK_QUEUE, args: [{ declaration, generation: 1, suspendedByCli: false, subscribers: [], historyLimit: 10 }],
    });
    // Six applies at once: subscribers keep arriving through several of the source's runs.
    const declare = (n: string): Record<string, unknown> => kustomization(n, { path: `./${n}`, sourceRef: { kind: 'GitRepository', name: 'burst' }, placement: { hub: true } });
    await waitFor('the source\'s artifact', async () => ((await fleet().client.workflow.getHandle(sourceId).query(gitRepositoryStatusQuery)).artifact?.revision === revision ? true : undefined), { timeoutMs: 60_000 });
    await Promise.all([0, 1, 2, 3, 4, 5].map((k) => applyDeclarations(`burst-${String(k)}`, names.filter((_, i) => i % 6 === k).map(declare))));
    for (const n of names) await fleet().waitForReadyAt(`kustomization/flux-system/${n}`, revision);
    const runs = new Set<string>();
    for await (const w of fleet().client.workflow.list({ query: `WorkflowId = '${sourceId}'` })) runs.add(w.runId);
    assert.ok(runs.size >= 2, `the source continued as new during the burst (runs: ${String(runs.size)}, first ${started.firstExecutionRunId})`);
    // Each was told by its one subscription: none had to ask again (the 30 s requeue of core/requeue.ts).
    for (const n of names) {
      const history = await fleet().client.workflow.getHandle(`kustomization/flux-system/${n}`).fetchHistory();
      const subscribes = (history.events ?? []).filter((e) => e.signalExternalWorkflowExecutionInitiatedEventAttributes?.signalName === 'subscribe'
        && e.signalExternalWorkflowExecutionInitiatedEventAttributes.workflowExecution?.workflowId === sourceId);
      assert.equal(subscribes.length, 1, `${n} subscribed once`);
    }
  });

  it('a hub killed mid-reconcile finishes the reconcile exactly once after restart', async () => {
    const before = await desiredGeneration('prod-eu', 'kustomization/flux-system/web');
    // prod-eu's agent is down, so the reconcile is still waiting for its report when the hub dies.
    await fleet().agents.get('prod-eu')?.stop();
    repo().writeObjects('web/config.yaml', [configMap('web-a', 'web', { v: '5' })]);
    const commit = repo().commit('web v5');
    const reconcile = fleet().cli('reconcile', 'kustomization', 'web', '--with-source', '--timeout', '4m');
    await fleet().waitForKustomization('kustomization/flux-system/web',
      (s) => s.lastAttemptedRevision === `main@sha1:${commit}` && conditionOf(s.conditions, 'Reconciling')?.status === 'True'
        && s.clusters.some((c) => c.cluster === 'prod-us' && c.revision.endsWith(commit)), 'waiting for reports mid-reconcile');
    await fleet().killHub();
    await fleet().startHub();
    await fleet().startAgent('prod-eu', CLUSTERS['prod-eu']);
    const r = await reconcile;
    assert.equal(r.code, 0, r.stderr);
    await fleet().waitForReadyAt('kustomization/flux-system/web', `main@sha1:${commit}`);
    assert.equal(await desiredGeneration('prod-eu', 'kustomization/flux-system/web'), before + 1, 'one new generation for one new revision');
    for (const c of PROD) assert.deepEqual((await getObject(c, 'v1', 'ConfigMap', 'web-a', 'web'))?.data, { v: '5' }, c);
    const applied = readFileSync(join(fleet().dir, 'agent-prod-us.log'), 'utf8').split('\n')
      .filter((l) => l.includes('"deployment applied"') && l.includes('kustomization/flux-system/web') && l.includes(`"generation":"${before + 1}"`));
    assert.equal(applied.length, 1, 'prod-us applied the new generation once');
  });

  it('the actors\' histories replay deterministically on the current code', async () => {
    // FLOTILLA_RECORD_HISTORIES=1 also records them as test/fixtures/histories for test/unit/replay.test.ts.
    await replayLive(fleet().client, [
      'gitrepository/flux-system/fleet', 'kustomization/flux-system/web', 'kustomization/flux-system/team-apps',
      'kustomization/flotilla-system/flotilla-system', 'cluster/prod-eu',
    ]);
  });
});

async function desiredGeneration(cluster: string, name: string): Promise<number> {
  return waitFor(`${cluster} desired state`, async () => {
    const s = await fleet().client.workflow.getHandle(clusterWorkflowId(cluster)).query(clusterStatusQuery);
    return s.desired.deployments.find((d) => d.name === name)?.generation;
  }, { timeoutMs: 30_000 });
}
