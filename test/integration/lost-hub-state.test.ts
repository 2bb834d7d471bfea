// Never lose what runs when the hub's state is lost (docs/reliability.md). A hub process and
// one agent process per cluster, a real Temporal server and real kube-apiservers. The hub's
// record of a cluster is lost twice, as it happens in life: its cluster actor terminated by
// an operator, and the hub moved to a Temporal server with an empty database. Each time the
// agents refuse the new, empty state, keep every object (read back from the apiservers), the
// cluster shows the held state, and `flotilla cluster adopt` (the operator's consent) lets the
// hub's state stand again: orphaning what it lacks, or deleting it with --prune-missing.
// Then the removal of a prune: false deployment, and an empty render.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { Client, Connection } from '@temporalio/client';
import { stringify } from 'yaml';
import {
  clearDeploymentUpdate, clusterStatusQuery, clusterWorkflowId, setDeploymentUpdate, type ClusterStatus,
  type DeploymentOptions,
} from '../../api/cluster.js';
import { ClusterClient } from '../../agents/apply/cluster-client.js';
import type { KubeObject } from '../../core/objects.js';
import { repoRoot, hubToolFlags } from '../../deploy/dev/binaries.js';
import { freePort } from '../../deploy/dev/ports.js';
import { ManagedProcess, waitFor } from '../../deploy/dev/processes.js';
import { startTemporal, type TemporalServer } from '../../deploy/dev/temporal-server.js';
import { FileArtifactStore } from '../../hub/artifact-store.js';
import { useEnvironment } from '../harness/index.js';

const run = promisify(execFile);
const CLUSTERS = ['one', 'two'];
const hubMain = join(repoRoot, 'dist', 'hub', 'main.js');
const agentMain = join(repoRoot, 'dist', 'agents', 'main.js');
const cliMain = join(repoRoot, 'dist', 'cli', 'main.js');

interface State {
  dir: string;
  port: number;
  hub?: ManagedProcess;
  agents: Map<string, ManagedProcess>;
  /** The Temporal the hub uses now: the harness's, then a new one with an empty database. */
  temporal?: { address: string; namespace: string };
  fresh?: TemporalServer;
  client?: Client;
  connection?: Connection;
}
const state: State = { dir: '', port: 0, agents: new Map() };
let hubStarts = 0;

const env = useEnvironment({ clusters: CLUSTERS }, {
  afterStart: async (e) => {
    state.dir = mkdtempSync(join(tmpdir(), 'flotilla-lost-state-'));
    state.port = await freePort();
    await useTemporal({ address: e.temporalServer().address, namespace: e.temporalServer().namespace });
  },
  beforeStop: async () => {
    for (const a of state.agents.values()) await a.stop();
    await state.hub?.stop();
    await state.connection?.close();
    await state.fresh?.stop();
    if (process.env.FLOTILLA_KEEP_TEST_DIRS) console.log(`kept ${state.dir}`);
    else rmSync(state.dir, { recursive: true, force: true });
  },
});

async function useTemporal(t: { address: string; namespace: string }): Promise<void> {
  await state.connection?.close();
  state.temporal = t;
  state.connection = await Connection.connect({ address: t.address });
  state.client = new Client({ connection: state.connection, namespace: t.namespace });
}

function client(): Client {
  if (!state.client) throw new Error('no Temporal client');
  return state.client;
}

async function startHub(): Promise<void> {
  const t = state.temporal;
  if (!t) throw new Error('no Temporal');
  const log = join(state.dir, `hub-${++hubStarts}.log`);
  state.hub = ManagedProcess.start({
    name: 'flotilla-hub', command: process.execPath, logFile: log,
    args: [hubMain, 'serve', ...hubToolFlags(), '--data-dir', state.dir, '--listen', `127.0.0.1:${state.port}`, '--temporal', t.address, '--heartbeat', '1'],
  });
  await waitFor('hub ready', () => Promise.resolve(readFileSync(log, 'utf8').includes('"hub ready"') ? true : undefined), { timeoutMs: 60_000, process: state.hub });
}

function startAgent(cluster: string, token?: string): void {
  const args = [agentMain, '--hub', `127.0.0.1:${state.port}`, '--hub-ca', join(state.dir, 'tls', 'hub.crt'), '--cluster', cluster,
    '--kubeconfig', env().cluster(cluster).kubeconfigPath, '--drift-interval', '2'];
  if (token) args.push('--token', token);
  state.agents.set(cluster, ManagedProcess.start({ name: `agent[${cluster}]`, command: process.execPath, args, logFile: join(state.dir, `agent-${cluster}.log`) }));
}

const status = (cluster: string): Promise<ClusterStatus> => client().workflow.getHandle(clusterWorkflowId(cluster)).query(clusterStatusQuery);

async function waitForStatus(what: string, cluster: string, test: (s: ClusterStatus) => boolean, timeoutMs = 90_000): Promise<ClusterStatus> {
  return waitFor(what, async () => {
    try {
      const s = await status(cluster);
      return test(s) ? s : undefined;
    } catch { return undefined; }
  }, { timeoutMs, intervalMs: 250 });
}

const OPTIONS: DeploymentOptions = { prune: true, force: false, correctDrift: true, defaultNamespace: 'default', healthTimeoutSeconds: 30 };

/** A deployment of `configMaps` ConfigMaps in namespace `ns`, set on the cluster's actor as the Kustomization actor does. */
async function deliver(cluster: string, name: string, generation: number, ns: string, configMaps: number, options: Partial<DeploymentOptions> = {}): Promise<void> {
  const objects: KubeObject[] = configMaps === 0 ? [] : [{ apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } }];
  for (let i = 0; i < configMaps; i++) {
    objects.push({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: `cfg-${i}`, namespace: ns }, data: { cluster, generation: String(generation) } });
  }
  const digest = await new FileArtifactStore(join(state.dir, 'artifacts')).put(objects.map((o) => stringify(o)).join('---\n'));
  await client().workflow.getHandle(clusterWorkflowId(cluster)).executeUpdate(setDeploymentUpdate, {
    args: [{ name, generation, artifactDigest: digest, options: { ...OPTIONS, ...options } }],
  });
}

async function waitForReport(cluster: string, name: string, generation: number, phase = 'READY'): Promise<ClusterStatus> {
  return waitForStatus(`${cluster} to report ${name}@${generation} ${phase}`, cluster,
    (s) => s.reports.some((r) => r.name === name && r.generation === generation && r.phase === phase));
}

async function configMaps(cluster: string, ns: string): Promise<KubeObject[]> {
  return new ClusterClient(env().cluster(cluster).kubeConfig()).list('v1', 'ConfigMap', { namespace: ns, labelSelector: 'app.kubernetes.io/managed-by=flotilla' });
}

async function inventories(cluster: string): Promise<string[]> {
  const cms = await new ClusterClient(env().cluster(cluster).kubeConfig()).list('v1', 'ConfigMap', { namespace: 'flotilla-system' });
  return cms.map((c) => c.metadata.name).filter((n) => n.startsWith('inventory-'));
}

async function cli(...args: string[]): Promise<{ stdout: string; stderr: string; code: number }> {
  const t = state.temporal;
  if (!t) throw new Error('no Temporal');
  try {
    const { stdout, stderr } = await run(process.execPath, [cliMain, ...args, '--temporal', t.address, '--temporal-namespace', t.namespace], { env: { ...process.env, FLOTILLA_HUB: '' } });
    return { stdout, stderr, code: 0 };
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; code?: number };
    return { stdout: e.stdout ?? '', stderr: e.stderr ?? '', code: e.code ?? 1 };
  }
}

/** Every cluster's objects of the first deliveries, as they must stay. */
const EXPECTED: Record<string, number> = { one: 3, two: 2 };

async function assertAllThere(when: string): Promise<void> {
  for (const cluster of CLUSTERS) {
    assert.equal((await configMaps(cluster, 'apps')).length, EXPECTED[cluster], `${when}: ${cluster} still runs its apps`);
  }
  assert.equal((await configMaps('one', 'extra')).length, 2, `${when}: one still runs its extra deployment`);
}

describe('lost hub state: agents hold what runs', () => {
  it('agents register and apply', async () => {
    await startHub();
    for (const cluster of CLUSTERS) {
      const { stdout } = await run(process.execPath, [cliMain, 'cluster', 'token', 'create', '--hub-data', state.dir, '--ttl', '10m', '--labels', `name=${cluster}`]);
      startAgent(cluster, stdout.trim());
    }
    for (const cluster of CLUSTERS) {
      await waitForStatus(`${cluster} connected`, cluster, (s) => s.connection === 'Connected', 60_000);
      await deliver(cluster, 'apps', 1, 'apps', EXPECTED[cluster] ?? 0);
    }
    await deliver('one', 'extra', 1, 'extra', 2);
    for (const cluster of CLUSTERS) await waitForReport(cluster, 'apps', 1);
    const s = await waitForReport('one', 'extra', 1);
    assert.match(s.desired.epoch ?? '', /^[0-9a-f-]{36}$/, 'the record has an epoch');
    await assertAllThere('after the first apply');
  });

  it('the cluster actor terminated: the re-created, empty record is refused, nothing is deleted, adopt orphans what it lacks', async () => {
    const before = (await status('one')).desired.epoch;
    await client().workflow.getHandle(clusterWorkflowId('one')).terminate('operator error (test)');
    await state.hub?.kill(); // the agents reconnect to a restarted hub: the gateway re-creates the actor
    await startHub();
    const held = await waitForStatus('one to hold its state', 'one', (s) => s.held !== undefined);
    assert.notEqual(held.desired.epoch, before, 'a new record, with a new epoch');
    assert.match(held.held?.reason ?? '', /hub state lost or reset .*holding what runs.*flotilla cluster adopt one/);
    assert.equal(held.held?.agentEpoch, before);
    // Two drift rounds later (2 s each) everything still runs; the other cluster is untouched.
    await sleep(5000);
    await assertAllThere('while held');
    assert.equal((await status('two')).held, undefined, 'two kept its record');
    const got = await cli('get', 'clusters');
    assert.match(got.stdout, /one .*HeldState: hub state lost or reset/);
    assert.match(readFileSync(join(state.dir, 'agent-one.log'), 'utf8'), /desired state refused: holding what runs/);

    // The Kustomization actors set their deployments again (here: apps only; extra is gone
    // from the hub). Still refused: a new record needs the operator's consent.
    await deliver('one', 'apps', 1, 'apps', EXPECTED.one ?? 0);
    await sleep(3000);
    assert.ok((await status('one')).held, 'still held after the hub set a deployment');

    const adopted = await cli('cluster', 'adopt', 'one');
    assert.equal(adopted.code, 0, adopted.stderr);
    assert.match(adopted.stdout, /cluster one: the hub's desired state .*1 deployment: apps\) replaces what the agent held; deployments it lacks are orphaned/);
    await waitForStatus('one to take the hub state', 'one', (s) => s.held === undefined);
    await waitForReport('one', 'apps', 1);
    await waitForReport('one', 'extra', 0, 'DELETED');
    await assertAllThere('after adopt');
    assert.equal((await inventories('one')).length, 1, 'extra was orphaned: objects left, inventory dropped');
    const again = await cli('cluster', 'adopt', 'one');
    assert.equal(again.code, 1);
    assert.match(again.stderr, /cluster one: .*holds nothing/);
  });

  it('a Temporal with an empty database: every cluster holds, adopt --prune-missing deletes only when asked', async () => {
    state.fresh = await startTemporal({ dir: join(state.dir, 'temporal-fresh') });
    await state.hub?.kill();
    await useTemporal({ address: state.fresh.address, namespace: state.fresh.namespace });
    await startHub();
    for (const cluster of CLUSTERS) {
      const s = await waitForStatus(`${cluster} to hold its state`, cluster, (x) => x.held !== undefined);
      assert.equal(s.desired.deployments.length, 0, 'the new record is empty');
    }
    await sleep(5000);
    await assertAllThere('on an empty Temporal');
    // One cluster adopted with --prune-missing: its apps (prune: true) go, as asked.
    const pruned = await cli('cluster', 'adopt', 'two', '--prune-missing');
    assert.equal(pruned.code, 0, pruned.stderr);
    await waitForReport('two', 'apps', 0, 'DELETED');
    await waitFor('two\'s apps deleted', async () => ((await configMaps('two', 'apps')).length === 0 ? true : undefined), { timeoutMs: 30_000, intervalMs: 250 });
    // The other keeps holding until adopted.
    assert.equal((await configMaps('one', 'apps')).length, EXPECTED.one);
    assert.ok((await status('one')).held);
  });

  it('a deployment with prune: false removed from a cluster leaves its objects running', async () => {
    await deliver('two', 'keep', 1, 'keep', 2, { prune: false });
    await waitForReport('two', 'keep', 1);
    const inventoriesBefore = (await inventories('two')).length;
    await client().workflow.getHandle(clusterWorkflowId('two')).executeUpdate(clearDeploymentUpdate, { args: ['keep'] });
    await waitFor('two to remove keep', () => Promise.resolve(readFileSync(join(state.dir, 'agent-two.log'), 'utf8')
      .includes('"msg":"deployment removed, its objects left running (prune: false)"') ? true : undefined), { timeoutMs: 60_000, intervalMs: 250 });
    assert.equal((await inventories('two')).length, inventoriesBefore - 1, 'its inventory is gone');
    assert.equal((await configMaps('two', 'keep')).length, 2, 'its objects are still there');
  });

  it('an empty render is refused and prunes nothing, unless the declaration allows it', async () => {
    await deliver('two', 'web', 1, 'web', 3);
    await waitForReport('two', 'web', 1);
    await deliver('two', 'web', 2, 'web', 0);
    const s = await waitForReport('two', 'web', 2, 'INVALID');
    assert.match(s.reports.find((r) => r.name === 'web')?.message ?? '', /refused: the render has no objects, and the last one applied here had 4.*flotilla.dev\/allow-empty/);
    await sleep(3000);
    assert.equal((await configMaps('two', 'web')).length, 3, 'nothing pruned');
    await deliver('two', 'web', 3, 'web', 0, { allowEmpty: true });
    await waitForReport('two', 'web', 3);
    assert.equal((await configMaps('two', 'web')).length, 0, 'allowed: pruned');
  });
});
