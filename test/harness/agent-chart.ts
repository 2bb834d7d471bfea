// The agent as its Helm chart installs it, for end-to-end tests that must run the agent with
// the chart's rights and not the cluster admin's: the chart rendered by the real `helm
// template`, its ServiceAccount and RBAC objects applied to a real kube-apiserver, and a
// kubeconfig that authenticates as that ServiceAccount with a token from the TokenRequest API
// (what the kubelet mounts into the agent's pod).
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { AuthorizationV1Api, CoreV1Api } from '@kubernetes/client-node';
import { parseAllDocuments, stringify } from 'yaml';
import { ClusterClient } from '../../agents/apply/cluster-client.js';
import { isRecord } from '../../core/manifests.js';
import type { KubeObject } from '../../core/objects.js';
import { bin, resolveInRepo } from '../../deploy/dev/binaries.js';
import type { KubeCluster } from './index.js';

const execFileAsync = promisify(execFile);
export const AGENT_CHART = resolveInRepo('deploy', 'charts', 'flotilla-agent');
/** The kinds that make up the agent's identity and rights in the chart. */
const RBAC_KINDS = ['ServiceAccount', 'ClusterRole', 'ClusterRoleBinding', 'Role', 'RoleBinding'];

/**
 * `helm template` of the agent chart (release `release` in `namespace`) with `values` given as
 * --set-json; the hub's address, CA and token point at Secrets this rendering never applies.
 */
export async function renderAgentChart(opts: { release: string; namespace: string; cluster: string; values?: Record<string, unknown> }): Promise<KubeObject[]> {
  const home = mkdtempSync(join(tmpdir(), 'flotilla-helm-home-'));
  try {
    const args = ['template', opts.release, AGENT_CHART, '--namespace', opts.namespace,
      '--set-string', 'hub.address=127.0.0.1:7443', '--set-string', `cluster.name=${opts.cluster}`,
      '--set-string', 'hub.caSecret=flotilla-hub-ca', '--set-string', 'hub.tokenSecret.existingSecret=flotilla-agent-token'];
    for (const [k, v] of Object.entries(opts.values ?? {})) args.push('--set-json', `${k}=${JSON.stringify(v)}`);
    const { stdout } = await execFileAsync(bin('helm'), args, { env: { PATH: process.env.PATH ?? '', HOME: home }, maxBuffer: 16 * 2 ** 20 });
    return parseAllDocuments(stdout).map((d) => d.toJS() as unknown).filter((o): o is KubeObject => isRecord(o) && typeof o.kind === 'string');
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
}

/** The ServiceAccount and RBAC objects of a rendering, ServiceAccount and roles before their bindings. */
export function agentIdentityObjects(objects: readonly KubeObject[]): KubeObject[] {
  return RBAC_KINDS.flatMap((kind) => objects.filter((o) => o.kind === kind));
}

/** Applies `objects` as the cluster's admin, as `helm install` would. */
export async function applyAsAdmin(cluster: KubeCluster, objects: readonly KubeObject[]): Promise<void> {
  const client = new ClusterClient(cluster.kubeConfig());
  try {
    for (const o of objects) await client.apply(o, { force: true, fieldManager: 'helm' });
  } finally {
    client.close();
  }
}

/**
 * A kubeconfig file (in `dir`) for `cluster` that authenticates as the ServiceAccount
 * `namespace/name` with a bound token from the TokenRequest API, valid `seconds`.
 */
export async function serviceAccountKubeconfig(cluster: KubeCluster, namespace: string, name: string, dir: string, seconds = 7200): Promise<string> {
  const core = cluster.kubeConfig().makeApiClient(CoreV1Api);
  const request = await core.createNamespacedServiceAccountToken({
    name, namespace, body: { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec: { audiences: [], expirationSeconds: seconds } },
  });
  const token = request.status?.token;
  if (!token) throw new Error(`TokenRequest for ${namespace}/${name} returned no token`);
  const admin = cluster.kubeConfig();
  const server = admin.getCurrentCluster();
  if (!server) throw new Error(`no cluster in ${cluster.kubeconfigPath}`);
  const file = join(dir, `kubeconfig-${namespace}-${name}`);
  const user = `${namespace}-${name}`;
  writeFileSync(file, stringify({
    apiVersion: 'v1', kind: 'Config', 'current-context': cluster.name,
    clusters: [{ name: cluster.name, cluster: { server: server.server, 'certificate-authority-data': server.caData } }],
    users: [{ name: user, user: { token } }],
    contexts: [{ name: cluster.name, context: { cluster: cluster.name, user } }],
  }), { mode: 0o600 });
  return file;
}

/** Whether the API server's RBAC lets `user` do `verb` on `resource` (a SubjectAccessReview asked as the admin). */
export async function allowed(cluster: KubeCluster, user: string, attrs: { verb: string; resource: string; group?: string; namespace?: string }): Promise<boolean> {
  const authz = cluster.kubeConfig().makeApiClient(AuthorizationV1Api);
  const groups = user.startsWith('system:serviceaccount:') ? ['system:serviceaccounts', `system:serviceaccounts:${user.split(':')[2] ?? ''}`, 'system:authenticated'] : ['system:authenticated'];
  const review = await authz.createSubjectAccessReview({
    body: {
      apiVersion: 'authorization.k8s.io/v1', kind: 'SubjectAccessReview',
      spec: { user, groups, resourceAttributes: { verb: attrs.verb, resource: attrs.resource, group: attrs.group ?? '', ...(attrs.namespace !== undefined ? { namespace: attrs.namespace } : {}) } },
    },
  });
  return review.status?.allowed === true;
}
