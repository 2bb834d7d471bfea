// The agent's state at rest, against a real kube-apiserver: artifacts with a Secret are cached
// in Secrets, others in ConfigMaps; ConfigMaps of older agents holding Secrets are moved at
// start; the cache keeps the desired state's artifacts and a bounded number of others.
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

describe('agent state at rest', () => {
  it('caches an artifact with a Secret in a Secret, any other in a ConfigMap', async () => {
    const ns = 'flotilla-state-kinds';
    const store = new AgentStateStore(client(), ns);
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

  it('moves artifact ConfigMaps of older agents that hold a Secret to Secrets when it starts', async () => {
    const ns = 'flotilla-state-migrate';
    const c = client();
    await c.ensureNamespace(ns);
    const withSecret = secretManifests(2);
    const plain = plainManifests(3);
    // What an older agent wrote: every artifact in a ConfigMap.
    for (const text of [withSecret, plain]) {
      await c.apply({ ...header('ConfigMap', nameOf(digestOf(text)), ns), metadata: { name: nameOf(digestOf(text)), namespace: ns, labels: { 'app.kubernetes.io/managed-by': 'flotilla-agent' } }, data: { manifests: text } }, { force: true });
    }
    const store = new AgentStateStore(client(), ns);
    await store.load(); // at start
    assert.deepEqual(await cachedArtifacts(ns), [`ConfigMap/${nameOf(digestOf(plain))}`, `Secret/${nameOf(digestOf(withSecret))}`].sort());
    assert.equal(await store.loadArtifact(digestOf(withSecret)), withSecret, 'still cached, now in a Secret');
    assert.equal(await store.loadArtifact(digestOf(plain)), plain);
  });

  it('keeps the desired state\'s artifacts and the newest others after several desired states', async () => {
    const ns = 'flotilla-state-bounded';
    const store = new AgentStateStore(client(), ns);
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
