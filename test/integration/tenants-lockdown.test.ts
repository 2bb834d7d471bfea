// Flux's multi-tenancy lockdown (issue #24) with the agent holding only the rights its Helm
// chart gives it, not the cluster admin's. The agent chart is rendered by the real `helm
// template` with its defaults (rbac.clusterAdmin false, rbac.impersonation.enabled true), its
// ServiceAccount and RBAC objects are applied to a real kube-apiserver running
// --authorization-mode=Node,RBAC, and the agent process authenticates with a token of that
// ServiceAccount from the TokenRequest API (what the kubelet would mount into its pod).
//
// The hub runs Flux's lockdown (fluxcd/flux2-multi-tenancy README "multi-tenancy lockdown":
// --default-service-account=default and --no-cross-namespace-refs=true on kustomize-controller
// and helm-controller, and flux-system's own Kustomization given serviceAccountName:
// kustomize-controller). Here the platform admin creates, out of band, a ServiceAccount
// `platform` in flux-system bound to cluster-admin (docs/tenants.md), and the platform
// repository's Kustomization names it. Tenants are onboarded as flux2-multi-tenancy's
// tenants/base/dev-team does (rbac.yaml: Namespace, ServiceAccount, RoleBinding `gotk-reconciler`
// of cluster-admin inside the namespace for the ServiceAccount and the user
// gotk:<ns>:reconciler; sync.yaml: GitRepository and a Kustomization with serviceAccountName).
// Real parts only: git repositories, Temporal, the hub and the agent as processes, helm, a
// real kube-apiserver with RBAC, and the flotilla CLI.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import type { KustomizationStatus } from '../../api/kustomization.js';
import { ClusterClient } from '../../agents/apply/cluster-client.js';
import { conditionOf, isReady } from '../../core/conditions.js';
import { isRecord } from '../../core/manifests.js';
import type { KubeObject } from '../../core/objects.js';
import { agentIdentityObjects, allowed, applyAsAdmin, renderAgentChart, serviceAccountKubeconfig } from '../harness/agent-chart.js';
import { gitRepository, kustomization } from '../harness/declarations.js';
import { TestFleet } from '../harness/fleet.js';
import { configMap, GitRepo } from '../harness/git.js';
import { useEnvironment } from '../harness/index.js';

/** The agent's release, as `helm install flotilla-agent deploy/charts/flotilla-agent -n flotilla-system` names it. */
const AGENT_NS = 'flotilla-system';
const AGENT_USER = `system:serviceaccount:${AGENT_NS}:flotilla-agent`;
/** Flux's lockdown (flux2-multi-tenancy clusters/production/flux-system/kustomization.yaml). */
const LOCKDOWN = ['--default-service-account', 'default', '--no-cross-namespace-refs'];
/** Generous: a reconcile here is a git fetch, a kustomize build and an apply (seconds), retried every 5 s; a slow shared machine may take many times that. */
const WAIT_MS = 180_000;
const placement = { clusters: ['dev'] };

const state: { fleet?: TestFleet; dir?: string; chart?: KubeObject[]; kubeconfig?: string } = {};
const env = useEnvironment({ clusters: ['dev'] }, {
  afterStart: async (e) => {
    state.dir = mkdtempSync(join(tmpdir(), 'flotilla-lockdown-'));
    const cluster = e.cluster('dev');
    // What `helm install -n flotilla-system --create-namespace` does for the agent's identity:
    // the namespace, then the chart's ServiceAccount and RBAC (rendered by the real helm).
    await applyAsAdmin(cluster, [{ apiVersion: 'v1', kind: 'Namespace', metadata: { name: AGENT_NS } }]);
    state.chart = await renderAgentChart({ release: 'flotilla-agent', namespace: AGENT_NS, cluster: 'dev' });
    await applyAsAdmin(cluster, agentIdentityObjects(state.chart));
    state.kubeconfig = await serviceAccountKubeconfig(cluster, AGENT_NS, 'flotilla-agent', state.dir);
    const fleet = await TestFleet.create(e, { hubArgs: LOCKDOWN });
    state.fleet = fleet;
    await fleet.startHub();
    await fleet.startAgent('dev', { env: 'dev' }, 'dev', { kubeconfigPath: state.kubeconfig });
  },
  beforeStop: async () => {
    await state.fleet?.stop();
    if (state.dir) rmSync(state.dir, { recursive: true, force: true });
  },
});

function fleet(): TestFleet {
  if (!state.fleet) throw new Error('fleet not started');
  return state.fleet;
}
function dir(): string {
  if (!state.dir) throw new Error('fleet not started');
  return state.dir;
}

/** The cluster as its admin sees it (the test's own reads and out-of-band setup). */
function admin(): ClusterClient {
  return new ClusterClient(env().cluster('dev').kubeConfig());
}

async function get(apiVersion: string, kind: string, name: string, namespace?: string): Promise<KubeObject | undefined> {
  return admin().get({ apiVersion, kind, metadata: { name, ...(namespace !== undefined ? { namespace } : {}) } });
}

async function dataOf(name: string, namespace: string, key: string): Promise<unknown> {
  const cm = await get('v1', 'ConfigMap', name, namespace);
  return isRecord(cm?.data) ? cm.data[key] : undefined;
}

/**
 * tenants/<tenant>/ of the platform repository, mirroring fluxcd/flux2-multi-tenancy
 * tenants/base/dev-team/rbac.yaml and sync.yaml (the tenant's Kustomization names its
 * ServiceAccount). Plus `unnamed`, a Kustomization of the same tenant naming none: under the
 * lockdown it runs as the namespace's `default` ServiceAccount, which has no rights.
 */
function onboard(platform: GitRepo, tenant: string, url: string): void {
  const labels = { 'toolkit.fluxcd.io/tenant': tenant };
  platform.writeObjects(`tenants/${tenant}/rbac.yaml`, [
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: tenant, labels } },
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: tenant, namespace: tenant, labels } },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'RoleBinding', metadata: { name: 'gotk-reconciler', namespace: tenant, labels },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'cluster-admin' },
      subjects: [
        { apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: `gotk:${tenant}:reconciler` },
        { kind: 'ServiceAccount', name: tenant, namespace: tenant },
      ],
    },
  ]);
  platform.writeObjects(`tenants/${tenant}/sync.yaml`, [
    gitRepository(tenant, tenant, url),
    kustomization(tenant, tenant, { serviceAccountName: tenant, path: './app', placement }),
    kustomization('unnamed', tenant, { sourceRef: { kind: 'GitRepository', name: tenant }, path: './unnamed', placement }),
  ]);
}

async function applyDeclarations(name: string, objects: readonly unknown[]): Promise<void> {
  const file = join(dir(), `${name}.yaml`);
  writeFileSync(file, objects.map((o) => stringify(o)).join('---\n'));
  const r = await fleet().cli('apply', '-f', file);
  assert.equal(r.code, 0, `flotilla apply failed: ${r.stderr}`);
}

function ready(s: KustomizationStatus): string {
  const c = conditionOf(s.conditions, 'Ready');
  return `${c?.status ?? '-'} ${c?.reason ?? ''}: ${c?.message ?? ''}`;
}

async function waitReadyAt(id: string, commit: string): Promise<KustomizationStatus> {
  return fleet().waitForKustomization(id, (s) => isReady(s.conditions) && s.lastAppliedRevision === `main@sha1:${commit}`, `Ready at ${commit}`, WAIT_MS);
}

/** Waits until the Kustomization is Ready=False with a message matching `message` (at `commit` when given). */
async function waitDenied(id: string, message: RegExp, commit?: string): Promise<KustomizationStatus> {
  return fleet().waitForKustomization(id, (s) => {
    const c = conditionOf(s.conditions, 'Ready');
    return c?.status === 'False' && message.test(c.message) && (commit === undefined || s.lastAttemptedRevision === `main@sha1:${commit}`);
  }, `Ready=False matching ${String(message)}`, WAIT_MS);
}

const repos: { platform?: GitRepo; a?: GitRepo; b?: GitRepo } = {};
function repo(which: 'platform' | 'a' | 'b'): GitRepo {
  repos[which] ??= new GitRepo(join(dir(), `${which}-repo`));
  return repos[which];
}

describe('Flux\'s lockdown with the agent holding only its chart\'s rights', () => {
  let goodA = '';

  it('the agent runs on its chart\'s ServiceAccount: not cluster-admin, may impersonate ServiceAccounts, writes only its own namespace and rbac.namespaces', async () => {
    const cluster = env().cluster('dev');
    const bindings = (state.chart ?? []).filter((o) => o.kind === 'ClusterRoleBinding' || o.kind === 'RoleBinding');
    assert.ok(bindings.length > 0, 'the chart binds its ServiceAccount');
    assert.ok(bindings.every((b) => isRecord(b.roleRef) && b.roleRef.name !== 'cluster-admin'), 'no binding to cluster-admin (rbac.clusterAdmin defaults to false)');
    const can = (verb: string, resource: string, group?: string, namespace?: string): Promise<boolean> =>
      allowed(cluster, AGENT_USER, { verb, resource, ...(group !== undefined ? { group } : {}), ...(namespace !== undefined ? { namespace } : {}) });
    assert.equal(await can('impersonate', 'serviceaccounts'), true, 'impersonate ServiceAccounts');
    assert.equal(await can('impersonate', 'users'), false, 'no users');
    assert.equal(await can('impersonate', 'groups'), false, 'no groups');
    assert.equal(await can('create', 'configmaps', '', AGENT_NS), true, 'its state in its namespace');
    assert.equal(await can('create', 'configmaps', '', 'default'), true, 'rbac.namespaces defaults to [default]');
    assert.equal(await can('create', 'namespaces'), false);
    assert.equal(await can('create', 'clusterroles', 'rbac.authorization.k8s.io'), false);
    assert.equal(await can('create', 'configmaps', '', 'flux-system'), false);
    assert.equal(await can('list', 'secrets', '', AGENT_NS), false, 'not even its namespace\'s Secrets');
    // It registered with the hub on these rights (startAgent waits for Connected) and keeps its
    // credential where the chart lets it.
    assert.ok(await get('v1', 'Secret', 'flotilla-agent-credential', AGENT_NS), 'credential Secret in its namespace');
  });

  it('the platform\'s Kustomization naming `platform` onboards two tenants; their Kustomizations run as their ServiceAccounts; one naming none runs as <tenant>:default and is denied', async () => {
    // Out of band, as the platform admin does once per cluster (docs/tenants.md).
    await applyAsAdmin(env().cluster('dev'), [
      { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'flux-system' } },
      { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'platform', namespace: 'flux-system' } },
      {
        apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRoleBinding', metadata: { name: 'flux-system-platform' },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'cluster-admin' },
        subjects: [{ kind: 'ServiceAccount', name: 'platform', namespace: 'flux-system' }],
      },
    ]);
    goodA = repo('a').writeObjects('app/app.yaml', [configMap('a-config', undefined, { owner: 'a' })])
      .writeObjects('unnamed/app.yaml', [configMap('a-unnamed', undefined, { owner: 'a' })]).commit('tenant a: app');
    const goodB = repo('b').writeObjects('app/app.yaml', [configMap('b-config', 'tenant-b', { owner: 'b' })])
      .writeObjects('unnamed/app.yaml', [configMap('b-unnamed', undefined, { owner: 'b' })]).commit('tenant b: app');
    onboard(repo('platform'), 'tenant-a', repo('a').url);
    onboard(repo('platform'), 'tenant-b', repo('b').url);
    const platformCommit = repo('platform').commit('onboard tenant-a and tenant-b');
    await applyDeclarations('platform', [
      gitRepository('platform', 'flux-system', repo('platform').url),
      kustomization('platform', 'flux-system', { path: './tenants', serviceAccountName: 'platform', placement }),
    ]);
    await waitReadyAt('kustomization/flux-system/platform', platformCommit);
    assert.ok(await get('v1', 'Namespace', 'tenant-a'), 'the platform (as flux-system:platform) created the tenant\'s Namespace');
    assert.ok(await get('rbac.authorization.k8s.io/v1', 'RoleBinding', 'gotk-reconciler', 'tenant-b'), 'and its RoleBinding');

    await waitReadyAt('kustomization/tenant-a/tenant-a', goodA);
    await waitReadyAt('kustomization/tenant-b/tenant-b', goodB);
    assert.equal(await dataOf('a-config', 'tenant-a', 'owner'), 'a', 'namespace-less ConfigMap in tenant-a');
    assert.equal(await dataOf('b-config', 'tenant-b', 'owner'), 'b');

    const unnamed = await waitDenied('kustomization/tenant-a/unnamed', /ConfigMap\/tenant-a\/a-unnamed: forbidden for system:serviceaccount:tenant-a:default: /, goodA);
    assert.equal(unnamed.lastAppliedRevision, '', ready(unnamed));
    assert.equal(await get('v1', 'ConfigMap', 'a-unnamed', 'tenant-a'), undefined, 'nothing applied as tenant-a:default');
    await waitDenied('kustomization/tenant-b/unnamed', /forbidden for system:serviceaccount:tenant-b:default: /, goodB);
  });

  it('a tenant\'s ClusterRole is denied by the API server, reported on its Kustomization; the last good revision stays', async () => {
    const hostile = repo('a').writeObjects('app/app.yaml', [
      configMap('a-config', undefined, { owner: 'a' }),
      { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', metadata: { name: 'tenant-a-everything' }, rules: [{ apiGroups: ['*'], resources: ['*'], verbs: ['*'] }] },
    ]).commit('tenant a: a ClusterRole');
    const r = await fleet().cli('reconcile', 'kustomization', 'tenant-a', '-n', 'tenant-a', '--with-source');
    assert.notEqual(r.code, 0, 'the reconcile fails');
    const a = await waitDenied('kustomization/tenant-a/tenant-a', /ClusterRole\/tenant-a-everything: forbidden for system:serviceaccount:tenant-a:tenant-a: .*clusterroles/, hostile);
    assert.equal(a.lastAppliedRevision, `main@sha1:${goodA}`, 'the last good revision stays applied');
    assert.equal(await get('rbac.authorization.k8s.io/v1', 'ClusterRole', 'tenant-a-everything'), undefined, 'no ClusterRole');
    assert.equal(await dataOf('a-config', 'tenant-a', 'owner'), 'a');
    assert.ok(isReady((await fleet().kustomization('kustomization/tenant-b/tenant-b')).conditions), 'tenant-b unaffected');
  });

  it('a platform Kustomization naming no ServiceAccount runs as flux-system:default and is denied; naming `platform` it applies', async () => {
    const commit = repo('platform').writeObjects('shared/shared.yaml', [
      { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'shared' } },
      configMap('shared-config', 'shared', { owner: 'platform' }),
    ]).commit('platform: a shared namespace');
    await applyDeclarations('shared-unnamed', [kustomization('shared', 'flux-system', { sourceRef: { kind: 'GitRepository', name: 'platform' }, path: './shared', placement })]);
    // Fails (denied); what it reports is checked below.
    await fleet().cli('reconcile', 'kustomization', 'shared', '-n', 'flux-system', '--with-source');
    const denied = await waitDenied('kustomization/flux-system/shared', /Namespace\/shared: forbidden for system:serviceaccount:flux-system:default: .*namespaces/, commit);
    assert.equal(denied.lastAppliedRevision, '', ready(denied));
    assert.equal(await get('v1', 'Namespace', 'shared'), undefined, 'the lockdown bites: no Namespace');

    await applyDeclarations('shared-platform', [kustomization('shared', 'flux-system', {
      sourceRef: { kind: 'GitRepository', name: 'platform' }, path: './shared', serviceAccountName: 'platform', placement,
    })]);
    await waitReadyAt('kustomization/flux-system/shared', commit);
    assert.ok(await get('v1', 'Namespace', 'shared'), 'Namespace applied as flux-system:platform');
    assert.equal(await dataOf('shared-config', 'shared', 'owner'), 'platform');
  });

  it('the agent\'s bookkeeping works on the chart\'s rights; with no default ServiceAccount a declaration naming none runs as the agent and the API server\'s 403 names it', async () => {
    // Inventories and state in the agent's namespace, written with its own identity; each
    // inventory records whom its objects were applied (and will be pruned) as.
    const inventories = await admin().list('v1', 'ConfigMap', { namespace: AGENT_NS, labelSelector: 'flotilla.dev/inventory=true' });
    const appliedAs = new Map(inventories.map((cm) => {
      const raw = isRecord(cm.data) && typeof cm.data.inventory === 'string' ? JSON.parse(cm.data.inventory) as unknown : undefined;
      const entries = isRecord(raw) && Array.isArray(raw.entries) ? raw.entries.map((e) => (isRecord(e) ? String(e.id) : '')) : [];
      return [entries.sort().join(','), isRecord(raw) && typeof raw.impersonate === 'string' ? raw.impersonate : 'agent'] as const;
    }));
    assert.equal(appliedAs.get('tenant-a_a-config__ConfigMap'), 'system:serviceaccount:tenant-a:tenant-a', JSON.stringify([...appliedAs]));
    assert.equal(appliedAs.get('_shared__Namespace,shared_shared-config__ConfigMap'), 'system:serviceaccount:flux-system:platform', JSON.stringify([...appliedAs]));
    // The desired state the agent keeps to carry on without the hub, written on its own rights.
    const agentState = await get('v1', 'ConfigMap', 'flotilla-agent-state', AGENT_NS);
    const stored = isRecord(agentState?.data) && typeof agentState.data.state === 'string' ? agentState.data.state : '';
    for (const id of ['kustomization/flux-system/platform', 'kustomization/tenant-a/tenant-a', 'kustomization/flux-system/shared']) {
      assert.ok(stored.includes(id), `the agent's stored desired state holds ${id}`);
    }

    // The same fleet with the default ServiceAccount unset (Flux without --default-service-account).
    await fleet().hub?.stop();
    await fleet().startHub(['--no-cross-namespace-refs']);
    await fleet().waitForConnected('dev');
    const commit = repo('platform')
      .writeObjects('agent/own/app.yaml', [configMap('agent-own', undefined, { owner: 'agent' })])
      .writeObjects('agent/denied/app.yaml', [configMap('agent-denied', 'tenant-b', { owner: 'agent' })])
      .commit('declarations applied with the agent\'s own identity');
    await applyDeclarations('agent-identity', [
      gitRepository('platform', 'default', repo('platform').url),
      kustomization('own', 'default', { sourceRef: { kind: 'GitRepository', name: 'platform' }, path: './agent/own', placement }),
      kustomization('denied', 'default', { sourceRef: { kind: 'GitRepository', name: 'platform' }, path: './agent/denied', placement }),
    ]);
    // rbac.namespaces (default [default]): the agent's own rights there are enough.
    await waitReadyAt('kustomization/default/own', commit);
    assert.equal(await dataOf('agent-own', 'default', 'owner'), 'agent');
    // Elsewhere the chart gives it nothing: the API server's own 403 names the agent.
    const agentDenied = new RegExp(`ConfigMap/tenant-b/agent-denied: .*User "${AGENT_USER}" cannot \\w+ resource "configmaps" in API group "" in the namespace "tenant-b"`);
    const denied = await waitDenied('kustomization/default/denied', agentDenied, commit);
    assert.equal(denied.lastAppliedRevision, '', ready(denied));
    assert.equal(await get('v1', 'ConfigMap', 'agent-denied', 'tenant-b'), undefined);
    // tenant-a's `unnamed` now runs as the agent too, which may not write in tenant-a either.
    await waitDenied('kustomization/tenant-a/unnamed', new RegExp(`User "${AGENT_USER}" cannot \\w+ resource "configmaps" in API group "" in the namespace "tenant-a"`));
    // Those naming their ServiceAccount are unchanged.
    const b2 = repo('b').writeObjects('app/app.yaml', [configMap('b-config', 'tenant-b', { owner: 'b', release: '2' })]).commit('tenant b: release 2');
    const rb = await fleet().cli('reconcile', 'kustomization', 'tenant-b', '-n', 'tenant-b', '--with-source');
    assert.equal(rb.code, 0, rb.stderr);
    await waitReadyAt('kustomization/tenant-b/tenant-b', b2);
    assert.equal(await dataOf('b-config', 'tenant-b', 'release'), '2');
  });
});
