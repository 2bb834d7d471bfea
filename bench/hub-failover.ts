// Benchmark "hub-failover": two `flotilla-hub serve` processes share one Temporal task queue
// and one S3-compatible store (a real MinIO); N agents (in this process, sharing two real
// clusters, each in its own namespace) are told both hub addresses, half of them hub-1
// first. Figures: time until all are connected and how they spread over the hubs; delivery
// of one deployment to every cluster through both hubs (update of each cluster actor → the
// agent says it applied it); after hub-1 is SIGKILLed, when its agents' streams are on hub-2
// and when their actors know; delivery again, through hub-2 alone.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { Client, Connection } from '@temporalio/client';
import { clusterStatusQuery, clusterWorkflowId, upsertDeploymentUpdate } from '../api/cluster.js';
import { Agent } from '../agents/agent.js';
import { repoRoot, hubToolFlags } from '../deploy/dev/binaries.js';
import { startEnvironment } from '../deploy/dev/environment.js';
import { freePorts } from '../deploy/dev/ports.js';
import { ManagedProcess, waitFor } from '../deploy/dev/processes.js';
import { startS3Server } from '../deploy/dev/s3-server.js';
import { BlobArtifactStore } from '../hub/artifact-store.js';
import { RegistrationStore } from '../hub/registration.js';
import { S3BlobStore, type S3StoreOptions } from '../hub/s3-store.js';
import { ensureSelfSignedTls } from '../hub/tls.js';
import { percentile, recordResults, rssMiB } from './record.js';

const AGENTS = Number(process.env.FLOTILLA_BENCH_AGENTS ?? '60');
const TASK_QUEUE = 'flotilla-hub';
const DEPLOYMENT = 'bench/hub-failover';

interface HubProcess {
  readonly id: string;
  readonly grpc: string;
  process: ManagedProcess | undefined;
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'flotilla-bench-failover-'));
  const env = await startEnvironment({ clusters: ['fleet-a', 'fleet-b'] });
  const s3 = await startS3Server({ dir: join(dir, 's3') });
  const agents: Agent[] = [];
  const hubs: HubProcess[] = [];
  // Per agent: when it last connected, to which hub; when it applied each generation.
  const connected = new Map<string, { hub: string; at: number }>();
  const applied = new Map<string, number>();
  let failed = true;
  try {
    const temporal = env.temporalServer();
    await ensureSelfSignedTls(join(dir, 'tls'));
    const storeOptions: S3StoreOptions = {
      endpoint: s3.endpoint, bucket: 'flotilla-bench', region: s3.region, accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey,
    };
    writeFileSync(join(dir, 'hub.yaml'), stringify({
      temporal: { address: temporal.address, namespace: temporal.namespace, taskQueue: TASK_QUEUE },
      grpc: { tlsCertFile: join(dir, 'tls', 'hub.crt'), tlsKeyFile: join(dir, 'tls', 'hub.key'), heartbeatSeconds: 10 },
      http: { listen: 'off' },
      store: { type: 's3', s3: { endpoint: s3.endpoint, bucket: storeOptions.bucket, region: s3.region } },
    }));
    const ports = await freePorts(2);
    for (const [i, port] of ports.entries()) {
      const hub: HubProcess = { id: `hub-${i + 1}`, grpc: `127.0.0.1:${port}`, process: undefined };
      const log = join(dir, `${hub.id}.log`);
      hub.process = ManagedProcess.start({
        name: `flotilla-hub[${hub.id}]`, command: process.execPath, logFile: log,
        args: [join(repoRoot, 'dist', 'hub', 'main.js'), 'serve', ...hubToolFlags(), '--config', join(dir, 'hub.yaml'), '--data-dir', join(dir, hub.id),
          '--hub-id', hub.id, '--listen', hub.grpc],
        env: { ...process.env, AWS_ACCESS_KEY_ID: s3.accessKeyId, AWS_SECRET_ACCESS_KEY: s3.secretAccessKey },
      });
      const p = hub.process;
      await waitFor(`${hub.id} ready`, () => Promise.resolve(readFileSync(log, 'utf8').includes('"hub ready"') ? true : undefined), { timeoutMs: 60_000, process: p });
      hubs.push(hub);
    }
    const [hub1, hub2] = hubs;
    if (!hub1 || !hub2) throw new Error('two hubs');
    const store = new S3BlobStore(storeOptions);
    const { token } = await new RegistrationStore(store).createToken({ ttlMs: 3_600_000, uses: AGENTS });
    const hubCa = readFileSync(join(dir, 'tls', 'hub.crt'));
    const connection = await Connection.connect({ address: temporal.address });
    const client = new Client({ connection, namespace: temporal.namespace });
    const names = Array.from({ length: AGENTS }, (_, i) => `agent-${i}`);

    const t0 = performance.now();
    for (const [i, name] of names.entries()) {
      const agent = new Agent({
        hubAddress: i % 2 === 0 ? [hub1.grpc, hub2.grpc] : [hub2.grpc, hub1.grpc], hubCa, cluster: name, token, namespace: name, driftIntervalMs: 0,
        kubeConfig: env.cluster(i % 2 === 0 ? 'fleet-a' : 'fleet-b').kubeConfig(),
        log: (message, fields = {}) => {
          if (message === 'connected to the hub') connected.set(name, { hub: String(fields.hub), at: performance.now() });
          if (message === 'deployment applied' && fields.deployment === DEPLOYMENT) applied.set(`${name}@${String(fields.generation)}`, performance.now());
        },
      });
      agents.push(agent);
      await agent.start();
    }
    const statuses = (): Promise<{ connection: string; hub?: string }[]> => Promise.all(names.map(async (n) => {
      try { return await client.workflow.getHandle(clusterWorkflowId(n)).query(clusterStatusQuery); } catch { return { connection: 'unknown' }; }
    }));
    await waitFor(`all ${AGENTS} agents connected`, async () => ((await statuses()).every((s) => s.connection === 'Connected') ? true : undefined), { timeoutMs: 600_000, intervalMs: 1000 });
    const connectSeconds = (performance.now() - t0) / 1000;
    const onHub1 = [...connected.values()].filter((c) => c.hub === hub1.grpc).length;
    console.log(`connected: ${AGENTS} agents in ${connectSeconds.toFixed(1)} s (${onHub1} on hub-1, ${AGENTS - onHub1} on hub-2)`);

    const artifacts = new BlobArtifactStore(store);
    /** Sets generation `gen` on every cluster actor; seconds from the update until each agent applied it. */
    const deliver = async (gen: number): Promise<number[]> => {
      const digest = await artifacts.put(stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'hub-failover' }, data: { generation: String(gen) } }));
      const sentAt = new Map<string, number>();
      await Promise.all(names.map(async (n) => {
        sentAt.set(n, performance.now());
        await client.workflow.getHandle(clusterWorkflowId(n)).executeUpdate(upsertDeploymentUpdate, {
          args: [{ name: DEPLOYMENT, artifactDigest: digest, options: { prune: true, force: false, correctDrift: false, defaultNamespace: n, healthTimeoutSeconds: 0 } }],
        });
      }));
      try {
        await waitFor(`generation ${gen} applied by all`, () => Promise.resolve(names.every((n) => applied.has(`${n}@${gen}`)) ? true : undefined), { timeoutMs: 300_000, intervalMs: 200 });
      } catch (err) {
        const missing = names.filter((n) => !applied.has(`${n}@${gen}`));
        for (const n of missing.slice(0, 5)) {
          const st = await client.workflow.getHandle(clusterWorkflowId(n)).query(clusterStatusQuery).catch(() => undefined);
          console.error(`${n}: not applied; agent on ${connected.get(n)?.hub ?? '?'}; actor: ${JSON.stringify({ connection: st?.connection, hub: st?.hub, desired: st?.desired.version, reports: st?.reports })}`);
        }
        throw new Error(`${missing.length} of ${AGENTS} did not apply generation ${gen} (logs kept in ${dir})`, { cause: err });
      }
      return names.map((n) => ((applied.get(`${n}@${gen}`) ?? 0) - (sentAt.get(n) ?? 0)) / 1000);
    };
    const before = await deliver(1);
    console.log(`delivery through both hubs: p50 ${percentile(before, 50).toFixed(2)} s, max ${Math.max(...before).toFixed(2)} s`);
    const rss = hubs.map((h) => (h.process ? rssMiB(h.process.pid) : 0));

    const moving = names.filter((n) => connected.get(n)?.hub === hub1.grpc);
    const killedAt = performance.now();
    await hub1.process?.kill();
    hub1.process = undefined;
    await waitFor('agents of hub-1 on hub-2', () => Promise.resolve(moving.every((n) => connected.get(n)?.hub === hub2.grpc) ? true : undefined), { timeoutMs: 120_000, intervalMs: 100 });
    const streamsMovedSeconds = (Math.max(...moving.map((n) => connected.get(n)?.at ?? 0)) - killedAt) / 1000;
    const hub2Queue = `${TASK_QUEUE}/hub/${hub2.id}`;
    await waitFor('actors know', async () => ((await statuses()).every((s) => s.connection === 'Connected' && s.hub === hub2Queue) ? true : undefined), { timeoutMs: 120_000, intervalMs: 250 });
    const actorsKnewSeconds = (performance.now() - killedAt) / 1000;
    console.log(`after SIGKILL of hub-1: ${moving.length} streams on hub-2 after ${streamsMovedSeconds.toFixed(1)} s, every actor knew after ${actorsKnewSeconds.toFixed(1)} s`);
    const after = await deliver(2);
    console.log(`delivery through hub-2 alone: p50 ${percentile(after, 50).toFixed(2)} s, max ${Math.max(...after).toFixed(2)} s`);
    await connection.close();

    const figures = {
      agents: AGENTS, clusters: 2, hubs: 2, store: 'MinIO (S3)', connectSeconds, onHub1, onHub2: AGENTS - onHub1,
      deliveryBothHubs: { p50: percentile(before, 50), p90: percentile(before, 90), max: Math.max(...before) },
      movedAgents: moving.length, streamsMovedSeconds, actorsKnewSeconds,
      deliveryOneHub: { p50: percentile(after, 50), p90: percentile(after, 90), max: Math.max(...after) },
      hubRssMiB: rss,
    };
    console.log(JSON.stringify(figures, null, 2));
    const s = (x: number): string => `${x.toFixed(2)} s`;
    recordResults('hub-failover', figures, [
      `${AGENTS} agents (in one process, sharing 2 local clusters, each in its own namespace), each told both hub addresses (half hub-1 first); two \`flotilla-hub serve\` processes on one task queue with a MinIO store; Temporal dev server on the same machine.`,
      '',
      '| figure | value |',
      '|---|---|',
      `| all connected | ${connectSeconds.toFixed(1)} s (${onHub1} on hub-1, ${AGENTS - onHub1} on hub-2) |`,
      `| one deployment to every cluster through both hubs: actor update → agent applied, p50 / p90 / max | ${s(percentile(before, 50))} / ${s(percentile(before, 90))} / ${s(Math.max(...before))} |`,
      `| hub RSS (hub-1, hub-2) with ${AGENTS} agents | ${rss.map((r) => `${r.toFixed(0)} MiB`).join(', ')} |`,
      `| hub-1 SIGKILLed: its ${moving.length} agents' streams on hub-2 after | ${s(streamsMovedSeconds)} |`,
      `| — every cluster actor knew (their workflow tasks were sticky to hub-1: Temporal's sticky schedule-to-start timeout, 10 s) | ${s(actorsKnewSeconds)} |`,
      `| then one deployment to every cluster through hub-2 alone, p50 / p90 / max | ${s(percentile(after, 50))} / ${s(percentile(after, 90))} / ${s(Math.max(...after))} |`,
    ].join('\n'));
    failed = false;
  } finally {
    await Promise.all(agents.map((a) => a.stop()));
    for (const h of hubs) await h.process?.stop();
    await s3.stop();
    await env.stop();
    if (!failed) rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
