// `npm run dev:up` / `dev:down` / `dev:status` / `dev:check`: a long-lived local environment
// for people to play with: Temporal (with its Web UI) and three clusters, dev, staging, prod
// (or the clusters named by `npm run dev:up -- --clusters a,b`).
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

const DEV_CLUSTERS: readonly string[] = ['dev', 'staging', 'prod'];
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
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
  const width = Math.max(8, ...state.clusters.map((c) => c.name.length));
  for (const c of state.clusters) {
    console.log(`  cluster ${c.name.padEnd(width)} ${c.server}   KUBECONFIG=${c.kubeconfig}`);
  }
  console.log(`  logs          ${devDir}`);
  console.log(`  stop with     npm run dev:down`);
}

/** The cluster names of `up [--clusters a,b]` (also `--clusters=a,b`); undefined without. */
function parseUpArgs(args: readonly string[]): { clusters: readonly string[] | undefined } {
  let clusters: readonly string[] | undefined;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] ?? '';
    let value: string | undefined;
    if (arg === '--clusters') {
      value = args[++i];
      if (value === undefined) throw new UsageError('--clusters needs a value, e.g. --clusters a,b');
    } else if (arg.startsWith('--clusters=')) {
      value = arg.slice('--clusters='.length);
    } else {
      throw new UsageError(`unknown argument to up: ${arg}`);
    }
    const names = value.split(',').map((n) => n.trim()).filter((n) => n !== '');
    if (names.length === 0) throw new UsageError('--clusters needs at least one cluster name');
    const bad = names.filter((n) => !DNS_LABEL.test(n) || n.length > 63);
    if (bad.length > 0) throw new UsageError(`cluster names must be DNS labels (lowercase letters, digits, '-'): ${bad.join(', ')}`);
    const dup = names.find((n, j) => names.indexOf(n) !== j);
    if (dup !== undefined) throw new UsageError(`cluster "${dup}" named twice`);
    clusters = names;
  }
  return { clusters };
}

class UsageError extends Error {}

async function up(requested: readonly string[] | undefined): Promise<void> {
  const clusters = requested ?? DEV_CLUSTERS;
  const existing = readState();
  if (existing) {
    const dead = allPids(existing).filter((pid) => !alive(pid));
    if (dead.length === 0) {
      const running = existing.clusters.map((c) => c.name);
      if (requested !== undefined && running.join(',') !== requested.join(',')) {
        console.log(`already running, with clusters ${running.join(', ')} (not ${clusters.join(', ')}): 'npm run dev:down' first to change them.`);
      } else {
        console.log('already running.');
      }
      printState(existing);
      return;
    }
    console.log(`a previous environment is partly down (${dead.length} processes gone); restarting it.`);
    down();
  }
  mkdirSync(devDir, { recursive: true });
  const started = Date.now();
  const env = await startEnvironment({ clusters, temporal: true, temporalUi: true, dir: devDir, detached: true });
  const temporal = env.temporalServer();
  if (!env.etcd) throw new Error('etcd did not start');
  const state: State = {
    temporal: { address: temporal.address, namespace: temporal.namespace, uiUrl: temporal.uiUrl, pid: temporal.process.pid },
    etcd: { endpoint: env.etcd.endpoint, pid: env.etcd.process.pid },
    clusters: clusters.map((name) => {
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

const usage = `usage: node dist/deploy/dev/env.js <up [--clusters a,b]|down|status|check>
  up      start Temporal (with UI) and clusters dev, staging, prod in the background
          --clusters a,b   start these clusters instead (DNS labels, comma-separated);
                           via npm: npm run dev:up -- --clusters a,b
  down    stop them and delete their data
  status  print how to reach them
  check   run a workflow on Temporal that probes every cluster`;

async function main(): Promise<void> {
  const command = process.argv[2];
  switch (command) {
    case 'up': {
      const args = process.argv.slice(3);
      if (args.includes('-h') || args.includes('--help')) console.log(usage);
      else await up(parseUpArgs(args).clusters);
      break;
    }
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
  if (err instanceof UsageError) {
    console.error(usage);
    process.exit(2);
  }
  process.exit(1);
});

let runtimeInstalled = false;
/** The worker's lifecycle chatter at INFO drowns the output; warnings and errors remain. */
function quietWorkerLogs(): void {
  if (runtimeInstalled) return;
  Runtime.install({ logger: new DefaultLogger('WARN') });
  runtimeInstalled = true;
}
