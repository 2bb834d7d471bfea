// A Flotilla fleet as real processes on a local environment: one `flotilla-hub serve`, one
// `flotilla-agent` per cluster registered with a one-time token made by the real CLI, and the
// `flotilla` CLI itself. Shared by the end-to-end tests (test/harness/fleet.ts) and the demo
// (deploy/dev/demo.ts), so both run the system exactly as a person would by hand.
import { execFile } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Client, Connection } from '@temporalio/client';
import { clusterStatusQuery, clusterWorkflowId } from '../../api/cluster.js';
import type { SourcePolicy } from '../../core/source-policy.js';
import { DeclarationClient } from '../../hub/declarations.js';
import { repoRoot, cliToolEnv, hubToolFlags } from './binaries.js';
import type { LocalEnvironment } from './environment.js';
import { freePorts } from './ports.js';
import { ManagedProcess, waitFor } from './processes.js';
import { DEV_SOURCE_POLICY, sourcePolicyFlags } from './source-policy.js';

const execFileAsync = promisify(execFile);
export const hubMain = join(repoRoot, 'dist', 'hub', 'main.js');
export const agentMain = join(repoRoot, 'dist', 'agents', 'main.js');
export const cliMain = join(repoRoot, 'dist', 'cli', 'main.js');
export const TASK_QUEUE = 'flotilla-hub';

export interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export interface LocalFleetOptions {
  /** Holds the hub's data directory (`hub/`) and every process's log. Created if missing. */
  readonly dir: string;
  /** The hub's gRPC port (default: a free one). */
  readonly port?: number;
  /** The port of the hub's HTTP API (default: a free one, never the well-known 7480). */
  readonly httpPort?: number;
  /** Seconds between the hub's heartbeats to agents (default 1: quick to notice a dead agent). */
  readonly heartbeatSeconds?: number;
  /** The hub's source policy (default DEV_SOURCE_POLICY: loopback, http and file:// for the fleet's own servers). */
  readonly sourcePolicy?: SourcePolicy;
  /** Agents re-apply to correct drift this often, in seconds (default 5). */
  readonly driftIntervalSeconds?: number;
  /** More `flotilla-hub serve` flags (e.g. --no-cross-namespace-refs). */
  readonly hubArgs?: readonly string[];
}

export interface StartAgentOptions {
  /** The kubeconfig file the agent uses instead of its cluster's own (same credentials, another server). */
  readonly kubeconfigPath?: string;
}

/** What a fleet is connected to; made by LocalFleet.connect. */
export interface FleetConnection {
  readonly env: LocalEnvironment;
  readonly dir: string;
  readonly port: number;
  readonly httpPort: number;
  readonly connection: Connection;
  readonly client: Client;
  readonly declarations: DeclarationClient;
}

export class LocalFleet {
  hub: ManagedProcess | undefined;
  readonly agents = new Map<string, ManagedProcess>();
  readonly env: LocalEnvironment;
  readonly dir: string;
  readonly port: number;
  readonly httpPort: number;
  readonly connection: Connection;
  readonly client: Client;
  readonly declarations: DeclarationClient;
  private hubStarts = 0;

  protected constructor(c: FleetConnection, private readonly options: LocalFleetOptions) {
    this.env = c.env;
    this.dir = c.dir;
    this.port = c.port;
    this.httpPort = c.httpPort;
    this.connection = c.connection;
    this.client = c.client;
    this.declarations = c.declarations;
  }

  /** Connects to the environment's Temporal; starts nothing yet. */
  static async create(env: LocalEnvironment, options: LocalFleetOptions): Promise<LocalFleet> {
    return new LocalFleet(await LocalFleet.connect(env, options), options);
  }

  protected static async connect(env: LocalEnvironment, options: LocalFleetOptions): Promise<FleetConnection> {
    mkdirSync(options.dir, { recursive: true });
    const temporal = env.temporalServer();
    const connection = await Connection.connect({ address: temporal.address });
    const client = new Client({ connection, namespace: temporal.namespace });
    const [port = 0, httpPort = 0] = await freePorts(2);
    return {
      env, dir: options.dir, port: options.port ?? port, httpPort: options.httpPort ?? httpPort,
      connection, client, declarations: new DeclarationClient(client, TASK_QUEUE),
    };
  }

  get hubData(): string {
    return join(this.dir, 'hub');
  }

  /** The hub's address for agents. */
  get hubAddress(): string {
    return `127.0.0.1:${this.port}`;
  }

  /** The hub's HTTP API (/healthz, /api/v1/info, artifacts): what `flotilla --hub` takes. */
  get hubUrl(): string {
    return `http://127.0.0.1:${this.httpPort}`;
  }

  /** What the CLI needs to reach this fleet (FLOTILLA_TEMPORAL, …). */
  cliEnv(): Record<string, string> {
    const temporal = this.env.temporalServer();
    return { FLOTILLA_TEMPORAL: temporal.address, FLOTILLA_TEMPORAL_NAMESPACE: temporal.namespace, FLOTILLA_HUB_DATA: this.hubData };
  }

  /**
   * Starts the hub and waits until it says it is ready (its log goes to hub-<n>.log).
   * `hubArgs` replaces the fleet's own (LocalFleetOptions.hubArgs) for this start: a hub
   * restarted with other settings.
   */
  async startHub(hubArgs: readonly string[] = this.options.hubArgs ?? []): Promise<ManagedProcess> {
    const temporal = this.env.temporalServer();
    const log = join(this.dir, `hub-${++this.hubStarts}.log`);
    const hub = ManagedProcess.start({
      name: 'flotilla-hub', command: process.execPath, logFile: log,
      // FLOTILLA_HUB_NODE_ARGS: extra node flags for the hub, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof".
      args: [...(process.env.FLOTILLA_HUB_NODE_ARGS?.split(' ').filter(Boolean) ?? []), hubMain, 'serve', ...hubToolFlags(), '--data-dir', this.hubData,
        '--listen', this.hubAddress, '--temporal', temporal.address, '--namespace', temporal.namespace, '--task-queue', TASK_QUEUE,
        '--heartbeat', String(this.options.heartbeatSeconds ?? 1), '--http', `127.0.0.1:${this.httpPort}`,
        // The fleet's own git servers, chart repositories and registries: loopback, http, file:// (the default refuses them).
        ...sourcePolicyFlags(this.options.sourcePolicy ?? DEV_SOURCE_POLICY),
        ...(temporal.uiUrl ? ['--temporal-ui', temporal.uiUrl] : []), ...hubArgs],
    });
    this.hub = hub;
    await waitFor('hub ready', () => Promise.resolve(readFileSync(log, 'utf8').includes('"hub ready"') ? true : undefined), { timeoutMs: 60_000, process: hub });
    return hub;
  }

  /** SIGKILL: no graceful shutdown, in-flight activities and workflow tasks are lost. */
  async killHub(): Promise<void> {
    await this.hub?.kill();
    this.hub = undefined;
  }

  /** A one-time registration token carrying `labels`, made by `flotilla cluster token create`. */
  async createToken(labels: Readonly<Record<string, string>> = {}, ttl = '10m'): Promise<string> {
    const args = ['cluster', 'token', 'create', '--hub-data', this.hubData, '--ttl', ttl];
    const pairs = Object.entries(labels).map(([k, v]) => `${k}=${v}`).join(',');
    if (pairs) args.push('--labels', pairs);
    const r = await this.cli(...args);
    const token = r.stdout.trim();
    if (r.code !== 0 || !token) throw new Error(`flotilla ${args.join(' ')} failed (exit ${r.code}): ${r.stderr.trim()}`);
    return token;
  }

  /**
   * Registers (with a fresh token carrying `labels`) and starts the cluster's agent, and waits
   * until the hub's `cluster/<name>` actor sees it connected. The agent manages the
   * environment's cluster `kubeCluster` (default: the one named `cluster`); an agent on another
   * name's cluster keeps its own state (credential, desired state, inventories) in the
   * namespace `flotilla-<cluster>`, so several agents can share one real cluster.
   * `options.kubeconfigPath` replaces that cluster's kubeconfig file (e.g. one whose server is
   * a fault-injecting proxy in front of it); the state namespace still follows `kubeCluster`.
   */
  async startAgent(
    cluster: string, labels: Readonly<Record<string, string>> = {}, kubeCluster = cluster, options: StartAgentOptions = {},
  ): Promise<ManagedProcess> {
    const token = await this.createToken(labels);
    const kubeconfig = options.kubeconfigPath ?? this.env.cluster(kubeCluster).kubeconfigPath;
    const args = [agentMain, '--hub', this.hubAddress, '--hub-ca', join(this.hubData, 'tls', 'hub.crt'), '--cluster', cluster,
      '--kubeconfig', kubeconfig, '--drift-interval', String(this.options.driftIntervalSeconds ?? 5),
      '--http', '127.0.0.1:0',
      ...(kubeCluster === cluster ? [] : ['--namespace', `flotilla-${cluster}`])];
    // The token goes through the environment, not the command line (ps shows command lines).
    const agent = ManagedProcess.start({
      name: `agent[${cluster}]`, command: process.execPath, args, logFile: join(this.dir, `agent-${cluster}.log`),
      env: { ...process.env, FLOTILLA_TOKEN: token },
    });
    this.agents.set(cluster, agent);
    await this.waitForConnected(cluster, agent);
    await waitFor(`${cluster} agent's HTTP address`, () => Promise.resolve(this.agentHttpUrl(cluster)), { timeoutMs: 10_000, process: agent });
    return agent;
  }

  /**
   * Stops the cluster's agent (SIGTERM: it closes its stream to the hub) and forgets it; its
   * state in the cluster (credential Secret, artifact cache) stays, so `startAgent` can start
   * it again. Does nothing when no agent runs for `cluster`.
   */
  async stopAgent(cluster: string): Promise<void> {
    const agent = this.agents.get(cluster);
    if (!agent) return;
    await agent.stop();
    this.agents.delete(cluster);
  }

  /**
   * The URL of the cluster's agent's HTTP server (/metrics, /healthz, /readyz), from its last
   * "agent started" log line; undefined until it said so.
   */
  agentHttpUrl(cluster: string): string | undefined {
    const agent = this.agents.get(cluster);
    if (!agent) return undefined;
    let url: string | undefined;
    for (const line of readFileSync(agent.spec.logFile, 'utf8').split('\n')) {
      if (!line.startsWith('{')) continue;
      try {
        const entry = JSON.parse(line) as { msg?: unknown; http?: unknown };
        if (entry.msg === 'agent started' && typeof entry.http === 'string') url = entry.http;
      } catch { /* not a log line of ours */ }
    }
    return url;
  }

  /** Waits until the hub's `cluster/<name>` actor reports the agent connected. */
  async waitForConnected(cluster: string, agent?: ManagedProcess): Promise<void> {
    await waitFor(`${cluster} connected`, async () => {
      try {
        const s = await this.client.workflow.getHandle(clusterWorkflowId(cluster)).query(clusterStatusQuery);
        return s.connection === 'Connected' ? true : undefined;
      } catch { return undefined; }
    }, { timeoutMs: 60_000, intervalMs: 250, ...(agent ? { process: agent } : {}) });
  }

  /** Runs the flotilla CLI against this fleet; never throws on a non-zero exit. */
  async cli(...args: string[]): Promise<CliResult> {
    return runCli(args, { ...withoutDiscovery(process.env), ...this.cliEnv() });
  }

  /**
   * Runs the flotilla CLI told nothing about this fleet (none of the FLOTILLA_* variables that
   * locate a hub): it finds the hub only through `args`, e.g. `--hub <hubUrl>`.
   */
  async cliVia(args: readonly string[]): Promise<CliResult> {
    return runCli(args, withoutDiscovery(process.env));
  }

  /** Every process this fleet runs now, by name. */
  processes(): { name: string; pid: number }[] {
    return [...(this.hub ? [this.hub] : []), ...this.agents.values()].filter((p) => p.running).map((p) => ({ name: p.spec.name, pid: p.pid }));
  }

  /** Stops the agents, then the hub, and closes the Temporal connection. Leaves `dir` in place. */
  async stop(): Promise<void> {
    for (const a of this.agents.values()) await a.stop();
    await this.hub?.stop();
    await this.connection.close();
  }
}

const DISCOVERY = ['FLOTILLA_TEMPORAL', 'FLOTILLA_TEMPORAL_NAMESPACE', 'FLOTILLA_HUB_DATA', 'FLOTILLA_HUB', 'FLOTILLA_HUB_TOKEN', 'FLOTILLA_TEMPORAL_UI'];

function withoutDiscovery(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(env).filter(([k]) => !DISCOVERY.includes(k)));
}

async function runCli(args: readonly string[], env: NodeJS.ProcessEnv): Promise<CliResult> {
  try {
    // The dev helm and kustomize, as a developer's shell would have them.
    const { stdout, stderr } = await execFileAsync(process.execPath, [cliMain, ...args], { env: { ...env, ...cliToolEnv() }, timeout: 300_000 });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : 1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}
