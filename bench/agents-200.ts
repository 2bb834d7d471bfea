// Benchmark "agents-200": 200 agents connect to one hub process. The agents run in this
// process and share two real clusters, each confined to its own namespace; the hub is a
// real `flotilla-hub serve` process, so its CPU and memory are its own.
// Figures: time until all are connected (the hub's cluster actors say Connected), the hub's
// RSS and CPU while idle with heartbeats, and time for all to reconnect after the hub is
// killed and restarted.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Client, Connection } from '@temporalio/client';
import { clusterStatusQuery, clusterWorkflowId } from '../api/cluster.js';
import { Agent } from '../agents/agent.js';
import { repoRoot, hubToolFlags } from '../deploy/dev/binaries.js';
import { startEnvironment } from '../deploy/dev/environment.js';
import { freePort } from '../deploy/dev/ports.js';
import { ManagedProcess, waitFor } from '../deploy/dev/processes.js';
import { FileBlobStore } from '../hub/blob-store.js';
import { RegistrationStore } from '../hub/registration.js';
import { recordResults, rssMiB } from './record.js';

const AGENTS = Number(process.env.FLOTILLA_BENCH_AGENTS ?? '200');
const HEARTBEAT_SECONDS = 10;
const IDLE_SAMPLE_SECONDS = 30;

function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime + stime, in clock ticks (USER_HZ = 100)
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'flotilla-bench-agents-'));
  const env = await startEnvironment({ clusters: ['fleet-a', 'fleet-b'] });
  const agents: Agent[] = [];
  const connectedAt = new Map<string, number>();
  let hub: ManagedProcess | undefined;
  try {
    const temporal = env.temporalServer();
    const port = await freePort();
    let starts = 0;
    const startHub = async (): Promise<ManagedProcess> => {
      const log = join(dir, `hub-${++starts}.log`);
      const p = ManagedProcess.start({
        name: 'flotilla-hub', command: process.execPath, logFile: log,
        args: [join(repoRoot, 'dist', 'hub', 'main.js'), 'serve', ...hubToolFlags(), '--data-dir', dir, '--listen', `127.0.0.1:${port}`,
          '--temporal', temporal.address, '--heartbeat', String(HEARTBEAT_SECONDS)],
      });
      await waitFor('hub ready', () => Promise.resolve(readFileSync(log, 'utf8').includes('"hub ready"') ? true : undefined), { timeoutMs: 60_000, process: p });
      return p;
    };
    hub = await startHub();
    const { token } = await new RegistrationStore(new FileBlobStore(dir)).createToken({ ttlMs: 3_600_000, uses: AGENTS });
    const hubCa = readFileSync(join(dir, 'tls', 'hub.crt'));
    const connection = await Connection.connect({ address: temporal.address });
    const client = new Client({ connection, namespace: temporal.namespace });
    const names = Array.from({ length: AGENTS }, (_, i) => `agent-${i}`);
    const allConnected = (): Promise<boolean> => Promise.all(names.map(async (n) => {
      try { return (await client.workflow.getHandle(clusterWorkflowId(n)).query(clusterStatusQuery)).connection === 'Connected'; } catch { return false; }
    })).then((all) => all.every(Boolean));

    const t0 = performance.now();
    for (const [i, name] of names.entries()) {
      const agent = new Agent({
        hubAddress: `127.0.0.1:${port}`, hubCa, cluster: name, token, namespace: name, driftIntervalMs: 0,
        kubeConfig: env.cluster(i % 2 === 0 ? 'fleet-a' : 'fleet-b').kubeConfig(),
        log: (message) => { if (message === 'connected to the hub') connectedAt.set(name, performance.now()); },
      });
      agents.push(agent);
      await agent.start();
    }
    await waitFor(`all ${AGENTS} agents connected`, async () => ((await allConnected()) ? true : undefined), { timeoutMs: 600_000, intervalMs: 1000 });
    const connectSeconds = (performance.now() - t0) / 1000;
    console.log(`connected: ${AGENTS} agents in ${connectSeconds.toFixed(1)} s`);

    await sleep(2 * HEARTBEAT_SECONDS * 1000); // settle, then sample an idle hub
    const cpu0 = cpuSeconds(hub.pid);
    await sleep(IDLE_SAMPLE_SECONDS * 1000);
    const hubIdleCpuPercent = ((cpuSeconds(hub.pid) - cpu0) / IDLE_SAMPLE_SECONDS) * 100;
    const hubRssMiB = rssMiB(hub.pid);
    console.log(`idle hub: ${hubIdleCpuPercent.toFixed(1)} % of one core, ${hubRssMiB.toFixed(0)} MiB RSS`);

    await hub.kill();
    connectedAt.clear();
    const t1 = performance.now();
    hub = await startHub();
    await waitFor(`all ${AGENTS} agents reconnected`, () => Promise.resolve(connectedAt.size === AGENTS ? true : undefined), { timeoutMs: 600_000, intervalMs: 200 });
    const reconnectSeconds = (Math.max(...connectedAt.values()) - t1) / 1000;
    console.log(`reconnected: ${AGENTS} agents ${reconnectSeconds.toFixed(1)} s after the restart began`);
    await connection.close();

    const figures = {
      agents: AGENTS, clusters: 2, heartbeatSeconds: HEARTBEAT_SECONDS, connectSeconds, reconnectSeconds, hubIdleCpuPercent, hubRssMiB,
      targets: { reconnectSeconds: '<= 30', hubIdleCpuPercent: '< 10' },
    };
    console.log(JSON.stringify(figures, null, 2));
    const met = (ok: boolean): string => (ok ? 'met' : '**missed**');
    recordResults('agents-200', figures, [
      `${AGENTS} agents (in one process, sharing 2 local clusters, each in its own namespace) against one \`flotilla-hub serve\` process with heartbeats every ${HEARTBEAT_SECONDS} s, Temporal dev server on the same machine.`,
      '',
      '| figure | value | target |',
      '|---|---|---|',
      `| all connected (registration, stream, cluster actor says Connected) | ${connectSeconds.toFixed(1)} s | |`,
      `| hub idle CPU (${IDLE_SAMPLE_SECONDS} s sample) | ${hubIdleCpuPercent.toFixed(1)} % of one core | < 10 %: ${met(hubIdleCpuPercent < 10)} |`,
      `| hub RSS, idle | ${hubRssMiB.toFixed(0)} MiB | |`,
      `| all reconnected after SIGKILL + restart of the hub | ${reconnectSeconds.toFixed(1)} s | ≤ 30 s: ${met(reconnectSeconds <= 30)} |`,
    ].join('\n'));
  } finally {
    await Promise.all(agents.map((a) => a.stop()));
    await hub?.stop();
    await env.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
