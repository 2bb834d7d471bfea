// The agent's state at rest, against a real kube-apiserver: artifacts are cached in ConfigMaps,
// those with a Secret not at all by default and in Secrets with cacheSecretArtifacts; ConfigMaps
// of older agents holding Secrets are deleted at start (moved to Secrets with the option); the
// cache keeps the desired state's artifacts and a bounded number of others.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { stringify } from 'yaml';
import { AgentStateStore, MAX_CACHED_ARTIFACT_BYTES, RETAINED_UNREFERENCED_ARTIFACTS, type AgentState } from '../../agents/agent-state.js';
import { ClusterClient } from '../../agents/apply/cluster-client.js';
import { digestOf } from '../../core/digest.js';
import type { KubeObject } from '../../core/objects.js';
import { useEnvironment } from '../harness/index.js';

const env = useEnvironment({ clusters: ['state'] });

const client = (): ClusterClient => new ClusterClient(env().cluster('state').kubeConfig());

const secretManifests = (n: number): string => [
  { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'apps' } },
  { apiVersion: 'v1', kind: 'Secret', metadata: { name: `db-${n}`, namespace: 'apps' }, stringData: { password: `hunter${n}` } },
].map((o) => stringify(o)).join('---\n');

const plainManifests = (n: number): string =>
  stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: `settings-${n}`, namespace: 'apps' }, data: { n: String(n) } });

const nameOf = (digest: string): string => `flotilla-artifact-${digest.slice('sha256:'.length, 'sha256:'.length + 40)}`;

const header = (kind: string, name: string, namespace: string): KubeObject => ({ apiVersion: 'v1', kind, metadata: { name, namespace } });

function stateWith(version: number, digests: readonly string[]): AgentState {
  return {
    desired: {
      version: String(version),
      deployments: digests.map((d, i) => ({
        name: `d${i}`, generation: String(version), artifactDigest: d,
        options: { prune: true, force: false, correctDrift: true, defaultNamespace: 'default', healthTimeoutSeconds: 0 },
      })),
    },
    applied: {},
  };
}

async function cachedArtifacts(namespace: string): Promise<string[]> {
  const c = client();
  const all = [...await c.list('v1', 'ConfigMap', { namespace }), ...await c.list('v1', 'Secret', { namespace })];
  return all.filter((o) => o.metadata.name.startsWith('flotilla-artifact-')).map((o) => `${o.kind}/${o.metadata.name}`).sort();
}

/** A ClusterClient that fails every Secret request: what the chart's default Role allows. */
function withoutSecrets(): { client: ClusterClient; secretCalls: string[] } {
  const c = client();
  const secretCalls: string[] = [];
  const refuse = (verb: string, kind: string): void => {
    if (kind === 'Secret') {
      secretCalls.push(verb);
      throw new Error(`secrets ${verb} is forbidden`);
    }
  };
  const [get, apply, del, list] = [c.get.bind(c), c.apply.bind(c), c.delete.bind(c), c.list.bind(c)];
  Object.assign(c, {
    get: async (o: KubeObject) => { refuse('get', o.kind); return get(o); },
    apply: async (o: KubeObject, opts: Parameters<ClusterClient['apply']>[1]) => { refuse('apply', o.kind); return apply(o, opts); },
    delete: async (o: KubeObject) => { refuse('delete', o.kind); return del(o); },
    list: async (v: string, kind: string, opts?: Parameters<ClusterClient['list']>[2]) => { refuse('list', kind); return list(v, kind, opts); },
  });
  return { client: c, secretCalls };
}

describe('agent state at rest', () => {
  it('by default keeps an artifact with a Secret out of the cluster, and touches no Secret', async () => {
    const ns = 'flotilla-state-off';
    const { client: c, secretCalls } = withoutSecrets();
    const warnings: string[] = [];
    const store = new AgentStateStore(c, ns, (message, _fields, level) => { if (level === 'warn' || level === 'error') warnings.push(message); });
    const withSecret = secretManifests(5);
    const plain = plainManifests(5);
    assert.equal(await store.saveArtifact(digestOf(withSecret), withSecret), undefined, 'not cached in the cluster');
    assert.equal(await store.saveArtifact(digestOf(plain), plain), 'ConfigMap');
    assert.deepEqual(await cachedArtifacts(ns), [`ConfigMap/${nameOf(digestOf(plain))}`], 'neither a ConfigMap nor a Secret for the artifact with a Secret');
    const all = [...await client().list('v1', 'ConfigMap', { namespace: ns }), ...await client().list('v1', 'Secret', { namespace: ns })];
    assert.ok(!all.some((o) => JSON.stringify(o).includes('hunter5')), 'its data is nowhere in the namespace');
    // After a restart: not in the cluster, so fetched from the hub again.
    assert.equal(await store.loadArtifact(digestOf(withSecret)), undefined);
    assert.equal(await store.loadArtifact(digestOf(plain)), plain);
    // Eviction runs on ConfigMaps only.
    await store.save(stateWith(1, [digestOf(withSecret), digestOf(plain)]));
    await store.load();
    assert.deepEqual(secretCalls, [], 'no Secret was read, listed, written or deleted');
    assert.deepEqual(warnings, [], 'and nothing was refused');
  });

  it('by default deletes artifact ConfigMaps of older agents that hold a Secret when it starts', async () => {
    const ns = 'flotilla-state-migrate-off';
    const c = client();
    await c.ensureNamespace(ns);
    const withSecret = secretManifests(6);
    const plain = plainManifests(6);
    for (const text of [withSecret, plain]) {
      await c.apply({ ...header('ConfigMap', nameOf(digestOf(text)), ns), metadata: { name: nameOf(digestOf(text)), namespace: ns, labels: { 'app.kubernetes.io/managed-by': 'flotilla-agent' } }, data: { manifests: text } }, { force: true });
    }
    const { client: restricted, secretCalls } = withoutSecrets();
    const store = new AgentStateStore(restricted, ns);
    await store.load(); // at start
    assert.deepEqual(await cachedArtifacts(ns), [`ConfigMap/${nameOf(digestOf(plain))}`], 'the ConfigMap holding a Secret is gone, and no Secret made');
    assert.equal(await store.loadArtifact(digestOf(withSecret)), undefined, 'fetched from the hub again');
    assert.equal(await store.loadArtifact(digestOf(plain)), plain);
    assert.deepEqual(secretCalls, []);
  });

  it('by default bounds the cached ConfigMaps alone after several desired states', async () => {
    const ns = 'flotilla-state-bounded-off';
    const { client: c, secretCalls } = withoutSecrets();
    const store = new AgentStateStore(c, ns);
    const always = plainManifests(200);
    const digests: string[] = [];
    for (let v = 1; v <= 6; v++) {
      const text = v % 2 === 0 ? secretManifests(20 + v) : plainManifests(20 + v);
      digests.push(digestOf(text));
      await store.save(stateWith(v, [digestOf(always), digestOf(text)]));
      if (v === 1) await store.saveArtifact(digestOf(always), always);
      await store.saveArtifact(digestOf(text), text);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    // Only the plain ones (versions 1, 3, 5) were cached; at version 6 the oldest other goes.
    assert.equal(RETAINED_UNREFERENCED_ARTIFACTS, 2);
    assert.deepEqual(await cachedArtifacts(ns), [digestOf(always), digests[2] ?? '', digests[4] ?? ''].map((d) => `ConfigMap/${nameOf(d)}`).sort());
    assert.deepEqual(secretCalls, []);
  });

  it('with cacheSecretArtifacts caches an artifact with a Secret in a Secret, any other in a ConfigMap', async () => {
    const ns = 'flotilla-state-kinds';
    const store = new AgentStateStore(client(), ns, undefined, { cacheSecretArtifacts: true });
    const withSecret = secretManifests(1);
    const plain = plainManifests(1);
    assert.equal(await store.saveArtifact(digestOf(withSecret), withSecret), 'Secret');
    assert.equal(await store.saveArtifact(digestOf(plain), plain), 'ConfigMap');

    const c = client();
    const secret = await c.get(header('Secret', nameOf(digestOf(withSecret)), ns));
    assert.ok(secret, 'the artifact with a Secret is in a Secret');
    assert.equal(secret.type, 'Opaque');
    assert.equal(Buffer.from(String((secret.data as Record<string, string>).manifests), 'base64').toString('utf8'), withSecret);
    assert.equal(await c.get(header('ConfigMap', nameOf(digestOf(withSecret)), ns)), undefined, 'and not in a ConfigMap');
    assert.ok(await c.get(header('ConfigMap', nameOf(digestOf(plain)), ns)), 'the plain artifact is in a ConfigMap');
    assert.equal(await c.get(header('Secret', nameOf(digestOf(plain)), ns)), undefined);
    // No ConfigMap in the namespace holds the Secret's data.
    const configMaps = await c.list('v1', 'ConfigMap', { namespace: ns });
    assert.ok(!configMaps.some((cm) => JSON.stringify(cm).includes('hunter1')));

    assert.equal(await store.loadArtifact(digestOf(withSecret)), withSecret, 'read back from the Secret');
    assert.equal(await store.loadArtifact(digestOf(plain)), plain, 'read back from the ConfigMap');
    assert.equal(await store.loadArtifact(digestOf('never cached')), undefined);

    const huge = plainManifests(2) + `# ${'x'.repeat(MAX_CACHED_ARTIFACT_BYTES)}\n`;
    assert.equal(await store.saveArtifact(digestOf(huge), huge), undefined, 'too large to cache: fetched from the hub again');
    assert.equal(await store.loadArtifact(digestOf(huge)), undefined);
  });

  it('with cacheSecretArtifacts moves artifact ConfigMaps of older agents that hold a Secret to Secrets when it starts', async () => {
    const ns = 'flotilla-state-migrate';
    const c = client();
    await c.ensureNamespace(ns);
    const withSecret = secretManifests(2);
    const plain = plainManifests(3);
    // What an older agent wrote: every artifact in a ConfigMap.
    for (const text of [withSecret, plain]) {
      await c.apply({ ...header('ConfigMap', nameOf(digestOf(text)), ns), metadata: { name: nameOf(digestOf(text)), namespace: ns, labels: { 'app.kubernetes.io/managed-by': 'flotilla-agent' } }, data: { manifests: text } }, { force: true });
    }
    const store = new AgentStateStore(client(), ns, undefined, { cacheSecretArtifacts: true });
    await store.load(); // at start
    assert.deepEqual(await cachedArtifacts(ns), [`ConfigMap/${nameOf(digestOf(plain))}`, `Secret/${nameOf(digestOf(withSecret))}`].sort());
    assert.equal(await store.loadArtifact(digestOf(withSecret)), withSecret, 'still cached, now in a Secret');
    assert.equal(await store.loadArtifact(digestOf(plain)), plain);
  });

  it('with cacheSecretArtifacts keeps the desired state\'s artifacts and the newest others after several desired states', async () => {
    const ns = 'flotilla-state-bounded';
    const store = new AgentStateStore(client(), ns, undefined, { cacheSecretArtifacts: true });
    const always = plainManifests(100); // referenced by every desired state
    const digests: string[] = [];
    for (let v = 1; v <= 6; v++) {
      const text = v % 2 === 0 ? secretManifests(10 + v) : plainManifests(10 + v);
      digests.push(digestOf(text));
      // As the agent does: the desired state is saved, then its artifacts are downloaded and cached.
      await store.save(stateWith(v, [digestOf(always), digestOf(text)]));
      if (v === 1) await store.saveArtifact(digestOf(always), always);
      await store.saveArtifact(digestOf(text), text);
      await new Promise((resolve) => setTimeout(resolve, 5)); // distinct saved-at times
    }
    const kinds = (d: string, i: number): string => `${(i + 1) % 2 === 0 ? 'Secret' : 'ConfigMap'}/${nameOf(d)}`;
    // Referenced by version 6: `always` and digests[5]; kept besides: the newest 2 others.
    const expected = [`ConfigMap/${nameOf(digestOf(always))}`, ...digests.map(kinds).slice(5 - RETAINED_UNREFERENCED_ARTIFACTS)].sort();
    assert.deepEqual(await cachedArtifacts(ns), expected);

    // The next desired state drops `always`: it is an "other" now, and the oldest others go.
    await store.save(stateWith(7, [digests[5] ?? '']));
    const left = await cachedArtifacts(ns);
    assert.equal(left.length, 1 + RETAINED_UNREFERENCED_ARTIFACTS, left.join(', '));
    assert.ok(left.includes(kinds(digests[5] ?? '', 5)));
    assert.ok(left.includes(kinds(digests[4] ?? '', 4)) && left.includes(kinds(digests[3] ?? '', 3)), 'the two newest others');
  });
});
