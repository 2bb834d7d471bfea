// Durability with real processes: a hub process (gateway + actors' worker) and one agent
// process per cluster. The hub is killed mid-delivery and an agent mid-apply; after their
// restart everything converges, and no generation is applied twice.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { Client, Connection } from '@temporalio/client';
import { stringify } from 'yaml';
import { clusterStatusQuery, clusterWorkflowId, setDeploymentUpdate, type ClusterStatus } from '../../api/cluster.js';
import { ClusterClient } from '../../agents/apply/cluster-client.js';
import type { KubeObject } from '../../core/objects.js';
import { repoRoot, hubToolFlags } from '../../deploy/dev/binaries.js';
import { freePort } from '../../deploy/dev/ports.js';
import { ManagedProcess, waitFor } from '../../deploy/dev/processes.js';
import { FileArtifactStore } from '../../hub/artifact-store.js';
import { useEnvironment } from '../harness/index.js';

const run = promisify(execFile);
const CLUSTERS = ['one', 'two', 'three'];
const state: { dir: string; port: number; hub?: ManagedProcess; agents: Map<string, ManagedProcess>; client?: Client; connection?: Connection } =
  { dir: '', port: 0, agents: new Map() };

const env = useEnvironment({ clusters: CLUSTERS }, {
  afterStart: async (e) => {
    state.dir = mkdtempSync(join(tmpdir(), 'flotilla-hub-restart-'));
    state.port = await freePort();
    state.connection = await Connection.connect({ address: e.temporalServer().address });
    state.client = new Client({ connection: state.connection, namespace: e.temporalServer().namespace });
  },
  beforeStop: async () => {
    for (const a of state.agents.values()) await a.stop();
    await state.hub?.stop();
    await state.connection?.close();
    // FLOTILLA_KEEP_TEST_DIRS=1 keeps the hub's and agents' logs for a post-mortem.
    if (process.env.FLOTILLA_KEEP_TEST_DIRS) console.log(`kept ${state.dir}`);
    else rmSync(state.dir, { recursive: true, force: true });
  },
});

const hubMain = join(repoRoot, 'dist', 'hub', 'main.js');
const agentMain = join(repoRoot, 'dist', 'agents', 'main.js');
const cliMain = join(repoRoot, 'dist', 'cli', 'main.js');
let hubStarts = 0;
const secrets: string[] = [];

async function startHub(): Promise<void> {
  const temporal = env().temporalServer();
  const log = join(state.dir, `hub-${++hubStarts}.log`);
  const hub = ManagedProcess.start({
    name: 'flotilla-hub', command: process.execPath, logFile: log,
    args: [hubMain, 'serve', ...hubToolFlags(), '--data-dir', state.dir, '--listen', `127.0.0.1:${state.port}`, '--temporal', temporal.address, '--heartbeat', '1'],
  });
  state.hub = hub;
  await waitFor('hub ready', () => Promise.resolve(readFileSync(log, 'utf8').includes('"hub ready"') ? true : undefined), { timeoutMs: 60_000, process: hub });
}

function startAgent(cluster: string, token?: string): void {
  const args = [agentMain, '--hub', `127.0.0.1:${state.port}`, '--hub-ca', join(state.dir, 'tls', 'hub.crt'), '--cluster', cluster,
    '--kubeconfig', env().cluster(cluster).kubeconfigPath, '--drift-interval', '2'];
  if (token) args.push('--token', token);
  state.agents.set(cluster, ManagedProcess.start({ name: `agent[${cluster}]`, command: process.execPath, args, logFile: join(state.dir, `agent-${cluster}.log`) }));
}

function client(): Client {
  if (!state.client) throw new Error('no Temporal client');
  return state.client;
}

async function waitForReport(cluster: string, generation: number, timeoutMs = 120_000): Promise<ClusterStatus> {
  return waitFor(`${cluster} to report apps@${generation} Ready`, async () => {
    const s = await client().workflow.getHandle(clusterWorkflowId(cluster)).query(clusterStatusQuery);
    return s.reports.some((r) => r.name === 'apps' && r.generation === generation && r.phase === 'READY') ? s : undefined;
  }, { timeoutMs, intervalMs: 250 });
}

async function deliver(cluster: string, generation: number, configMaps: number): Promise<void> {
  const objects: KubeObject[] = [{ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'apps' } }];
  for (let i = 0; i < configMaps; i++) {
    objects.push({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: `cfg-${i}`, namespace: 'apps' }, data: { cluster, generation: String(generation) } });
  }
  const digest = await new FileArtifactStore(join(state.dir, 'artifacts')).put(objects.map((o) => stringify(o)).join('---\n'));
  await client().workflow.getHandle(clusterWorkflowId(cluster)).executeUpdate(setDeploymentUpdate, {
    args: [{ name: 'apps', generation, artifactDigest: digest, options: { prune: true, force: false, correctDrift: true, defaultNamespace: 'default', healthTimeoutSeconds: 30 } }],
  });
}

function appliedLines(cluster: string, generation: number): number {
  return readFileSync(join(state.dir, `agent-${cluster}.log`), 'utf8').split('\n')
        // Either form: applied as the hub delivered it, or retried by the agent from its own state.
    .filter((l) => /"msg":"deployment (applied|re-applied from local state)"/.test(l) && l.includes('"deployment":"apps"') && l.includes(`"generation":"${generation}"`)).length;
}

async function configMapsIn(cluster: string): Promise<KubeObject[]> {
  return new ClusterClient(env().cluster(cluster).kubeConfig()).list('v1', 'ConfigMap', { namespace: 'apps', labelSelector: 'app.kubernetes.io/managed-by=flotilla' });
}

describe('hub and agent processes', () => {
  it('three agents register with tokens from the CLI and apply their own desired state', async () => {
    await startHub();
    for (const cluster of CLUSTERS) {
      const { stdout } = await run(process.execPath, [cliMain, 'cluster', 'token', 'create', '--hub-data', state.dir, '--ttl', '10m', '--labels', `name=${cluster}`]);
      secrets.push(stdout.trim());
      startAgent(cluster, stdout.trim());
    }
    for (const [i, cluster] of CLUSTERS.entries()) {
      await waitFor(`${cluster} connected`, async () => {
        try {
          const s = await client().workflow.getHandle(clusterWorkflowId(cluster)).query(clusterStatusQuery);
          return s.connection === 'Connected' ? true : undefined;
        } catch { return undefined; }
      }, { timeoutMs: 60_000, intervalMs: 250 });
      await deliver(cluster, 1, i + 1);
    }
    for (const [i, cluster] of CLUSTERS.entries()) {
      const s = await waitForReport(cluster, 1);
      assert.equal(s.labels.name, cluster);
      const cms = await configMapsIn(cluster);
      assert.equal(cms.length, i + 1, `${cluster} got its own desired state`);
      assert.ok(cms.every((c) => (c.data as Record<string, string>).cluster === cluster));
    }
  });

  it('converges once after the hub is killed mid-delivery and restarted', async () => {
    await deliver('one', 2, 3);
    await state.hub?.kill(); // SIGKILL: no graceful shutdown
    await startHub();
    await waitForReport('one', 2);
    const cms = await configMapsIn('one');
    assert.equal(cms.length, 3);
    assert.ok(cms.every((c) => (c.data as Record<string, string>).generation === '2'));
    // Reconnecting agents got the desired state again and applied nothing twice.
    await sleep(3000);
    for (const cluster of CLUSTERS) assert.equal(appliedLines(cluster, 1), 1, `${cluster} applied generation 1 once`);
    assert.equal(appliedLines('one', 2), 1, 'generation 2 applied once');
  });

  it('converges after an agent is killed mid-apply and restarted (without its token)', async () => {
    await deliver('two', 2, 150);
    await waitFor('the agent to start applying', async () => ((await configMapsIn('two')).some((c) => (c.data as Record<string, string>).generation === '2') ? true : undefined),
      { timeoutMs: 60_000, intervalMs: 50 });
    await state.agents.get('two')?.kill();
    startAgent('two'); // the credential is in the cluster now
    await waitForReport('two', 2);
    const cms = await configMapsIn('two');
    assert.equal(cms.length, 150, 'exactly the desired set, no duplicates or orphans');
    assert.ok(cms.every((c) => (c.data as Record<string, string>).generation === '2'));
  });

  it('marks a silent agent Unreachable and clears it when it speaks again', async () => {
    const agent = state.agents.get('three');
    assert.ok(agent);
    const status = (): Promise<ClusterStatus> => client().workflow.getHandle(clusterWorkflowId('three')).query(clusterStatusQuery);
    process.kill(agent.pid, 'SIGSTOP'); // frozen: the stream stays open, heartbeats stop
    try {
      await waitFor('three to be Unreachable', async () => ((await status()).connection === 'Unreachable' ? true : undefined), { timeoutMs: 30_000, intervalMs: 250 });
    } finally {
      process.kill(agent.pid, 'SIGCONT');
    }
    await waitFor('three to be Connected again', async () => ((await status()).connection === 'Connected' ? true : undefined), { timeoutMs: 30_000, intervalMs: 250 });
    assert.equal((await status()).kubernetesVersion, 'v1.30.14', 'coming back keeps what the agent said in Hello');
  });

  it('never writes tokens or credentials to a log or a workflow history', async () => {
    for (const cluster of CLUSTERS) {
      const secret = await new ClusterClient(env().cluster(cluster).kubeConfig()).get({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'flotilla-agent-credential', namespace: 'flotilla-system' } });
      secrets.push(Buffer.from(String((secret?.data as Record<string, string> | undefined)?.credential), 'base64').toString('utf8'));
    }
    assert.equal(secrets.length, 6);
    const logs = readdirSync(state.dir).filter((f) => f.endsWith('.log')).map((f) => readFileSync(join(state.dir, f), 'utf8')).join('\n');
    const histories = await Promise.all(CLUSTERS.map(async (c) => JSON.stringify(await client().workflow.getHandle(clusterWorkflowId(c)).fetchHistory())));
    for (const s of secrets) {
      assert.ok(s.length > 40);
      assert.ok(!logs.includes(s), 'a secret appeared in a log');
      assert.ok(!histories.some((h) => h.includes(s)), 'a secret appeared in a workflow history');
    }
  });
});
