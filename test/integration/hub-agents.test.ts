// Hub and agents end to end: real gRPC over TLS on loopback, a real Temporal server with
// the cluster actors, and agents applying to real clusters.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { credentials, Metadata, status, type ServiceError } from '@grpc/grpc-js';
import { stringify } from 'yaml';
import { clusterStatusQuery, clusterWorkflowId, setDeploymentUpdate, type ClusterStatus } from '../../api/cluster.js';
import { Agent } from '../../agents/agent.js';
import { ClusterClient } from '../../agents/apply/cluster-client.js';
import { createDeliveryActivities } from '../../activities/agent-delivery.js';
import { FileArtifactStore } from '../../hub/artifact-store.js';
import { FileBlobStore } from '../../hub/blob-store.js';
import { TemporalFleet } from '../../hub/fleet.js';
import { AgentGateway } from '../../hub/gateway.js';
import { RegistrationStore } from '../../hub/registration.js';
import { ensureSelfSignedTls, type TlsMaterial } from '../../hub/tls.js';
import { CLUSTER_METADATA, agentProto } from '../../proto/load.js';
import type { KubeObject } from '../../core/objects.js';
import { startWorker, useEnvironment, type RunningWorker } from '../harness/index.js';


interface Hub {
  dir: string;
  registration: RegistrationStore;
  artifacts: FileArtifactStore;
  gateway: AgentGateway;
  worker: RunningWorker;
  tls: TlsMaterial;
  address: string;
}
let hub: Hub | undefined;
const agents: Agent[] = [];

function theHub(): Hub {
  if (!hub) throw new Error('hub not started');
  return hub;
}

const env = useEnvironment({ clusters: ['east', 'west'] }, { afterStart: startHub, beforeStop: stopHub });

async function startHub(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'flotilla-hub-'));
  const registration = new RegistrationStore(new FileBlobStore(dir));
  const artifacts = new FileArtifactStore(join(dir, 'artifacts'));
  const tls = await ensureSelfSignedTls(join(dir, 'tls'));
  // The worker's activities reach the gateway, and the gateway's fleet hooks use the worker's client.
  const late: { gateway?: AgentGateway } = {};
  const worker = await startWorker(env(), {
    taskQueue: 'hub',
    workflowsPath: fileURLToPath(new URL('../../workflows/index.js', import.meta.url)),
    activities: createDeliveryActivities({ sendDesiredState: (c, d) => late.gateway?.sendDesiredState(c, d) ?? false }),
  });
  const gateway = new AgentGateway({ registration, artifacts, fleet: new TemporalFleet(worker.client, 'hub', registration), heartbeatIntervalSeconds: 1 });
  late.gateway = gateway;
  const port = await gateway.listen('127.0.0.1:0', tls);
  hub = { dir, registration, artifacts, gateway, worker, tls, address: `127.0.0.1:${port}` };
}

async function stopHub(): Promise<void> {
  for (const a of agents) await a.stop();
  await hub?.gateway.stop();
  await hub?.worker.shutdown();
  if (hub) rmSync(hub.dir, { recursive: true, force: true });
}

function rawClient(): InstanceType<ReturnType<typeof agentProto>['AgentGateway']> {
  const Ctor = agentProto().AgentGateway;
  return new Ctor(theHub().address, credentials.createSsl(theHub().tls.ca));
}

function register(token: string, cluster: string): Promise<{ credential: string }> {
  return new Promise((resolve, reject) => {
    rawClient().Register({ token, cluster, agent_version: 'test' }, (err, res) => { if (err || !res) reject(err ?? new Error('no response')); else resolve(res); });
  });
}

function refusedWith(code: status, pattern: RegExp) {
  return (err: unknown): boolean => {
    const e = err as ServiceError;
    assert.equal(e.code, code, `status ${String(e.code)}: ${e.details}`);
    assert.match(e.details, pattern);
    return true;
  };
}

/**
 * east's agent runs with small caps (--max-artifact-bytes, --max-objects): above one gateway
 * chunk (256 KiB, hub/gateway.ts), so a refusal mid-stream shows; far above what the other
 * tests publish (a few hundred bytes, a few objects).
 */
const EAST_BOUNDS = { maxArtifactBytes: 300 * 1024, maxObjects: 20 };

async function startAgent(cluster: string, token: string): Promise<Agent> {
  const agent = new Agent({
    hubAddress: theHub().address, hubCa: theHub().tls.ca, cluster, token,
    kubeConfig: env().cluster(cluster).kubeConfig(), driftIntervalMs: 1000,
    ...(cluster === 'east' ? { bounds: EAST_BOUNDS } : {}),
  });
  agents.push(agent);
  await agent.start();
  return agent;
}

const configMap = (name: string, namespace: string, data: Record<string, string>): KubeObject =>
  ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace }, data });

async function publish(objects: KubeObject[]): Promise<string> {
  return theHub().artifacts.put(objects.map((o) => stringify(o)).join('---\n'));
}

async function waitForStatus(cluster: string, done: (s: ClusterStatus) => boolean, timeoutMs = 60_000): Promise<ClusterStatus> {
  const handle = theHub().worker.client.workflow.getHandle(clusterWorkflowId(cluster));
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    let s: ClusterStatus | undefined;
    try { s = await handle.query(clusterStatusQuery); } catch { /* not started yet */ }
    if (s && done(s)) return s;
    if (Date.now() > deadline) assert.fail(`cluster ${cluster} did not reach the expected status: ${JSON.stringify(s)}`);
    await sleep(250);
  }
}

const options = { prune: true, force: false, correctDrift: true, defaultNamespace: 'default', healthTimeoutSeconds: 30 };

describe('registration', () => {
  it('refuses forged, expired and reused tokens with a clear status', async () => {
    await assert.rejects(register('flt_reg_forged', 'nobody'), refusedWith(status.UNAUTHENTICATED, /not valid/));
    const short = (await theHub().registration.createToken({ ttlMs: 1 }));
    await sleep(10);
    await assert.rejects(register(short.token, 'late'), refusedWith(status.UNAUTHENTICATED, /expired/));
    const once = (await theHub().registration.createToken({ ttlMs: 60_000 }));
    await register(once.token, 'first');
    await assert.rejects(register(once.token, 'second'), refusedWith(status.UNAUTHENTICATED, /already used/));
  });
});

describe('agents', () => {
  it('register, receive their own desired state, apply it and report Ready', async () => {
    const h = theHub();
    await startAgent('east', (await h.registration.createToken({ ttlMs: 60_000, labels: { region: 'east' } })).token);
    await startAgent('west', (await h.registration.createToken({ ttlMs: 60_000, labels: { region: 'west' } })).token);
    await waitForStatus('east', (s) => s.connection === 'Connected');
    await waitForStatus('west', (s) => s.connection === 'Connected');

    const eastDigest = await publish([{ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'apps' } }, configMap('settings', 'apps', { region: 'east' })]);
    const westDigest = await publish([{ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'apps' } }, configMap('settings', 'apps', { region: 'west' })]);
    const client = h.worker.client;
    await client.workflow.getHandle(clusterWorkflowId('east')).executeUpdate(setDeploymentUpdate, { args: [{ name: 'apps', generation: 1, artifactDigest: eastDigest, options }] });
    await client.workflow.getHandle(clusterWorkflowId('west')).executeUpdate(setDeploymentUpdate, { args: [{ name: 'apps', generation: 1, artifactDigest: westDigest, options }] });

    for (const cluster of ['east', 'west']) {
      const s = await waitForStatus(cluster, (st) => st.reports.some((r) => r.name === 'apps' && r.generation === 1 && r.phase === 'READY'));
      assert.equal(s.labels.region, cluster);
      assert.equal(s.kubernetesVersion, 'v1.30.14');
      assert.ok(s.apiResources > 40, `Hello listed the served kinds (${s.apiResources})`);
      const live = await new ClusterClient(env().cluster(cluster).kubeConfig()).get(configMap('settings', 'apps', {}));
      assert.equal((live?.data as Record<string, string> | undefined)?.region, cluster, `${cluster} holds its own desired state`);
    }
  });

  it('refuses a credential used for another cluster, for the stream and for artifacts', async () => {
    const eastCredential = await credentialOf('east');
    refusedWith(status.PERMISSION_DENIED, /another cluster/)(await connectRefusal(eastCredential, 'west'));

    const westDigest = (await waitForStatus('west', () => true)).desired.deployments[0]?.artifactDigest ?? '';
    const fetchRefused = await new Promise<ServiceError>((resolve) => {
      rawClient().FetchArtifact({ digest: westDigest }, agentMetadata(eastCredential, 'east')).on('error', resolve).on('data', () => undefined);
    });
    refusedWith(status.PERMISSION_DENIED, /not part of cluster east's desired state/)(fetchRefused);
  });

  it('refuses a tampered artifact', async () => {
    const h = theHub();
    const digest = await publish([configMap('tampered', 'apps', { v: '1' })]);
    writeFileSync(join(h.dir, 'artifacts', 'sha256', digest.slice(7)), stringify(configMap('tampered', 'apps', { v: 'evil' })));
    await h.worker.client.workflow.getHandle(clusterWorkflowId('east')).executeUpdate(setDeploymentUpdate, { args: [{ name: 'tampered', generation: 1, artifactDigest: digest, options }] });
    const s = await waitForStatus('east', (st) => st.reports.some((r) => r.name === 'tampered' && r.phase === 'FAILED'));
    assert.match(s.reports.find((r) => r.name === 'tampered')?.message ?? '', /digest mismatch/);
    const live = await new ClusterClient(env().cluster('east').kubeConfig()).get(configMap('tampered', 'apps', {}));
    assert.equal(live, undefined, 'nothing from a tampered artifact is applied');
  });

  it('refuses an artifact over the agent\'s --max-artifact-bytes while downloading, and one over --max-objects, naming the cap; what runs is untouched', async () => {
    const h = theHub();
    const east = new ClusterClient(env().cluster('east').kubeConfig());
    const handle = h.worker.client.workflow.getHandle(clusterWorkflowId('east'));
    const reportOf = async (generation: number, phase: string): Promise<string> => {
      const s = await waitForStatus('east', (st) => st.reports.some((r) => r.name === 'capped' && r.generation === generation && r.phase === phase));
      return s.reports.find((r) => r.name === 'capped')?.message ?? '';
    };
    const running = configMap('capped', 'apps', { v: '1' });
    await handle.executeUpdate(setDeploymentUpdate, { args: [{ name: 'capped', generation: 1, artifactDigest: await publish([running]), options }] });
    await reportOf(1, 'READY');

    // 2 MiB of manifests: refused once the received bytes pass 300 KiB, i.e. after 2 chunks.
    const big = await publish([configMap('capped', 'apps', { v: '2', blob: 'x'.repeat(2 * 2 ** 20) })]);
    await handle.executeUpdate(setDeploymentUpdate, { args: [{ name: 'capped', generation: 2, artifactDigest: big, options }] });
    const tooLarge = await reportOf(2, 'FAILED');
    assert.match(tooLarge, new RegExp(`artifact ${big} is larger than the agent's cap of 300 KiB \\(--max-artifact-bytes, chart value limits\\.maxArtifactBytes\\): refused after 512 KiB while downloading; nothing of it was applied and what runs is unchanged; make the deployment smaller .* or raise --max-artifact-bytes of this cluster's agent`));
    assert.equal(((await east.get(running))?.data as Record<string, string> | undefined)?.v, '1', 'generation 1 still runs');

    // 21 small objects (~2 KiB): under the byte cap, over the object cap.
    const many = Array.from({ length: 21 }, (_, i) => configMap(`capped-${i}`, 'apps', { v: '3' }));
    await handle.executeUpdate(setDeploymentUpdate, { args: [{ name: 'capped', generation: 3, artifactDigest: await publish(many), options }] });
    const tooMany = await reportOf(3, 'INVALID');
    assert.match(tooMany, /refused: more than 20 objects, the most the agent accepts in one artifact \(--max-objects, chart value limits\.maxObjects\); nothing of it was applied .* or raise --max-objects of this cluster's agent/);
    assert.equal(((await east.get(running))?.data as Record<string, string> | undefined)?.v, '1', 'generation 1 still runs, not pruned');
    assert.equal(await east.get(configMap('capped-0', 'apps', {})), undefined, 'nothing of the refused artifact is applied');
  });

  it('refuses a revoked cluster on its next connection', async () => {
    const credential = await credentialOf('west');
    assert.equal(await theHub().registration.revoke('west'), true);
    refusedWith(status.UNAUTHENTICATED, /revoked: register again/)(await connectRefusal(credential, 'west'));
  });

  it('restores a deleted object while the hub is down', async () => {
    await theHub().gateway.stop();
    await waitForStatus('east', (s) => s.connection !== 'Connected');
    const east = new ClusterClient(env().cluster('east').kubeConfig());
    assert.equal(await east.delete(configMap('settings', 'apps', {})), true);
    const deadline = Date.now() + 30_000;
    let restored: KubeObject | undefined;
    while (!restored && Date.now() < deadline) {
      await sleep(250);
      restored = await east.get(configMap('settings', 'apps', {}));
    }
    assert.equal((restored?.data as Record<string, string> | undefined)?.region, 'east', 'the agent put it back on its own');
  });

});

function agentMetadata(credential: string, cluster: string): Metadata {
  const md = new Metadata();
  md.set('authorization', `Bearer ${credential}`);
  md.set(CLUSTER_METADATA, cluster);
  return md;
}

/** Opens a stream as `cluster` with `credential`, says Hello, and returns the refusal. */
async function connectRefusal(credential: string, cluster: string): Promise<ServiceError> {
  const stream = rawClient().Connect(agentMetadata(credential, cluster));
  const refused = new Promise<ServiceError>((resolve) => { stream.on('error', resolve); });
  stream.write({ hello: { cluster, agent_version: 'x', kubernetes_version: 'x', api_resources: [], desired_state_version: '0' } });
  return refused;
}

async function credentialOf(cluster: string): Promise<string> {
  const secret = await new ClusterClient(env().cluster(cluster).kubeConfig()).get({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'flotilla-agent-credential', namespace: 'flotilla-system' } });
  const data = secret?.data as Record<string, string> | undefined;
  return Buffer.from(data?.credential ?? '', 'base64').toString('utf8');
}
