// A whole fleet as real processes, for end-to-end tests: one `flotilla-hub serve` (which can
// be killed and restarted), one `flotilla-agent` per cluster, and the `flotilla` CLI, on the
// environment's Temporal server and clusters. Logs go to the fleet's directory.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Client, Connection } from '@temporalio/client';
import { repoRoot } from '../../deploy/dev/binaries.js';
import { freePort } from '../../deploy/dev/ports.js';
import { ManagedProcess, waitFor } from '../../deploy/dev/processes.js';
import { isReady } from '../../core/conditions.js';
import { DeclarationClient, type ActorStatus } from '../../hub/declarations.js';
import { RegistrationStore } from '../../hub/registration.js';
import { clusterStatusQuery, clusterWorkflowId, type KustomizationStatus } from '../../workflows/messages.js';
import { useEnvironment, type LocalEnvironment } from './index.js';

const execFileAsync = promisify(execFile);
const hubMain = join(repoRoot, 'dist', 'hub', 'main.js');
const agentMain = join(repoRoot, 'dist', 'agents', 'main.js');
const cliMain = join(repoRoot, 'dist', 'cli', 'main.js');
export const TASK_QUEUE = 'flotilla-hub';

export interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export class TestFleet {
  hub: ManagedProcess | undefined;
  readonly agents = new Map<string, ManagedProcess>();
  private hubStarts = 0;

  private constructor(
    readonly env: LocalEnvironment,
    readonly dir: string,
    readonly port: number,
    readonly connection: Connection,
    readonly client: Client,
    readonly declarations: DeclarationClient,
  ) {}

  static async create(env: LocalEnvironment): Promise<TestFleet> {
    const dir = mkdtempSync(join(tmpdir(), 'flotilla-fleet-'));
    const temporal = env.temporalServer();
    const connection = await Connection.connect({ address: temporal.address });
    const client = new Client({ connection, namespace: temporal.namespace });
    return new TestFleet(env, dir, await freePort(), connection, client, new DeclarationClient(client, TASK_QUEUE));
  }

  get hubData(): string {
    return join(this.dir, 'hub');
  }

  async startHub(): Promise<void> {
    const temporal = this.env.temporalServer();
    const log = join(this.dir, `hub-${++this.hubStarts}.log`);
    const hub = ManagedProcess.start({
      name: 'flotilla-hub', command: process.execPath, logFile: log,
      // FLOTILLA_HUB_NODE_ARGS: extra node flags for the hub, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof".
      args: [...(process.env.FLOTILLA_HUB_NODE_ARGS?.split(' ').filter(Boolean) ?? []), hubMain, 'serve', '--data-dir', this.hubData, '--listen', `127.0.0.1:${this.port}`, '--temporal', temporal.address,
        '--namespace', temporal.namespace, '--task-queue', TASK_QUEUE, '--heartbeat', '1'],
    });
    this.hub = hub;
    await waitFor('hub ready', () => Promise.resolve(readFileSync(log, 'utf8').includes('"hub ready"') ? true : undefined), { timeoutMs: 60_000, process: hub });
  }

  /** SIGKILL: no graceful shutdown, in-flight activities and workflow tasks are lost. */
  async killHub(): Promise<void> {
    await this.hub?.kill();
    this.hub = undefined;
  }

  /**
   * Registers (with a fresh token carrying `labels`) and starts the cluster's agent. The agent
   * manages the environment's cluster `kubeCluster` (default: the one named `cluster`); an agent
   * on another name's cluster keeps its own state (credential, desired state, inventories) in
   * the namespace `flotilla-<cluster>`, so several agents can share one real cluster.
   */
  async startAgent(cluster: string, labels: Record<string, string> = {}, kubeCluster = cluster): Promise<void> {
    const token = new RegistrationStore(join(this.hubData, 'registration.json')).createToken({ ttlMs: 600_000, labels }).token;
    const args = [agentMain, '--hub', `127.0.0.1:${this.port}`, '--hub-ca', join(this.hubData, 'tls', 'hub.crt'), '--cluster', cluster,
      '--kubeconfig', this.env.cluster(kubeCluster).kubeconfigPath, '--drift-interval', '5', '--token', token,
      ...(kubeCluster === cluster ? [] : ['--namespace', `flotilla-${cluster}`])];
    this.agents.set(cluster, ManagedProcess.start({ name: `agent[${cluster}]`, command: process.execPath, args, logFile: join(this.dir, `agent-${cluster}.log`) }));
    await waitFor(`${cluster} connected`, async () => {
      try {
        const s = await this.client.workflow.getHandle(clusterWorkflowId(cluster)).query(clusterStatusQuery);
        return s.connection === 'Connected' ? true : undefined;
      } catch { return undefined; }
    }, { timeoutMs: 60_000, intervalMs: 250 });
  }

  /** Runs the flotilla CLI against this fleet; never throws on a non-zero exit. */
  async cli(...args: string[]): Promise<CliResult> {
    const temporal = this.env.temporalServer();
    try {
      const { stdout, stderr } = await execFileAsync(process.execPath, [cliMain, ...args], {
        env: { ...process.env, FLOTILLA_TEMPORAL: temporal.address, FLOTILLA_TEMPORAL_NAMESPACE: temporal.namespace, FLOTILLA_HUB_DATA: this.hubData },
        timeout: 300_000,
      });
      return { code: 0, stdout, stderr };
    } catch (err) {
      const e = err as { code?: number; stdout?: string; stderr?: string };
      return { code: typeof e.code === 'number' ? e.code : 1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
    }
  }

  async status(id: string): Promise<ActorStatus> {
    return this.declarations.status(id);
  }

  async kustomization(id: string): Promise<KustomizationStatus> {
    const s = await this.declarations.status(id);
    if (s.kind !== 'Kustomization') throw new Error(`${id} is not a Kustomization`);
    return s.status;
  }

  /** Waits until the Kustomization satisfies `done` (default: Ready at `revision`). */
  async waitForKustomization(id: string, done: (s: KustomizationStatus) => boolean, what: string, timeoutMs = 120_000): Promise<KustomizationStatus> {
    return waitFor(`${id}: ${what}`, async () => {
      try {
        const s = await this.kustomization(id);
        return done(s) ? s : undefined;
      } catch { return undefined; }
    }, { timeoutMs, intervalMs: 300 });
  }

  async waitForReadyAt(id: string, revisionPrefix: string, timeoutMs = 120_000): Promise<KustomizationStatus> {
    return this.waitForKustomization(id, (s) => isReady(s.conditions) && s.lastAppliedRevision.startsWith(revisionPrefix), `Ready at ${revisionPrefix}`, timeoutMs);
  }

  async stop(): Promise<void> {
    for (const a of this.agents.values()) await a.stop();
    await this.hub?.stop();
    await this.connection.close();
    if (process.env.FLOTILLA_KEEP_TEST_DIRS) console.log(`kept ${this.dir}`);
    else rmSync(this.dir, { recursive: true, force: true });
  }
}

/**
 * One environment (real clusters + Temporal) and one fleet (the hub process, an agent per
 * cluster with its labels) for a whole test file, plus a scratch directory; all stopped after.
 */
export function useFleet(clusters: Readonly<Record<string, Record<string, string>>>, prefix: string): {
  readonly env: () => LocalEnvironment;
  readonly fleet: () => TestFleet;
  readonly dir: () => string;
} {
  const state: { fleet?: TestFleet; dir?: string } = {};
  const env = useEnvironment({ clusters: Object.keys(clusters) }, {
    afterStart: async (e) => {
      state.dir = mkdtempSync(join(tmpdir(), prefix));
      const fleet = await TestFleet.create(e);
      state.fleet = fleet;
      await fleet.startHub();
      for (const [name, labels] of Object.entries(clusters)) await fleet.startAgent(name, labels);
    },
    beforeStop: async () => {
      await state.fleet?.stop();
      if (state.dir) rmSync(state.dir, { recursive: true, force: true });
    },
  });
  return {
    env,
    fleet: () => {
      if (!state.fleet) throw new Error('fleet not started');
      return state.fleet;
    },
    dir: () => {
      if (!state.dir) throw new Error('fleet not started');
      return state.dir;
    },
  };
}
