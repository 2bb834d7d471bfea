// The agent stream's transport, with real processes: a hub process and an agent process. The
// hub's keepalive drops the stream of a frozen (SIGSTOPped) agent within keepalive time +
// timeout, the agent reconnects once it runs again; an oversized message and a stream over the
// per-cluster cap are refused with RESOURCE_EXHAUSTED.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { credentials, Metadata, status, type ClientDuplexStream, type ServiceError } from '@grpc/grpc-js';
import { Client, Connection } from '@temporalio/client';
import { clusterStatusQuery, clusterWorkflowId, type ClusterStatus } from '../../api/cluster.js';
import { repoRoot, hubToolFlags } from '../../deploy/dev/binaries.js';
import { freePort } from '../../deploy/dev/ports.js';
import { ManagedProcess, waitFor } from '../../deploy/dev/processes.js';
import { CLUSTER_METADATA, agentProto } from '../../proto/load.js';
import type { AgentMessage } from '../../proto/gen/flotilla/agent/v1/AgentMessage.js';
import type { HubMessage__Output } from '../../proto/gen/flotilla/agent/v1/HubMessage.js';
import { useEnvironment } from '../harness/index.js';

const run = promisify(execFile);
/** Short keepalive on both sides, so that the test waits seconds, not the default 40. */
const KEEPALIVE_S = 2;
const KEEPALIVE_TIMEOUT_S = 2;
/** Scheduling on a loaded machine: the hub's timer, its log line, the actor's signal. */
const SLACK_MS = 2000;

const state: { dir: string; port: number; hub?: ManagedProcess; agent?: ManagedProcess; client?: Client; connection?: Connection } = { dir: '', port: 0 };

const env = useEnvironment({ clusters: ['frozen'] }, {
  afterStart: async (e) => {
    state.dir = mkdtempSync(join(tmpdir(), 'flotilla-streams-'));
    state.port = await freePort();
    state.connection = await Connection.connect({ address: e.temporalServer().address });
    state.client = new Client({ connection: state.connection, namespace: e.temporalServer().namespace });
  },
  beforeStop: async () => {
    if (state.agent?.running) process.kill(state.agent.pid, 'SIGCONT'); // a failed test may leave it stopped
    await state.agent?.stop();
    await state.hub?.stop();
    await state.connection?.close();
    if (process.env.FLOTILLA_KEEP_TEST_DIRS) console.log(`kept ${state.dir}`);
    else rmSync(state.dir, { recursive: true, force: true });
  },
});

const hubLog = (): string => join(state.dir, 'hub.log');

async function startHub(): Promise<void> {
  const temporal = env().temporalServer();
  const hub = ManagedProcess.start({
    name: 'flotilla-hub', command: process.execPath, logFile: hubLog(),
    args: [join(repoRoot, 'dist', 'hub', 'main.js'), 'serve', ...hubToolFlags(), '--data-dir', state.dir, '--listen', `127.0.0.1:${state.port}`,
      '--temporal', temporal.address, '--namespace', temporal.namespace, '--http', 'off',
      // Heartbeats far apart: the agent must be dropped by the keepalive, not marked Unreachable.
      '--heartbeat', '10', '--keepalive-time', String(KEEPALIVE_S), '--keepalive-timeout', String(KEEPALIVE_TIMEOUT_S), '--min-ping-interval', '1'],
  });
  state.hub = hub;
  await waitFor('hub ready', () => Promise.resolve(readFileSync(hubLog(), 'utf8').includes('"hub ready"') ? true : undefined), { timeoutMs: 60_000, process: hub });
}

async function token(): Promise<string> {
  const { stdout } = await run(process.execPath, [join(repoRoot, 'dist', 'cli', 'main.js'), 'cluster', 'token', 'create', '--hub-data', state.dir, '--ttl', '10m']);
  return stdout.trim();
}

function clusterStatus(cluster: string): Promise<ClusterStatus> {
  if (!state.client) throw new Error('no Temporal client');
  return state.client.workflow.getHandle(clusterWorkflowId(cluster)).query(clusterStatusQuery);
}

async function waitForConnection(cluster: string, want: ClusterStatus['connection'], timeoutMs: number, since = 0): Promise<ClusterStatus> {
  return waitFor(`${cluster} ${want}`, async () => {
    const s = await clusterStatus(cluster);
    return s.connection === want && s.connectionSince >= since ? s : undefined;
  }, { timeoutMs, intervalMs: 100 });
}

function gateway(): InstanceType<ReturnType<typeof agentProto>['AgentGateway']> {
  const Ctor = agentProto().AgentGateway;
  return new Ctor(`127.0.0.1:${state.port}`, credentials.createSsl(readFileSync(join(state.dir, 'tls', 'hub.crt'))));
}

function metadata(credential: string, cluster: string): Metadata {
  const md = new Metadata();
  md.set('authorization', `Bearer ${credential}`);
  md.set(CLUSTER_METADATA, cluster);
  return md;
}

/** A raw Connect stream that records how it ended and whether it was welcomed. */
function openStream(credential: string, cluster: string): { stream: ClientDuplexStream<AgentMessage, HubMessage__Output>; error: Promise<ServiceError>; welcomed: Promise<void>; ended: () => ServiceError | undefined } {
  const stream = gateway().Connect(metadata(credential, cluster));
  let failed: ServiceError | undefined;
  const error = new Promise<ServiceError>((resolve) => { stream.on('error', (err: ServiceError) => { failed = err; resolve(err); }); });
  const welcomed = new Promise<void>((resolve) => { stream.on('data', (m: HubMessage__Output) => { if (m.body === 'welcome') resolve(); }); });
  return { stream, error, welcomed, ended: () => failed };
}

const hello = (cluster: string, kubernetesVersion = 'v1.30.0'): AgentMessage =>
  ({ hello: { cluster, agent_version: 'test', kubernetes_version: kubernetesVersion, api_resources: [], desired_state_version: '0' } });

let probeCredential = '';

describe('agent streams', () => {
  it('the hub drops a frozen agent\'s stream within keepalive time + timeout, and the agent reconnects', async () => {
    await startHub();
    const args = [join(repoRoot, 'dist', 'agents', 'main.js'), '--hub', `127.0.0.1:${state.port}`, '--hub-ca', join(state.dir, 'tls', 'hub.crt'),
      '--cluster', 'frozen', '--kubeconfig', env().cluster('frozen').kubeconfigPath, '--drift-interval', '0',
      '--keepalive-time', String(KEEPALIVE_S), '--keepalive-timeout', String(KEEPALIVE_TIMEOUT_S)];
    const agent = ManagedProcess.start({ name: 'agent[frozen]', command: process.execPath, args, logFile: join(state.dir, 'agent.log'),
      env: { ...process.env, FLOTILLA_TOKEN: await token() } });
    state.agent = agent;
    await waitFor('frozen connected', async () => ((await clusterStatus('frozen').catch(() => undefined))?.connection === 'Connected' ? true : undefined),
      { timeoutMs: 60_000, intervalMs: 250, process: agent });
    // Let a few keepalive rounds pass: pings that are answered keep the stream.
    await sleep((KEEPALIVE_S + KEEPALIVE_TIMEOUT_S) * 1000 + 1000);
    assert.equal((await clusterStatus('frozen')).connection, 'Connected', 'answered pings keep the stream');

    const stoppedAt = Date.now();
    process.kill(agent.pid, 'SIGSTOP'); // the process is frozen; its kernel still holds the TCP connection open
    let dropped: ClusterStatus;
    try {
      dropped = await waitForConnection('frozen', 'Disconnected', 30_000, stoppedAt);
      // Frozen for longer than keepalive time + timeout in all: its own timers are overdue too.
      await sleep(Math.max(0, stoppedAt + (KEEPALIVE_S + KEEPALIVE_TIMEOUT_S + 1) * 1000 - Date.now()));
    } finally {
      process.kill(agent.pid, 'SIGCONT');
    }
    const resumedAt = Date.now();
    const after = dropped.connectionSince - stoppedAt;
    const line = readFileSync(hubLog(), 'utf8').split('\n').filter((l) => l.includes('"agent disconnected"') && l.includes('"cluster":"frozen"')).at(-1);
    assert.ok(line, 'the hub logged the disconnect');
    const loggedAfter = Date.parse((JSON.parse(line) as { ts: string }).ts) - stoppedAt;
    console.log(`stream dropped by the hub ${after} ms after SIGSTOP (logged after ${loggedAfter} ms); keepalive ${KEEPALIVE_S} s + timeout ${KEEPALIVE_TIMEOUT_S} s`);
    const bound = (KEEPALIVE_S + KEEPALIVE_TIMEOUT_S) * 1000 + SLACK_MS;
    assert.ok(after <= bound, `dropped after ${after} ms, more than ${bound} ms`);
    assert.ok(after >= KEEPALIVE_TIMEOUT_S * 1000 - 200, `dropped after ${after} ms: before a ping could even time out?`);

    const back = await waitForConnection('frozen', 'Connected', 30_000, resumedAt);
    console.log(`agent connected again ${back.connectionSince - resumedAt} ms after SIGCONT`);
    assert.equal(back.kubernetesVersion, 'v1.30.14', 'a new Hello');
  });

  it('refuses a message larger than the hub\'s limit with RESOURCE_EXHAUSTED', async () => {
    const { credential } = await new Promise<{ credential: string }>((resolve, reject) => {
      void token().then((t) => {
        gateway().Register({ token: t, cluster: 'probe', agent_version: 'test' }, (err, res) => { if (err || !res) reject(err ?? new Error('no response')); else resolve(res); });
      }, reject);
    });
    probeCredential = credential;
    const big = openStream(credential, 'probe');
    big.stream.write(hello('probe', 'v'.repeat(5 * 1024 * 1024))); // over the default 4 MiB
    const err = await big.error;
    assert.equal(err.code, status.RESOURCE_EXHAUSTED, `${String(err.code)}: ${err.details}`);
    console.log(`oversized Hello refused: ${err.details}`);
    // The hub is fine: a Hello of ordinary size is welcomed, and the frozen cluster's agent is still connected.
    const ok = openStream(credential, 'probe');
    ok.stream.write(hello('probe'));
    await ok.welcomed;
    ok.stream.cancel();
    assert.equal((await clusterStatus('frozen')).connection, 'Connected');
  });

  it('caps a cluster\'s open streams; a Hello replaces the older stream', async () => {
    await sleep(500); // the cancelled stream above is closed on the hub
    const first = openStream(probeCredential, 'probe');
    first.stream.write(hello('probe'));
    await first.welcomed;
    const second = openStream(probeCredential, 'probe'); // no Hello yet: still counted
    await sleep(1000);
    const third = openStream(probeCredential, 'probe');
    const refused = await Promise.race([third.error, sleep(10_000).then(() => undefined)]);
    assert.ok(refused, 'the third stream was refused');
    assert.equal(refused.code, status.RESOURCE_EXHAUSTED, `${String(refused.code)}: ${refused.details}`);
    assert.match(refused.details, /already holds 2 open stream/);
    assert.equal(first.ended(), undefined, 'the streams under the cap stay open');
    assert.equal(second.ended(), undefined);

    // A restarted agent: its Hello on the second stream replaces the first, which is closed.
    second.stream.write(hello('probe'));
    await second.welcomed;
    const replaced = await first.error;
    assert.equal(replaced.code, status.ABORTED);
    assert.match(replaced.details, /replaced by a newer stream/);
    // The replaced stream no longer counts: one more stream is let in.
    const fourth = openStream(probeCredential, 'probe');
    fourth.stream.write(hello('probe'));
    await fourth.welcomed;
    assert.equal((await second.error).code, status.ABORTED);
    fourth.stream.cancel();
  });
});
