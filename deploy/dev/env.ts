// `npm run dev:up` / `dev:down` / `dev:status` / `dev:check`: a long-lived local environment
// for people to play with: Temporal (with its Web UI) and three clusters, dev, staging, prod.
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import { Client, Connection } from '@temporalio/client';
import { cacheDir } from './binaries.js';
import { startEnvironment } from './environment.js';
import * as activities from '../../activities/index.js';
import { environmentCheckWorkflow } from '../../workflows/index.js';

const DEV_CLUSTERS = ['dev', 'staging', 'prod'] as const;
const devDir = process.env.FLOTILLA_DEV_DIR ?? join(cacheDir, 'dev');
const stateFile = join(devDir, 'state.json');

const State = z.object({
  temporal: z.object({ address: z.string(), namespace: z.string(), uiUrl: z.string().optional(), pid: z.number() }),
  etcd: z.object({ endpoint: z.string(), pid: z.number() }),
  clusters: z.array(z.object({ name: z.string(), server: z.string(), kubeconfig: z.string(), pids: z.array(z.number()) })),
});
type State = z.infer<typeof State>;

function readState(): State | undefined {
  if (!existsSync(stateFile)) return undefined;
  const parsed = State.safeParse(JSON.parse(readFileSync(stateFile, 'utf8')));
  if (!parsed.success) throw new Error(`${stateFile} is not a dev environment state file; remove it or run 'npm run dev:down'`);
  return parsed.data;
}

function alive(pid: number): boolean {
  try { process.kill(pid, 0); return true; } catch { return false; }
}

function allPids(state: State): number[] {
  return [state.temporal.pid, state.etcd.pid, ...state.clusters.flatMap((c) => c.pids)];
}

function printState(state: State): void {
  console.log('Flotilla dev environment');
  console.log(`  Temporal      ${state.temporal.address} (namespace ${state.temporal.namespace})`);
  if (state.temporal.uiUrl) console.log(`  Temporal UI   ${state.temporal.uiUrl}`);
  for (const c of state.clusters) {
    console.log(`  cluster ${c.name.padEnd(8)} ${c.server}   KUBECONFIG=${c.kubeconfig}`);
  }
  console.log(`  logs          ${devDir}`);
  console.log(`  stop with     npm run dev:down`);
}

async function up(): Promise<void> {
  const existing = readState();
  if (existing) {
    const dead = allPids(existing).filter((pid) => !alive(pid));
    if (dead.length === 0) {
      console.log('already running.');
      printState(existing);
      return;
    }
    console.log(`a previous environment is partly down (${dead.length} processes gone); restarting it.`);
    down();
  }
  mkdirSync(devDir, { recursive: true });
  const started = Date.now();
  const env = await startEnvironment({ clusters: DEV_CLUSTERS, temporal: true, temporalUi: true, dir: devDir, detached: true });
  const temporal = env.temporalServer();
  if (!env.etcd) throw new Error('etcd did not start');
  const state: State = {
    temporal: { address: temporal.address, namespace: temporal.namespace, uiUrl: temporal.uiUrl, pid: temporal.process.pid },
    etcd: { endpoint: env.etcd.endpoint, pid: env.etcd.process.pid },
    clusters: DEV_CLUSTERS.map((name) => {
      const c = env.cluster(name);
      return { name, server: c.server, kubeconfig: c.kubeconfigPath, pids: c.processes.map((p) => p.pid) };
    }),
  };
  writeFileSync(stateFile, JSON.stringify(state, null, 2));
  console.log(`started in ${((Date.now() - started) / 1000).toFixed(1)} s.`);
  printState(state);
}

function down(): void {
  const state = readState();
  if (!state) {
    console.log('no dev environment is running.');
    return;
  }
  for (const pid of allPids(state)) {
    try { process.kill(-pid, 'SIGKILL'); } catch { /* already gone */ }
  }
  rmSync(devDir, { recursive: true, force: true });
  console.log('dev environment stopped and removed.');
}

/** Shows the environment is alive: a real workflow on the real Temporal probes every cluster. */
async function check(): Promise<void> {
  const state = readState();
  if (!state) throw new Error("no dev environment is running: start it with 'npm run dev:up'");
  quietWorkerLogs();
  const taskQueue = 'flotilla-dev-check';
  const nativeConnection = await NativeConnection.connect({ address: state.temporal.address });
  const worker = await Worker.create({
    connection: nativeConnection,
    namespace: state.temporal.namespace,
    taskQueue,
    workflowsPath: fileURLToPath(new URL('../../workflows/index.js', import.meta.url)),
    activities,
  });
  const connection = await Connection.connect({ address: state.temporal.address });
  const client = new Client({ connection, namespace: state.temporal.namespace });
  const result = await worker.runUntil(client.workflow.execute(environmentCheckWorkflow, {
    taskQueue,
    workflowId: `environment-check/${new Date().toISOString()}`,
    args: [state.clusters.map((c) => ({ cluster: c.name, kubeconfigPath: c.kubeconfig }))],
  }));
  await connection.close();
  await nativeConnection.close();
  console.log('environment check (a Temporal workflow, one activity per cluster):');
  for (const c of result.clusters) {
    console.log(`  ${c.cluster.padEnd(8)} ${c.gitVersion}  nodes ready ${c.readyNodes}/${c.nodes}  ${c.server}`);
  }
  if (state.temporal.uiUrl) console.log(`  see it in the Temporal UI: ${state.temporal.uiUrl}/namespaces/${state.temporal.namespace}/workflows`);
  if (!result.allReady) throw new Error('some cluster is not ready');
}

const usage = `usage: node dist/deploy/dev/env.js <up|down|status|check>
  up      start Temporal (with UI) and clusters dev, staging, prod in the background
  down    stop them and delete their data
  status  print how to reach them
  check   run a workflow on Temporal that probes every cluster`;

async function main(): Promise<void> {
  const command = process.argv[2];
  switch (command) {
    case 'up': await up(); break;
    case 'down': down(); break;
    case 'status': {
      const state = readState();
      if (state) printState(state);
      else console.log('no dev environment is running.');
      break;
    }
    case 'check': await check(); break;
    case '-h': case '--help': case 'help': console.log(usage); break;
    default:
      console.error(usage);
      process.exitCode = 2;
  }
}

main().catch((err: unknown) => {
  console.error(`dev environment: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});

let runtimeInstalled = false;
/** The worker's lifecycle chatter at INFO drowns the output; warnings and errors remain. */
function quietWorkerLogs(): void {
  if (runtimeInstalled) return;
  Runtime.install({ logger: new DefaultLogger('WARN') });
  runtimeInstalled = true;
}
