// Tenants, Flux's way (issue #24): a platform repository onboards two tenant repositories as
// fluxcd/flux2-multi-tenancy does (tenants/<tenant>/: Namespace, ServiceAccount, RoleBinding
// of cluster-admin inside the namespace, GitRepository and Kustomization with
// serviceAccountName). Each tenant's objects are applied by the agent impersonating
// system:serviceaccount:<tenant>:<tenant>, so the API server's RBAC (the kube-apiserver runs
// --authorization-mode=Node,RBAC, deploy/dev/kube-cluster.ts) decides what a tenant
// repository may touch: tenant A's ClusterRoleBinding and ConfigMap in tenant B's namespace
// are denied by the API server and reported on A's Kustomization, nothing of that commit is
// applied, and B is unaffected. The hub runs with --no-cross-namespace-refs, so A cannot use
// B's GitRepository (AccessDenied, Flux's reason). A ConfigMap naming no namespace lands in
// the tenant's namespace, not in `default`.
// Real parts only: git repositories, Temporal, the hub and one agent as processes, a real
// kube-apiserver with RBAC, and the flotilla CLI.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { ClusterClient } from '../../agents/apply/cluster-client.js';
import { conditionOf, isReady } from '../../core/conditions.js';
import { isRecord } from '../../core/manifests.js';
import type { KubeObject } from '../../core/objects.js';
import type { KustomizationStatus } from '../../workflows/messages.js';
import { useFleet } from '../harness/fleet.js';
import { configMap, GitRepo } from '../harness/git.js';

const { env, fleet, dir } = useFleet({ dev: { env: 'dev' } }, 'flotilla-tenants-', { hubArgs: ['--no-cross-namespace-refs'] });
/** Generous: a reconcile here is a git fetch, a kustomize build and an apply (seconds), retried every 5 s; a slow shared machine may take many times that. */
const WAIT_MS = 180_000;
const placement = { clusters: ['dev'] };

function kube(): ClusterClient {
  return new ClusterClient(env().cluster('dev').kubeConfig());
}

/** data.owner of a ConfigMap, or undefined when it does not exist. */
async function ownerOf(name: string, namespace: string): Promise<unknown> {
  const cm = await get('v1', 'ConfigMap', name, namespace);
  return isRecord(cm?.data) ? cm.data.owner : undefined;
}

async function get(apiVersion: string, kind: string, name: string, namespace?: string): Promise<KubeObject | undefined> {
  return kube().get({ apiVersion, kind, metadata: { name, ...(namespace !== undefined ? { namespace } : {}) } });
}

const gitRepository = (name: string, namespace: string, url: string): Record<string, unknown> => ({
  apiVersion: 'source.toolkit.fluxcd.io/v1', kind: 'GitRepository', metadata: { name, namespace },
  spec: { url, interval: '1m', ref: { branch: 'main' } },
});
const kustomization = (name: string, namespace: string, spec: Record<string, unknown>): Record<string, unknown> => ({
  apiVersion: 'kustomize.toolkit.fluxcd.io/v1', kind: 'Kustomization', metadata: { name, namespace },
  spec: { interval: '1m', retryInterval: '5s', prune: true, sourceRef: { kind: 'GitRepository', name }, path: './', ...spec },
});

/** tenants/<tenant>/ of the platform repository, as in fluxcd/flux2-multi-tenancy tenants/base/dev-team. */
function onboard(platform: GitRepo, tenant: string, url: string): void {
  platform.writeObjects(`tenants/${tenant}/rbac.yaml`, [
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: tenant, labels: { 'toolkit.fluxcd.io/tenant': tenant } } },
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: tenant, namespace: tenant } },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'RoleBinding', metadata: { name: `${tenant}-reconciler`, namespace: tenant },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'cluster-admin' },
      subjects: [{ kind: 'ServiceAccount', name: tenant, namespace: tenant }],
    },
  ]);
  platform.writeObjects(`tenants/${tenant}/sync.yaml`, [
    gitRepository(tenant, tenant, url),
    kustomization(tenant, tenant, { serviceAccountName: tenant, placement }),
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

const repos: { platform?: GitRepo; a?: GitRepo; b?: GitRepo } = {};
function repo(which: 'platform' | 'a' | 'b'): GitRepo {
  repos[which] ??= new GitRepo(join(dir(), `${which}-repo`));
  return repos[which];
}

describe('two tenants onboarded by a platform repository, Flux\'s way', () => {
  let goodA = '';
  let goodB = '';

  it('each tenant\'s objects are applied as its ServiceAccount; an object naming no namespace lands in the tenant\'s namespace', async () => {
    goodA = repo('a').writeObjects('app.yaml', [configMap('a-config', undefined, { owner: 'a' })]).commit('tenant a: app');
    goodB = repo('b').writeObjects('app.yaml', [configMap('b-config', 'tenant-b', { owner: 'b' })]).commit('tenant b: app');
    onboard(repo('platform'), 'tenant-a', repo('a').url);
    onboard(repo('platform'), 'tenant-b', repo('b').url);
    const platformCommit = repo('platform').commit('onboard tenant-a and tenant-b');
    // The platform's own Kustomization names no ServiceAccount and the hub sets no default:
    // it runs with the agent's identity, as flux-system's own Kustomizations do in Flux's lockdown.
    await applyDeclarations('platform', [
      gitRepository('platform', 'flux-system', repo('platform').url),
      kustomization('platform', 'flux-system', { path: './tenants', placement }),
    ]);
    await waitReadyAt('kustomization/flux-system/platform', platformCommit);

    const a = await waitReadyAt('kustomization/tenant-a/tenant-a', goodA);
    await waitReadyAt('kustomization/tenant-b/tenant-b', goodB);
    assert.equal(await ownerOf('a-config', 'tenant-a'), 'a', 'namespace-less ConfigMap in tenant-a');
    assert.equal(await get('v1', 'ConfigMap', 'a-config', 'default'), undefined, 'never in default');
    assert.equal(await ownerOf('b-config', 'tenant-b'), 'b');
    assert.deepEqual(a.placed, ['dev']);
  });

  it('tenant A\'s ClusterRoleBinding and ConfigMap in tenant B\'s namespace are denied by the API server, reported on A; B unaffected', async () => {
    const hostile = repo('a').writeObjects('app.yaml', [
      configMap('a-config', undefined, { owner: 'a' }),
      {
        apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRoleBinding', metadata: { name: 'tenant-a-takes-over' },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'cluster-admin' },
        subjects: [{ kind: 'ServiceAccount', name: 'tenant-a', namespace: 'tenant-a' }],
      },
      configMap('planted', 'tenant-b', { owner: 'a' }),
    ]).commit('tenant a: escalate');
    const r = await fleet().cli('reconcile', 'kustomization', 'tenant-a', '-n', 'tenant-a', '--with-source');
    assert.notEqual(r.code, 0, 'the reconcile fails');
    const a = await fleet().waitForKustomization('kustomization/tenant-a/tenant-a',
      (s) => s.lastAttemptedRevision === `main@sha1:${hostile}` && conditionOf(s.conditions, 'Ready')?.status === 'False', 'Ready=False at the hostile commit', WAIT_MS);
    const message = conditionOf(a.conditions, 'Ready')?.message ?? '';
    assert.match(message, /ClusterRoleBinding\/tenant-a-takes-over: forbidden for system:serviceaccount:tenant-a:tenant-a: .*clusterrolebindings/, ready(a));
    assert.match(message, /ConfigMap\/tenant-b\/planted: forbidden for system:serviceaccount:tenant-a:tenant-a: .*configmaps .*tenant-b/, ready(a));
    assert.equal(a.lastAppliedRevision, `main@sha1:${goodA}`, 'the last good revision stays applied');
    assert.equal(await get('rbac.authorization.k8s.io/v1', 'ClusterRoleBinding', 'tenant-a-takes-over'), undefined, 'no ClusterRoleBinding');
    assert.equal(await get('v1', 'ConfigMap', 'planted', 'tenant-b'), undefined, 'nothing planted in tenant-b');
    assert.equal(await ownerOf('a-config', 'tenant-a'), 'a', 'A\'s own object untouched');

    const b = await fleet().kustomization('kustomization/tenant-b/tenant-b');
    assert.ok(isReady(b.conditions), ready(b));
    assert.equal(b.lastAppliedRevision, `main@sha1:${goodB}`);
    assert.equal(await ownerOf('b-config', 'tenant-b'), 'b');
  });

  it('with --no-cross-namespace-refs, A cannot use B\'s GitRepository (AccessDenied)', async () => {
    await applyDeclarations('cross', [kustomization('borrow', 'tenant-a', {
      sourceRef: { kind: 'GitRepository', name: 'tenant-b', namespace: 'tenant-b' }, serviceAccountName: 'tenant-a', placement,
    })]);
    const s = await fleet().waitForKustomization('kustomization/tenant-a/borrow',
      (k) => conditionOf(k.conditions, 'Ready')?.status === 'False', 'Ready=False', WAIT_MS);
    const cond = conditionOf(s.conditions, 'Ready');
    assert.ok(cond);
    assert.equal(cond.reason, 'AccessDenied', ready(s));
    assert.match(cond.message, /^can't access 'GitRepository\/tenant-b\/tenant-b', cross-namespace references have been blocked \(Kustomization tenant-a\/borrow spec\.sourceRef;/);
    assert.equal(conditionOf(s.conditions, 'Stalled')?.status, 'True');
    assert.equal(s.lastAttemptedRevision, '', 'B\'s source was never used');
  });
});
