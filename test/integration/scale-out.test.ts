// Two hubs serve one fleet: the same Temporal namespace and task queue, one S3-compatible
// store (a real MinIO) for artifacts, registrations and hub ConfigMaps/Secrets, one gateway
// certificate and one API token. Three agents, each told both hub addresses, start on
// different hubs. One hub is SIGKILLed in the middle of a progressive rollout: its agents
// move to the other hub, the rollout carries on there and completes, and every cluster
// applies the rollout's generation exactly once.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { stringify } from 'yaml';
import { Client, Connection } from '@temporalio/client';
import { clusterStatusQuery, clusterWorkflowId, type ClusterStatus } from '../../api/cluster.js';
import { rolloutWorkflowId, type RolloutStatus } from '../../api/rollout.js';
import { bin, hubToolFlags } from '../../deploy/dev/binaries.js';
import { agentMain, cliMain, hubMain } from '../../deploy/dev/local-fleet.js';
import { freePorts } from '../../deploy/dev/ports.js';
import { ManagedProcess, waitFor } from '../../deploy/dev/processes.js';
import { startS3Server } from '../../deploy/dev/s3-server.js';
import { DeclarationClient } from '../../hub/declarations.js';
import { S3BlobStore } from '../../hub/s3-store.js';
import { ensureSelfSignedTls } from '../../hub/tls.js';
import { GitRepo } from '../harness/git.js';
import { replayLive } from '../harness/replay.js';
import { useEnvironment } from '../harness/index.js';
import { DEV_SOURCE_POLICY } from '../../deploy/dev/source-policy.js';

const run = promisify(execFile);
const CLUSTERS = ['one', 'two', 'three'] as const;
type Cluster = typeof CLUSTERS[number];
const TASK_QUEUE = 'flotilla-hub';
const ID = 'kustomization/flux-system/web';
const BUCKET = 'flotilla-fleet';
const PREFIX = 'hubs/';

interface Hub {
  readonly id: string;
  readonly grpc: string;
  readonly url: string;
  process?: ManagedProcess;
}

interface State {
  dir: string;
  s3: Awaited<ReturnType<typeof startS3Server>>;
  hubs: [Hub, Hub];
  agents: Map<Cluster, ManagedProcess>;
  connection: Connection;
  client: Client;
  declarations: DeclarationClient;
  apiToken: string;
  repo: GitRepo;
  store: S3BlobStore;
}
let state: State | undefined;
const s = (): State => {
  if (!state) throw new Error('fleet not started');
  return state;
};

const env = useEnvironment({ clusters: [...CLUSTERS] }, { afterStart: start, beforeStop: stop });

function hubQueueOf(hub: Hub): string {
  return `${TASK_QUEUE}/hub/${hub.id}`;
}

async function start(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'flotilla-scale-out-'));
  const s3 = await startS3Server({ dir: join(dir, 's3') });
  const temporal = env().temporalServer();
  // What a chart gives every replica: one certificate (a Secret), one API token, one config file.
  await ensureSelfSignedTls(join(dir, 'tls'));
  const apiTokenFile = join(dir, 'api-token');
  writeFileSync(apiTokenFile, 'scale-out-test-token\n', { mode: 0o600 });
  writeFileSync(join(dir, 'hub.yaml'), stringify({
    temporal: { address: temporal.address, namespace: temporal.namespace, taskQueue: TASK_QUEUE },
    grpc: { tlsCertFile: join(dir, 'tls', 'hub.crt'), tlsKeyFile: join(dir, 'tls', 'hub.key'), heartbeatSeconds: 1 },
    http: { apiTokenFile },
    store: { type: 's3', s3: { endpoint: s3.endpoint, bucket: BUCKET, region: s3.region, prefix: PREFIX } },
    // The test's git repositories are file:// and its servers on loopback: allowed explicitly (the default refuses them).
    sources: { allowSchemes: [...DEV_SOURCE_POLICY.allowSchemes], allowHosts: [...DEV_SOURCE_POLICY.allowHosts] },
  }));
  const [g1 = 0, h1 = 0, g2 = 0, h2 = 0] = await freePorts(4);
  const hubs: [Hub, Hub] = [
    { id: 'hub-1', grpc: `127.0.0.1:${g1}`, url: `http://127.0.0.1:${h1}` },
    { id: 'hub-2', grpc: `127.0.0.1:${g2}`, url: `http://127.0.0.1:${h2}` },
  ];
  const connection = await Connection.connect({ address: temporal.address });
  const client = new Client({ connection, namespace: temporal.namespace });
  const store = new S3BlobStore({ endpoint: s3.endpoint, bucket: BUCKET, region: s3.region, prefix: PREFIX, accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey });
  state = {
    dir, s3, hubs, agents: new Map(), connection, client, declarations: new DeclarationClient(client, TASK_QUEUE),
    apiToken: 'scale-out-test-token', repo: new GitRepo(join(dir, 'fleet')), store,
  };
  for (const hub of hubs) await startHub(hub);
  // Registration through either hub: one, three via hub-1, two via hub-2; each agent is told
  // both addresses, its own hub first.
  for (const cluster of CLUSTERS) {
    const home = cluster === 'two' ? hubs[1] : hubs[0];
    const other = home === hubs[0] ? hubs[1] : hubs[0];
    const token = await createToken(home, cluster);
    const agent = ManagedProcess.start({
      name: `agent[${cluster}]`, command: process.execPath, logFile: join(dir, `agent-${cluster}.log`),
      args: [agentMain, '--hub', `${home.grpc},${other.grpc}`, '--hub-ca', join(dir, 'tls', 'hub.crt'), '--cluster', cluster,
        '--labels', `fleet=scale-out,name=${cluster}`, '--kubeconfig', env().cluster(cluster).kubeconfigPath, '--drift-interval', '0'],
      env: { ...process.env, FLOTILLA_TOKEN: token },
    });
    s().agents.set(cluster, agent);
    await waitForCluster(cluster, (c) => c.connection === 'Connected' && c.hub === hubQueueOf(home), `connected to ${home.id}`, agent);
  }
}

async function stop(): Promise<void> {
  if (!state) return;
  for (const a of state.agents.values()) await a.stop();
  for (const h of state.hubs) await h.process?.stop();
  await state.connection.close();
  await state.s3.stop();
  if (process.env.FLOTILLA_KEEP_TEST_DIRS) console.log(`kept ${state.dir}`);
  else rmSync(state.dir, { recursive: true, force: true });
}

async function startHub(hub: Hub): Promise<void> {
  const { dir, s3 } = s();
  const log = join(dir, `${hub.id}.log`);
  hub.process = ManagedProcess.start({
    name: `flotilla-hub[${hub.id}]`, command: process.execPath, logFile: log,
    args: [hubMain, 'serve', ...hubToolFlags(), '--config', join(dir, 'hub.yaml'), '--data-dir', join(dir, hub.id), '--hub-id', hub.id,
      '--listen', hub.grpc, '--http', hub.url.replace('http://', '')],
    env: { ...process.env, AWS_ACCESS_KEY_ID: s3.accessKeyId, AWS_SECRET_ACCESS_KEY: s3.secretAccessKey },
  });
  const proc = hub.process;
  await waitFor(`${hub.id} ready`, () => Promise.resolve(readFileSync(log, 'utf8').includes('"hub ready"') ? true : undefined), { timeoutMs: 60_000, process: proc });
}

/** A one-time token bound to the cluster, from the hub's API. */
async function createToken(hub: Hub, cluster: string): Promise<string> {
  const res = await fetch(`${hub.url}/api/v1/clusters/tokens`, {
    method: 'POST', headers: { authorization: `Bearer ${s().apiToken}`, 'content-type': 'application/json' },
    body: JSON.stringify({ cluster, ttlSeconds: 600 }),
  });
  assert.equal(res.status, 201, await res.clone().text());
  return ((await res.json()) as { token: string }).token;
}

async function clusterStatus(cluster: string): Promise<ClusterStatus | undefined> {
  return s().client.workflow.getHandle(clusterWorkflowId(cluster)).query(clusterStatusQuery).catch(() => undefined);
}

async function waitForCluster(cluster: string, done: (c: ClusterStatus) => boolean, what: string, process?: ManagedProcess, timeoutMs = 60_000): Promise<ClusterStatus> {
  return waitFor(`${cluster} ${what}`, async () => {
    const c = await clusterStatus(cluster);
    return c && done(c) ? c : undefined;
  }, { timeoutMs, intervalMs: 200, ...(process ? { process } : {}) });
}

async function cli(...args: string[]): Promise<string> {
  const temporal = env().temporalServer();
  const { stdout } = await run(process.execPath, [cliMain, ...args], {
    env: {
      ...process.env, FLOTILLA_TEMPORAL: temporal.address, FLOTILLA_TEMPORAL_NAMESPACE: temporal.namespace, FLOTILLA_HUB: s().hubs[1].url, FLOTILLA_HUB_TOKEN: s().apiToken,
      // The hub's store, for the ConfigMaps and Secrets applied to the hub.
      FLOTILLA_STORE: 's3', FLOTILLA_S3_ENDPOINT: s().s3.endpoint, FLOTILLA_S3_BUCKET: BUCKET, FLOTILLA_S3_PREFIX: PREFIX,
      AWS_ACCESS_KEY_ID: s().s3.accessKeyId, AWS_SECRET_ACCESS_KEY: s().s3.secretAccessKey,
    },
  });
  return stdout;
}

function writeApp(version: string): string {
  s().repo.writeObjects('web/app.yaml', [
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'web' } },
    {
      apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web', namespace: 'web', annotations: { 'app-version': version, greeting: '${GREETING}' } },
      spec: {
        replicas: 1, selector: { matchLabels: { app: 'web' } },
        template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'web', image: `ghcr.io/stefanprodan/podinfo:${version}` }] } },
      },
    },
  ]);
  return s().repo.commit(`web ${version}`);
}

async function annotationOn(cluster: Cluster, key: string): Promise<string> {
  try {
    const { stdout } = await run(bin('kubectl'), ['--kubeconfig', env().cluster(cluster).kubeconfigPath, 'get', 'deployment', 'web', '-n', 'web', '-o', `jsonpath={.metadata.annotations.${key}}`]);
    return stdout.trim();
  } catch {
    return '-';
  }
}

function versionOn(cluster: Cluster): Promise<string> {
  return annotationOn(cluster, 'app-version');
}

/** When the cluster's agent last said it connected to the hub at `grpc` (ms since epoch). */
function reconnectedAt(cluster: Cluster, grpc: string): number {
  const agent = s().agents.get(cluster);
  assert.ok(agent);
  const times = readFileSync(agent.spec.logFile, 'utf8').split('\n').filter((l) => l.startsWith('{')).flatMap((l) => {
    const entry = JSON.parse(l) as { msg?: string; hub?: string; ts?: string };
    return entry.msg === 'connected to the hub' && entry.hub === grpc && entry.ts ? [Date.parse(entry.ts)] : [];
  });
  return Math.max(0, ...times);
}

/** The agent's "deployment applied" log lines for the Kustomization, by generation. */
function appliedGenerations(cluster: Cluster): string[] {
  const agent = s().agents.get(cluster);
  assert.ok(agent);
  return readFileSync(agent.spec.logFile, 'utf8').split('\n').filter((l) => l.startsWith('{')).flatMap((l) => {
    const entry = JSON.parse(l) as { msg?: string; deployment?: string; generation?: string };
    return entry.msg === 'deployment applied' && entry.deployment === ID ? [String(entry.generation)] : [];
  });
}

async function rolloutOf(commit: string, done: (r: RolloutStatus) => boolean, what: string, timeoutMs = 180_000): Promise<RolloutStatus> {
  return waitFor(`rollout of ${commit.slice(0, 7)}: ${what}`, async () => {
    const r = await s().declarations.rolloutStatus(ID).catch(() => undefined);
    return r && r.revision.endsWith(commit) && done(r) ? r : undefined;
  }, { timeoutMs, intervalMs: 250 });
}

describe('two hubs, one fleet', () => {
  it('share registrations, artifacts and the store: agents registered through either hub are known to both', async () => {
    for (const hub of s().hubs) {
      const res = await fetch(`${hub.url}/api/v1/clusters`, { headers: { authorization: `Bearer ${s().apiToken}` } });
      const clusters = (await res.json()) as { name: string; labels: Record<string, string> }[];
      assert.deepEqual(clusters.map((c) => c.name).sort(), [...CLUSTERS].sort(), `${hub.id} knows every cluster`);
      assert.deepEqual(clusters.find((c) => c.name === 'two')?.labels, { fleet: 'scale-out', name: 'two' }, 'labels the agent asked for');
    }
    assert.ok(await s().store.has('registration.json'), 'registrations live in the bucket');
    for (const hub of s().hubs) assert.ok(!existsSync(join(s().dir, hub.id, 'registration.json')), `${hub.id} keeps none of its own`);
  });

  it('a hub killed mid-rollout: its agents move, the rollout completes once', async () => {
    const { hubs } = s();
    const commit = writeApp('6.0.0');
    const objects = [
      // Read by whichever hub builds: it lives in the bucket, not in a hub's data directory.
      { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'web-vars', namespace: 'flux-system' }, data: { GREETING: 'hello-from-the-bucket' } },
      { apiVersion: 'source.toolkit.fluxcd.io/v1', kind: 'GitRepository', metadata: { name: 'fleet', namespace: 'flux-system' }, spec: { url: s().repo.url, interval: '10m', ref: { branch: 'main' } } },
      {
        apiVersion: 'kustomize.toolkit.fluxcd.io/v1', kind: 'Kustomization', metadata: { name: 'web', namespace: 'flux-system' },
        spec: {
          interval: '10m', prune: true, sourceRef: { kind: 'GitRepository', name: 'fleet' }, path: './web', timeout: '60s',
          postBuild: { substituteFrom: [{ kind: 'ConfigMap', name: 'web-vars' }] },
          placement: { clusterSelector: { matchLabels: { fleet: 'scale-out' } } },
          rollout: {
            onFailure: 'pause',
            waves: [
              { name: 'first', clusters: ['one'], bakeTime: '8s', healthTimeout: '30s' },
              { name: 'second', clusters: ['two'], bakeTime: '2s', healthTimeout: '30s' },
              { name: 'third', clusters: ['three'], bakeTime: '1s', healthTimeout: '30s' },
            ],
          },
        },
      },
    ];
    const file = join(s().dir, 'web.yaml');
    writeFileSync(file, objects.map((x) => stringify(x)).join('---\n'));
    await cli('apply', '-f', file);

    // Mid-rollout: the first wave applied and baking, the others not started.
    await rolloutOf(commit, (r) => r.waves[0]?.bakeUntil !== undefined && r.waves[1]?.startedAt === undefined, 'first wave baking');
    assert.equal(await versionOn('one'), '6.0.0');
    assert.equal(await versionOn('three'), '-', 'the third wave has not started');
    const killedAt = Date.now();
    await hubs[0].process?.kill(); // SIGKILL: no goodbye to agents, in-flight tasks lost
    hubs[0].process = undefined;

    // One and three were on hub-1: they move to hub-2 (the reconnect bound: ~1 s backoff, then the next address).
    for (const cluster of ['one', 'three'] as const) {
      await waitForCluster(cluster, (c) => c.connection === 'Connected' && c.hub === hubQueueOf(hubs[1]), 'moved to hub-2', undefined, 30_000);
    }
    const known = Date.now() - killedAt;
    const reconnected = Math.max(...(['one', 'three'] as const).map((c) => reconnectedAt(c, hubs[1].grpc) - killedAt));
    // Measured, not asserted: the agents' streams (a ~1 s backoff, then the next address) and
    // when their actors knew (their workflow tasks were sticky to the killed hub's worker:
    // Temporal hands them to the other after the sticky schedule-to-start timeout).
    console.log(`agents of the killed hub: streams to the other hub after ${reconnected} ms, their actors knew after ${known} ms`);
    assert.ok(reconnected > 0);

    const done = await rolloutOf(commit, (r) => r.finishedAt !== undefined, 'finished');
    assert.equal(done.phase, 'Succeeded', JSON.stringify(done));
    for (const cluster of CLUSTERS) {
      assert.equal(await versionOn(cluster), '6.0.0', `${cluster} runs the new version`);
      assert.equal(await annotationOn(cluster, 'greeting'), 'hello-from-the-bucket', 'substituted from the ConfigMap in the bucket');
    }
    assert.ok(await s().store.has('objects/ConfigMap/flux-system/web-vars.json'), 'flotilla apply put the ConfigMap in the bucket');

    // Exactly once: each cluster's actor was given generation 1 of the deployment, once; each
    // agent applied generation 1 once (drift correction is off, so every apply is a push).
    for (const cluster of CLUSTERS) {
      const c = await clusterStatus(cluster);
      assert.deepEqual(c?.desired.deployments.map((d) => [d.name, d.generation]), [[ID, 1]], `${cluster}'s desired state`);
      assert.deepEqual(appliedGenerations(cluster), ['1'], `${cluster} applied the rollout's generation once`);
    }
    const runs: string[] = [];
    for await (const w of s().client.workflow.list({ query: `WorkflowId = '${rolloutWorkflowId(ID)}'` })) runs.push(w.runId);
    assert.equal(runs.length, 1, 'one rollout workflow run for the revision');
    const artifacts = await s().store.list('artifacts/');
    assert.ok(artifacts.length > 0, 'artifacts live in the bucket');
    for (const hub of hubs) assert.ok(!existsSync(join(s().dir, hub.id, 'artifacts')), `${hub.id} keeps no artifact of its own`);

    // The remaining hub carries the next revision alone.
    const next = writeApp('6.0.1');
    await cli('reconcile', 'source', 'git', 'fleet');
    const second = await rolloutOf(next, (r) => r.finishedAt !== undefined, 'finished on the remaining hub');
    assert.equal(second.phase, 'Succeeded');
    for (const cluster of CLUSTERS) {
      assert.equal(await versionOn(cluster), '6.0.1');
      assert.deepEqual(appliedGenerations(cluster), ['1', '2']);
    }
    // Deterministic across the move: cluster/one's history (pushes through hub-1, then hub-2)
    // is kept as a replay fixture; the others replay live.
    await replayLive(s().client, [clusterWorkflowId('one')]);
    await replayLive(s().client, [clusterWorkflowId('two'), clusterWorkflowId('three'), rolloutWorkflowId(ID), ID], false);
  });
});
