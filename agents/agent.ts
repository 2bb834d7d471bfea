// The in-cluster agent: dials the hub, registers once (keeping its credential in a Secret
// of its own cluster), holds one stream, applies each desired deployment with the apply
// engine and reports per generation. Its last desired state lives in its cluster too, and
// it keeps correcting drift on its own while the hub is away.
import { credentials as grpcCredentials, Metadata, type ClientDuplexStream } from '@grpc/grpc-js';
import type { KubeConfig } from '@kubernetes/client-node';
import { setTimeout as sleep } from 'node:timers/promises';
import { verifyDigest } from '../core/digest.js';
import { idFields, type LogFn, type LogLevel } from '../core/log.js';
import { VERSION } from '../core/version.js';
import { parseManifests, findDuplicates, type ParseLimits } from '../core/manifests.js';
import type { AgentGatewayClient } from '../proto/gen/flotilla/agent/v1/AgentGateway.js';
import type { AgentMessage } from '../proto/gen/flotilla/agent/v1/AgentMessage.js';
import type { HubMessage__Output } from '../proto/gen/flotilla/agent/v1/HubMessage.js';
import type { DeploymentReport } from '../proto/gen/flotilla/agent/v1/DeploymentReport.js';
import type { Deployment__Output } from '../proto/gen/flotilla/agent/v1/Deployment.js';
import type { DesiredState__Output } from '../proto/gen/flotilla/agent/v1/DesiredState.js';
import { CLUSTER_METADATA, agentProto } from '../proto/load.js';
import { parseImpersonation } from '../core/tenancy.js';
import { Applier, errorMessage, fightNotes, type ApplyOptions, type ApplyReport, type Deployment } from './apply/applier.js';
import { ClusterClient, isTransientError, type RetryPolicy } from './apply/cluster-client.js';
import { capReport } from '../core/report-cap.js';
import { waitForHealth } from './apply/health.js';
import { AGENT_NAMESPACE } from './apply/inventory-store.js';
import { DEFAULT_LIMITS } from './apply/rate-limit.js';
import { AgentStateStore, ArtifactCache, type AgentState, type DesiredDeploymentWire } from './agent-state.js';
import { Backoff } from './backoff.js';
import { DEFAULT_AGENT_BOUNDS, agentBoundsProblem, artifactParseLimits, artifactTooLarge, type AgentBounds } from './bounds.js';
import { decideDesired } from './desired-state-guard.js';
import type { AgentMetrics } from './metrics.js';

export const AGENT_VERSION = VERSION;

export interface AgentOptions {
  /** host:port of the hub; several: the agent moves to the next when its hub goes away. */
  readonly hubAddress: string | readonly string[];
  /** Labels asked for at registration (the token's labels win on the same key). */
  readonly labels?: Readonly<Record<string, string>>;
  /** PEM the hub's certificate must chain to. */
  readonly hubCa: Buffer;
  readonly cluster: string;
  /** Registration token, needed only until the credential Secret exists. */
  readonly token?: string;
  readonly kubeConfig: KubeConfig;
  /** Namespace for the agent's own state: credential, desired state, inventories (default flotilla-system). */
  readonly namespace?: string;
  /** Re-apply everything this often to correct drift (default 60 s; 0 disables). */
  readonly driftIntervalMs?: number;
  readonly log?: LogFn;
  /** Hub connection, applies and API server requests are counted here. */
  readonly metrics?: AgentMetrics;
  /** Deployments applied at once (default DEFAULT_CONCURRENCY). */
  readonly concurrency?: number;
  /** API server request retries (default cluster-client.ts DEFAULT_RETRY: 30 s per request); tests shorten it. */
  readonly kubeRetry?: Partial<RetryPolicy>;
  /**
   * The agent pings the hub this often on its connection (default 30 s), and gives the
   * connection up when a ping is not answered within keepaliveTimeoutMs (default 10 s): a hub
   * that vanished without closing the connection is noticed and the agent reconnects. Keep it
   * at least the hub's grpc.minPingIntervalSeconds (20 s by default).
   */
  readonly keepaliveTimeMs?: number;
  readonly keepaliveTimeoutMs?: number;
  /**
   * Cache artifacts holding a Secret in Secrets of `namespace` (default false: such artifacts
   * stay in memory and are fetched from the hub again after a restart). Needs a Role over every
   * Secret of the namespace (agent-state.ts, the chart's cacheSecretArtifacts).
   */
  readonly cacheSecretArtifacts?: boolean;
  /**
   * What one artifact may hold (default DEFAULT_AGENT_BOUNDS: 64 MiB, 10,000 objects, what the
   * hub's parse accepts). Over either, the generation fails naming the cap; nothing is applied.
   */
  readonly bounds?: Partial<AgentBounds>;
}

export const DEFAULT_KEEPALIVE_TIME_MS = 30_000;
export const DEFAULT_KEEPALIVE_TIMEOUT_MS = 10_000;

/**
 * Deployments applied (and waited for) at once. Most of an apply is waiting for health, so
 * this is about waits in parallel, as Flux's --concurrent; the API requests stay capped by
 * the client's own limits (agents/apply/rate-limit.ts: 16 in flight, 200 qps).
 */
export const DEFAULT_CONCURRENCY = 16;
/** Artifact download errors that mean "the hub is not reachable right now", not "this artifact is bad". */
const TRANSIENT = /ECONNRESET|ECONNREFUSED|UNAVAILABLE|CANCELLED|DEADLINE_EXCEEDED|No connection established/i;
/** A failed generation is retried by the drift round at most this often. */
const RETRY_PAUSE_MS = 60_000;
/**
 * After a transient failure (the API server still unavailable when the client's retries ran
 * out) the same generation is tried again after this, doubling (jittered) up to
 * TRANSIENT_RETRY_MAX_MS: soon, as nothing was wrong with it, but not in a tight loop against
 * a server that is down.
 */
const TRANSIENT_RETRY_MS = 5_000;
/** The longest pause between such retries (each attempt sends the hub a report). */
const TRANSIENT_RETRY_MAX_MS = 30_000;

/** The apply met an API server that stayed unavailable: no outcome, try again soon. */
class ApiServerUnavailable extends Error {}


type Stream = ClientDuplexStream<AgentMessage, HubMessage__Output>;

export class Agent {
  private readonly client: ClusterClient;
  private readonly applier: Applier;
  private readonly state: AgentStateStore;
  private stopped = false;
  private stream: Stream | undefined;
  private grpc: AgentGatewayClient | undefined;
  private credential: string | undefined;
  private queue: Promise<void> = Promise.resolve();
  private saving: Promise<void> = Promise.resolve();
  private driftPending = false;
  /** Why the hub's last desired state was refused (what runs is held), while it is. */
  private holding: string | undefined;
  /** Deployments being applied right now (by any reconcile). */
  private readonly inFlight = new Set<string>();
  /** When each failed (deployment@generation) last failed, to pause retries of it. */
  private readonly failedAt = new Map<string, number>();
  /** Deployments (name@generation, or delete:name) waiting out a transient failure: when to retry. */
  private readonly transientRetry = new Map<string, { at: number; backoff: Backoff; timer?: NodeJS.Timeout }>();
  /** Applied deployments whose last drift round failed: the next good round reports Ready again. */
  private readonly driftFailed = new Set<string>();
  /** Bounded: the desired state's artifacts and a few recent others (agent-state.ts). */
  private readonly artifacts = new ArtifactCache(() => this.current.desired.deployments.map((d) => d.artifactDigest));
  private readonly reports = new Map<string, DeploymentReport>();
  private current: AgentState = { desired: { version: '0', deployments: [] }, applied: {} };
  private driftTimer: NodeJS.Timeout | undefined;
  private loop: Promise<void> | undefined;
  private readonly stopping = new AbortController();
  private connected = false;
  private readonly hubs: readonly string[];
  private hubIndex = 0;
  private readonly bounds: AgentBounds;
  private readonly parseLimits: ParseLimits;

  constructor(private readonly opts: AgentOptions) {
    this.hubs = typeof opts.hubAddress === 'string' ? [opts.hubAddress] : [...opts.hubAddress];
    if (this.hubs.length === 0) throw new Error('no hub address');
    this.bounds = { ...DEFAULT_AGENT_BOUNDS, ...opts.bounds };
    const problem = agentBoundsProblem(this.bounds);
    if (problem !== undefined) throw new Error(problem);
    this.parseLimits = artifactParseLimits(this.bounds);
    const metrics = opts.metrics;
    this.client = new ClusterClient(opts.kubeConfig, DEFAULT_LIMITS, metrics ? (verb, code) => { metrics.kubeRequest(verb, code); } : undefined,
      opts.kubeRetry ? { retry: opts.kubeRetry } : {});
    const namespace = opts.namespace ?? AGENT_NAMESPACE;
    this.applier = new Applier(this.client, { agentNamespace: namespace });
    this.state = new AgentStateStore(this.client, namespace, (message, fields, level) => { this.log(message, fields, level); },
      { cacheSecretArtifacts: opts.cacheSecretArtifacts ?? false });
  }

  /** Starts the connection loop and the drift loop in the background. */
  async start(): Promise<void> {
    this.current = await this.state.load();
    this.loop = this.connectLoop();
    const every = this.opts.driftIntervalMs ?? 60_000;
    if (every > 0) {
      this.driftTimer = setInterval(() => {
        // One drift round at a time: rounds that pile up behind a slow one (a health wait)
        // would starve new desired state from the hub.
        if (this.driftPending) return;
        this.driftPending = true;
        this.enqueue(async () => {
          try { await this.correctDrift(); } finally { this.driftPending = false; }
        });
      }, every);
      this.driftTimer.unref();
    }
    // Converge on what was last desired even before the hub answers.
    this.enqueue(() => this.reconcile(false));
  }

  /** True while the agent holds its stream to the hub (welcomed, not yet ended). */
  get hubConnected(): boolean {
    return this.connected;
  }

  /** What makes the agent unready (its /readyz): empty while it is connected to the hub. */
  problems(): string[] {
    if (this.stopped) return ['The agent is stopping.'];
    if (this.holding !== undefined) return [`The agent holds what runs and refuses the hub's desired state: ${this.holding}`];
    return this.connected ? [] : [`The agent has no stream to the hub at ${this.hubAddress} (it keeps applying its last desired state and retries the connection).`];
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.stopping.abort();
    if (this.driftTimer) clearInterval(this.driftTimer);
    for (const t of this.transientRetry.values()) clearTimeout(t.timer);
    (this.stream)?.cancel();
    this.grpc?.close();
    await this.loop;
    await this.queue;
    this.client.close();
  }

  /** The hub it talks to now. */
  get hubAddress(): string {
    return this.hubs[this.hubIndex] ?? '';
  }

  /** After a session ends: the next hub, if there are several (a hub that is gone is not retried first). */
  private nextHub(): void {
    if (this.hubs.length < 2) return;
    this.grpc?.close();
    this.grpc = undefined;
    this.hubIndex = (this.hubIndex + 1) % this.hubs.length;
  }

  private log(message: string, fields: Record<string, unknown> = {}, level?: LogLevel): void {
    this.opts.log?.(message, { cluster: this.opts.cluster, ...fields }, level);
  }

  private setConnected(connected: boolean): void {
    this.connected = connected;
    this.opts.metrics?.hubConnected(connected);
  }

  /** One apply through the engine, timed and counted. */
  private async apply(deployment: Deployment, options: ApplyOptions): Promise<ApplyReport> {
    const started = performance.now();
    const seconds = (): number => (performance.now() - started) / 1000;
    try {
      const report = await this.applier.apply(deployment, options);
      this.opts.metrics?.applied(seconds(), report.phase === 'Applied', report.counts);
      return report;
    } catch (err) {
      this.opts.metrics?.applied(seconds(), false);
      throw err;
    }
  }

  private enqueue(task: () => Promise<void>): void {
    this.queue = this.queue.then(task).catch((err: unknown) => { this.log('agent task failed', { error: errorMessage(err) }, 'error'); });
  }

  private async connectLoop(): Promise<void> {
    const backoff = new Backoff(1000, 60_000);
    while (!this.stopped) {
      try {
        await this.session(() => { backoff.reset(); });
      } catch (err) {
        this.log('hub connection failed', { hub: this.hubAddress, error: errorMessage(err) }, 'warn');
      }
      this.nextHub();
      // Jittered, growing pauses: a fleet of agents must not reconnect in lockstep.
      await sleep(backoff.next(), undefined, { signal: this.stopping.signal }).catch(() => undefined);
    }
  }

  private gatewayClient(): AgentGatewayClient {
    if (!this.grpc) {
      const Ctor = agentProto().AgentGateway;
      // Channel option names from grpc-js (@grpc/grpc-js 1.14, packages/grpc-js/src/transport.ts,
      // Http2Transport): pings every keepalive_time_ms, the transport is closed when one is not
      // answered within keepalive_timeout_ms, and permit_without_calls keeps pinging between
      // calls. A GOAWAY too_many_pings from the hub makes grpc-js double the time (subchannel.ts).
      this.grpc = new Ctor(this.hubAddress, grpcCredentials.createSsl(this.opts.hubCa), {
        'grpc.keepalive_time_ms': this.opts.keepaliveTimeMs ?? DEFAULT_KEEPALIVE_TIME_MS,
        'grpc.keepalive_timeout_ms': this.opts.keepaliveTimeoutMs ?? DEFAULT_KEEPALIVE_TIMEOUT_MS,
        'grpc.keepalive_permit_without_calls': 1,
      });
    }
    return this.grpc;
  }

  private metadata(): Metadata {
    const md = new Metadata();
    md.set('authorization', `Bearer ${this.credential ?? ''}`);
    md.set(CLUSTER_METADATA, this.opts.cluster);
    return md;
  }

  private async ensureCredential(): Promise<string> {
    this.credential ??= await this.state.loadCredential();
    if (this.credential) return this.credential;
    if (!this.opts.token) throw new Error('no credential stored in the cluster and no registration token given (--token)');
    const token = this.opts.token;
    const response = await new Promise<{ credential: string }>((resolve, reject) => {
      this.gatewayClient().Register({ token, cluster: this.opts.cluster, agent_version: AGENT_VERSION, labels: { ...this.opts.labels } }, (err, res) => {
        if (err || !res) reject(new Error(`registration refused: ${err?.details ?? 'no response'}`)); else resolve(res);
      });
    });
    await this.state.saveCredential(response.credential);
    this.credential = response.credential;
    this.log('registered with the hub');
    return response.credential;
  }

  private async session(onConnected: () => void): Promise<void> {
    await this.ensureCredential();
    const kubernetesVersion = await this.client.serverVersion();
    const apiResources = (await this.client.servedResources()).map((r) => ({ group_version: r.groupVersion, kind: r.kind, namespaced: r.namespaced }));
    const stream = this.gatewayClient().Connect(this.metadata());
    this.stream = stream;
    let heartbeat: NodeJS.Timeout | undefined;
    let sequence = 0;
    try {
      await new Promise<void>((resolve, reject) => {
        stream.on('data', (msg: HubMessage__Output) => {
          if (msg.body === 'welcome' && msg.welcome) {
            onConnected();
            this.setConnected(true);
            this.log('connected to the hub', { hub: this.hubAddress });
            const every = Math.max(1, msg.welcome.heartbeat_interval_seconds) * 1000;
            heartbeat = setInterval(() => { stream.write({ heartbeat: { sequence: String(++sequence), sent_at_unix_ms: String(Date.now()) } }); }, every);
            for (const report of this.reports.values()) stream.write({ report }); // the hub may have missed them
            // Retry what is not applied yet (an earlier attempt may have failed with the hub).
            this.enqueue(() => this.reconcile(true));
          } else if (msg.body === 'desired_state' && msg.desired_state) {
            this.takeDesired(msg.desired_state, stream);
          }
        });
        stream.on('error', reject);
        stream.on('end', resolve);
        stream.write({ hello: {
          cluster: this.opts.cluster, agent_version: AGENT_VERSION, kubernetes_version: kubernetesVersion,
          api_resources: apiResources, desired_state_version: this.current.desired.version,
          desired_state_epoch: this.current.desired.epoch ?? '',
        } });
      });
    } finally {
      if (heartbeat) clearInterval(heartbeat);
      this.stream = undefined;
      this.setConnected(false);
    }
  }

  /**
   * A desired state from the hub, taken only when it continues the one held
   * (desired-state-guard.ts): a state from a lost and re-created hub record is refused, and
   * what runs keeps running (drift correction included) until an operator adopts.
   */
  private takeDesired(desired: DesiredState__Output, stream: Stream): void {
    const previous = this.current;
    const names = new Set([...Object.keys(previous.applied), ...previous.desired.deployments.map((d) => d.name)]);
    const held = { epoch: previous.desired.epoch ?? '', version: BigInt(previous.desired.version), deployments: names.size };
    const decision = decideDesired(held, { epoch: desired.epoch, version: BigInt(desired.version), adoptEpoch: desired.adopt_epoch }, this.opts.cluster);
    if (!decision.accept) {
      if (this.holding !== decision.reason) this.log('desired state refused: holding what runs', { reason: decision.reason }, 'warn');
      this.holding = decision.reason;
      stream.write({ ack: { desired_state_version: desired.version, refused: decision.reason, held_epoch: held.epoch, held_version: String(held.version) } });
      return;
    }
    this.holding = undefined;
    const deployments = desired.deployments.map(toStored);
    const state = { version: desired.version, deployments, ...(desired.epoch === '' ? {} : { epoch: desired.epoch }) };
    if (decision.why === 'adopted') {
      // The operator's consent. Generations of another record say nothing about these
      // deployments: every one is applied again (unchanged objects are not written). The
      // ones the new state lacks are orphaned: objects left running, inventory dropped;
      // deleted (each with its own prune option) only when the operator asked for it.
      const missing = Object.keys(previous.applied).filter((name) => !deployments.some((d) => d.name === name));
      this.log('desired state adopted by an operator', { epoch: desired.epoch, version: desired.version, missing, pruneMissing: desired.adopt_prune_missing });
      this.current = { ...previous, desired: state, applied: {} };
      this.enqueue(() => this.removeAdopted(missing, desired.adopt_prune_missing));
    } else {
      // Taken at once, not behind queued work: a reconcile already running picks up the
      // new deployments as its workers free up.
      this.current = { ...previous, desired: state };
    }
    void this.saveState().then(() => { stream.write({ ack: { desired_state_version: desired.version } }); }, (err: unknown) => {
      this.log('cannot save the desired state', { error: errorMessage(err) }, 'error');
    });
    this.enqueue(() => this.reconcile(true));
  }

  /** After an adoption: what the adopted state lacks is orphaned, or deleted when asked. */
  private async removeAdopted(names: readonly string[], pruneMissing: boolean): Promise<void> {
    for (const name of names) {
      const prune = pruneMissing && (this.current.pruneOnRemoval?.[name] ?? true);
      const pruned = await this.applier.delete(name, { prune });
      const message = prune ? `deleted on adoption (flotilla cluster adopt --prune-missing): ${pruned.filter((p) => p.action === 'deleted').length} objects`
        : 'orphaned on adoption (flotilla cluster adopt): its objects are left running, its inventory dropped';
      this.log(message, { ...idFields(name), deployment: name });
      this.send({ name, generation: '0', phase: 'PHASE_DELETED', message, finished_at_unix_ms: String(Date.now()) });
    }
  }

  private send(uncapped: DeploymentReport): void {
    // Capped here, the one way out: a report of 10,000 failing objects must still fit a gRPC
    // message, a Temporal signal and the workflow state that keeps it (core/report-cap.ts).
    const report = { ...capReport(uncapped), epoch: this.current.desired.epoch ?? '' };
    this.reports.set(report.name ?? '', report);
    this.stream?.write({ report });
  }

  /**
   * An attempt that threw, or met an API server that stayed unavailable, still ends in a
   * report: transient failures as Applying (no outcome: nothing is known to be wrong with the
   * deployment; `retryKey` is retried soon), anything else as Failed. Returns whether it was
   * transient.
   */
  private reportFailure(base: { name: string; generation: string }, err: unknown, what: string, retryKey?: string): boolean {
    const message = errorMessage(err);
    const fields = { ...idFields(base.name), deployment: base.name, generation: base.generation, error: message };
    if (err instanceof ApiServerUnavailable || isTransientError(err)) {
      const retry = retryKey === undefined ? 'retrying at the next drift round' : `retrying in ${Math.ceil(this.retrySoon(retryKey) / 1000)}s`;
      this.log(`${what}: the API server is unavailable`, fields, 'warn');
      this.send({ ...base, phase: 'PHASE_APPLYING', message: `waiting for the API server: ${message}; ${retry}` });
      return true;
    }
    this.log(`${what} failed`, fields, 'error');
    this.send({ ...base, phase: 'PHASE_FAILED', message: `${what} failed: ${message}`, finished_at_unix_ms: String(Date.now()) });
    return false;
  }

  /** One attempt at a desired generation; whatever happens, it ends in a report. */
  private async attempt(d: DesiredDeploymentWire, fromHub: boolean): Promise<boolean> {
    const key = `${d.name}@${d.generation}`;
    // A newer generation supersedes the retries of older ones.
    for (const k of [...this.transientRetry.keys()]) if (k.startsWith(`${d.name}@`) && k !== key) this.forgetTransient(k);
    try {
      const ok = await this.applyDeployment(d, fromHub);
      this.forgetTransient(key);
      return ok;
    } catch (err) {
      if (!this.reportFailure({ name: d.name, generation: d.generation }, err, 'apply', key)) this.forgetTransient(key);
      return false;
    }
  }

  /** Deletes a deployment that left the desired state; undefined (and reported) when that failed. */
  private async deleteReporting(name: string, prune: boolean): Promise<Awaited<ReturnType<Applier['delete']>> | undefined> {
    const key = `delete:${name}`;
    try {
      const pruned = await this.applier.delete(name, { prune });
      this.forgetTransient(key);
      return pruned;
    } catch (err) {
      if (!this.reportFailure({ name, generation: this.current.applied[name] ?? '0' }, err, 'delete', key)) this.forgetTransient(key);
      return undefined;
    }
  }

  /** Schedules a reconcile for `key` after a growing pause; returns the pause. */
  private retrySoon(key: string): number {
    const entry = this.transientRetry.get(key) ?? { at: 0, backoff: new Backoff(TRANSIENT_RETRY_MS, TRANSIENT_RETRY_MAX_MS) };
    clearTimeout(entry.timer);
    const delay = entry.backoff.next();
    entry.at = Date.now() + delay;
    if (!this.stopped) {
      entry.timer = setTimeout(() => { this.enqueue(() => this.reconcile(false)); }, delay);
      entry.timer.unref();
    }
    this.transientRetry.set(key, entry);
    return delay;
  }

  private forgetTransient(key: string): void {
    clearTimeout(this.transientRetry.get(key)?.timer);
    this.transientRetry.delete(key);
  }

  /** May a reconcile of the agent's own (not the hub's push) try this failed generation again? */
  private dueForRetry(key: string): boolean {
    const transient = this.transientRetry.get(key);
    // A little early is fine: the timer that runs this reconcile fires at `at`, give or take.
    if (transient) return Date.now() + 250 >= transient.at;
    return Date.now() - (this.failedAt.get(key) ?? 0) >= RETRY_PAUSE_MS;
  }

  /** Saves the latest state; saves run one at a time, each writing the state as it is then. */
  private saveState(): Promise<void> {
    const next = this.saving.then(() => this.state.save(this.current));
    this.saving = next.catch(() => undefined);
    return next;
  }

  /** Applies every desired deployment whose generation is not applied yet; deletes the rest. */
  private async reconcile(fromHub: boolean): Promise<void> {
    // Deployments own disjoint objects and inventories, so several apply at once. Workers pick
    // the next pending deployment from the desired state as it is *now*, so desired state that
    // arrives meanwhile is applied by this reconcile. Each (name, generation) once per reconcile;
    // the drift round retries a failed generation only after a pause, the hub's pushes always.
    const attempted = new Set<string>();
    const next = (): DesiredDeploymentWire | undefined => this.current.desired.deployments.find((d) => {
      const key = `${d.name}@${d.generation}`;
      return this.current.applied[d.name] !== d.generation && !this.inFlight.has(d.name) && !attempted.has(key)
        && (fromHub || this.dueForRetry(key));
    });
    const worker = async (): Promise<void> => {
      for (let d = next(); d !== undefined; d = next()) {
        const key = `${d.name}@${d.generation}`;
        attempted.add(key);
        this.inFlight.add(d.name);
        try {
          const ok = await this.attempt(d, fromHub);
          if (!ok) this.failedAt.set(key, Date.now());
          if (ok) {
            this.current = {
              ...this.current, applied: { ...this.current.applied, [d.name]: d.generation },
              pruneOnRemoval: { ...this.current.pruneOnRemoval, [d.name]: d.options.prune },
            };
            await this.saveState();
          }
        } finally {
          this.inFlight.delete(d.name);
        }
      }
    };
    await Promise.all(Array.from({ length: this.opts.concurrency ?? DEFAULT_CONCURRENCY }, worker));
    const desired = this.current.desired.deployments;
    for (const name of Object.keys(this.current.applied)) {
      if (desired.some((d) => d.name === name)) continue;
      const started = performance.now();
      // As Flux: a deployment with prune: false leaves its objects running when it goes.
      const prune = this.current.pruneOnRemoval?.[name] ?? true;
      const pruned = await this.deleteReporting(name, prune);
      if (!pruned) continue; // reported; still applied, so the next reconcile deletes it again
      this.opts.metrics?.applied((performance.now() - started) / 1000, true, { pruned: pruned.filter((p) => p.action === 'deleted').length });
      const { [name]: _gone, ...rest } = this.current.applied;
      const { [name]: _option, ...options } = this.current.pruneOnRemoval ?? {};
      this.current = { ...this.current, applied: rest, pruneOnRemoval: options };
      await this.state.save(this.current);
      this.log(prune ? 'deployment removed' : 'deployment removed, its objects left running (prune: false)', { ...idFields(name), deployment: name, pruned: pruned.length });
      this.send({ name, generation: '0', phase: 'PHASE_DELETED', finished_at_unix_ms: String(Date.now()),
        message: prune ? 'removed from the desired state' : 'removed from the desired state; its objects are left running (prune: false)' });
    }
  }

  private async applyDeployment(d: DesiredDeploymentWire, fromHub: boolean): Promise<boolean> {
    const base = { name: d.name, generation: d.generation };
    this.send({ ...base, phase: 'PHASE_APPLYING', message: 'applying' });
    let manifests: string;
    try {
      manifests = await this.artifact(d.artifactDigest);
    } catch (err) {
      // The agent's artifact cache lives in its cluster: an unavailable API server, not the hub.
      if (isTransientError(err)) throw err;
      const message = errorMessage(err);
      if (TRANSIENT.test(message)) {
        // Not an outcome: the hub may be restarting. The next connection (or drift round) retries.
        this.send({ ...base, phase: 'PHASE_APPLYING', message: `waiting for the artifact: ${message}` });
      } else {
        this.send({ ...base, phase: 'PHASE_FAILED', message, finished_at_unix_ms: String(Date.now()) });
      }
      return false;
    }
    const parsed = parseManifests(manifests, d.artifactDigest, this.parseLimits);
    const identity = impersonationOf(d);
    if (identity instanceof Error) {
      this.send({ ...base, phase: 'PHASE_INVALID', message: identity.message, finished_at_unix_ms: String(Date.now()) });
      return false;
    }
    const problems = [...parsed.errors, ...findDuplicates(parsed.objects)];
    if (problems.length > 0) {
      this.send({ ...base, phase: 'PHASE_INVALID', message: problems.map((e) => `${e.source}${e.object ? ` ${e.object}` : ''}: ${e.message}`).join('; '), finished_at_unix_ms: String(Date.now()) });
      return false;
    }
    const report = await this.apply(
      { name: d.name, generation: Number(d.generation), objects: parsed.objects.map((o) => o.object) },
      { prune: d.options.prune, force: d.options.force, correctDrift: d.options.correctDrift, defaultNamespace: d.options.defaultNamespace || 'default',
        allowEmpty: d.options.allowEmpty ?? false, maxPrunePercent: d.options.maxPrunePercent ?? 0, ...identity },
    );
    if (report.phase === 'Invalid') {
      this.send({ ...base, ...summarize(report), phase: 'PHASE_INVALID', message: report.errors.map((e) => `${e.object}: ${e.message}`).join('; ') });
      return false;
    }
    if (report.phase === 'Transient') throw new ApiServerUnavailable(report.errors.map((e) => `${e.object}: ${e.message}`).join('; '));
    let phase: 'PHASE_READY' | 'PHASE_UNHEALTHY' = 'PHASE_READY';
    let message = `applied: ${report.counts.created} created, ${report.counts.configured} configured, ${report.counts.unchanged} unchanged, ${report.counts.pruned} pruned`;
    const fights = fightNotes(report);
    if (fights.length > 0) message += `; ${fights.join('; ')}`;
    if (d.options.healthTimeoutSeconds > 0) {
      // Health is read with the deployment's identity too: a tenant sees only what it may read.
      const reader = identity.impersonate !== undefined ? this.client.impersonating(identity.impersonate) : this.client;
      const health = await waitForHealth(reader, report.objects.map((o) => o.live).filter((o) => o !== undefined), d.options.healthTimeoutSeconds * 1000);
      if (!health.healthy) {
        phase = 'PHASE_UNHEALTHY';
        message = health.objects.filter((o) => o.status !== 'Current').map((o) => `${o.object}: ${o.reason ?? o.status} ${o.message}`).join('; ');
      }
    }
    this.send({ ...base, ...summarize(report), phase, message });
    this.log(fromHub ? 'deployment applied' : 'deployment re-applied from local state', { ...idFields(d.name), deployment: d.name, generation: d.generation, phase },
      phase === 'PHASE_READY' ? 'info' : 'warn');
    return phase === 'PHASE_READY';
  }

  /**
   * Retries desired generations not applied yet, then re-applies applied deployments; the
   * apply engine only writes what drifted.
   */
  private async correctDrift(): Promise<void> {
    await this.reconcile(false);
    for (const d of this.current.desired.deployments) {
      if (!d.options.correctDrift || this.current.applied[d.name] !== d.generation) continue;
      let manifests: string;
      try {
        manifests = await this.artifact(d.artifactDigest);
      } catch {
        continue; // neither cached nor reachable: try again next round
      }
      const parsed = parseManifests(manifests, d.artifactDigest, this.parseLimits);
      const identity = impersonationOf(d);
      if (identity instanceof Error) continue; // reported when the generation was applied
      if (parsed.errors.length > 0) {
        // Applied before, refused now (the agent restarted with a lower --max-objects or
        // --max-artifact-bytes): applying the objects that did parse would prune the rest.
        // What runs is left as it is; said once, until a round goes well again.
        if (!this.driftFailed.has(d.name)) {
          this.driftFailed.add(d.name);
          this.reportFailure({ name: d.name, generation: d.generation },
            new Error(`${parsed.errors.map((e) => `${e.source}: ${e.message}`).join('; ')}; drift is not corrected until then`), 'drift correction');
        }
        continue;
      }
      let report: ApplyReport;
      try {
        report = await this.apply(
          { name: d.name, generation: Number(d.generation), objects: parsed.objects.map((o) => o.object) },
          { prune: d.options.prune, force: d.options.force, correctDrift: true, defaultNamespace: d.options.defaultNamespace || 'default',
          allowEmpty: d.options.allowEmpty ?? false, maxPrunePercent: d.options.maxPrunePercent ?? 0, ...identity },
        );
        if (report.phase === 'Transient') throw new ApiServerUnavailable(report.errors.map((e) => `${e.object}: ${e.message}`).join('; '));
      } catch (err) {
        // Ready until now: the round reports why it could not check (Applying when the API
        // server is unavailable), and the next good round says Ready again.
        this.driftFailed.add(d.name);
        this.reportFailure({ name: d.name, generation: d.generation }, err, 'drift correction');
        continue;
      }
      const recovered = report.phase === 'Applied' && this.driftFailed.delete(d.name);
      const drifted = report.objects.filter((o) => o.drift);
      if (drifted.length > 0) {
        this.log('drift corrected', { ...idFields(d.name), deployment: d.name, objects: drifted.map((o) => o.object) });
        this.send({ name: d.name, generation: d.generation, ...summarize(report), phase: 'PHASE_READY',
          message: `drift corrected: ${drifted.map((o) => `${o.object} (${(o.drift ?? []).join(', ')})`).join('; ')}` });
      } else if (recovered) {
        this.send({ name: d.name, generation: d.generation, ...summarize(report), phase: 'PHASE_READY',
          message: `applied again after a failed drift round: ${report.counts.created} created, ${report.counts.configured} configured, ${report.counts.unchanged} unchanged` });
      }
      // A field another manager keeps changing back is left to it (applier.ts): said once.
      const fights = fightNotes(report, true);
      if (fights.length > 0) {
        this.log('fight with another field manager', { ...idFields(d.name), deployment: d.name, fights }, 'warn');
        this.send({ name: d.name, generation: d.generation, ...summarize(report), phase: 'PHASE_READY', message: fights.join('; ') });
      }
    }
  }

  /** The manifests of a digest: from the local cache, the cluster, or the hub; always verified. */
  private async artifact(digest: string): Promise<string> {
    const cached = this.artifacts.get(digest) ?? await this.state.loadArtifact(digest);
    if (cached !== undefined) {
      const bytes = Buffer.byteLength(cached);
      if (bytes > this.bounds.maxArtifactBytes) throw new Error(artifactTooLarge(digest, bytes, this.bounds, 'cached'));
      verifyDigest(cached, digest);
      this.artifacts.set(digest, cached);
      return cached;
    }
    const chunks: Buffer[] = [];
    let received = 0;
    await new Promise<void>((resolve, reject) => {
      const call = this.gatewayClient().FetchArtifact({ digest }, this.metadata());
      call.on('data', (chunk: { data: Buffer }) => {
        // --max-artifact-bytes (bounds.ts): a larger artifact is refused while it streams, so it
        // never sits in memory whole. The promise is settled before the cancellation's own error.
        received += chunk.data.length;
        if (received > this.bounds.maxArtifactBytes) {
          reject(new Error(artifactTooLarge(digest, received, this.bounds, 'downloading')));
          call.cancel();
          return;
        }
        chunks.push(chunk.data);
      });
      call.on('error', (err: Error & { details?: string }) => { reject(new Error(`cannot download artifact ${digest}: ${err.details ?? err.message}`)); });
      call.on('end', resolve);
    });
    const data = Buffer.concat(chunks);
    verifyDigest(data, digest);
    const text = data.toString('utf8');
    this.artifacts.set(digest, text);
    await this.state.saveArtifact(digest, text);
    return text;
  }
}

/**
 * The user a deployment is applied as: system:serviceaccount:<ns>:<name> from its
 * impersonate_service_account (the hub decided it, core/tenancy.ts), or the agent's own
 * identity; an Error when the hub sent something that is not `<namespace>/<name>`.
 */
function impersonationOf(d: DesiredDeploymentWire): { impersonate?: string } | Error {
  const value = d.options.impersonate;
  if (value === undefined || value === '') return {};
  const parsed = parseImpersonation(value);
  return parsed ? { impersonate: parsed.user }
    : new Error(`deployment ${d.name}: options.impersonate_service_account "${value}" is not <namespace>/<name> of a ServiceAccount; nothing applied`);
}

function toStored(d: Deployment__Output): DesiredDeploymentWire {
  return {
    name: d.name, generation: d.generation, artifactDigest: d.artifact_digest,
    options: {
      prune: d.options?.prune ?? true, force: d.options?.force ?? false,
      correctDrift: !(d.options?.disable_drift_correction ?? false),
      defaultNamespace: d.options?.default_namespace ?? '', healthTimeoutSeconds: d.options?.health_timeout_seconds ?? 0,
      allowEmpty: d.options?.allow_empty ?? false, maxPrunePercent: d.options?.max_prune_percent ?? 0,
      ...(d.options?.impersonate_service_account ? { impersonate: d.options.impersonate_service_account } : {}),
    },
  };
}

function summarize(report: ApplyReport): Pick<DeploymentReport, 'objects' | 'inventory' | 'finished_at_unix_ms'> {
  return {
    objects: report.objects.map((o) => ({ id: o.id, action: o.action, drift: [...(o.drift ?? [])] })),
    inventory: {
      objects: report.objects.length, created: report.counts.created, configured: report.counts.configured,
      unchanged: report.counts.unchanged, pruned: report.counts.pruned, drifted: report.objects.filter((o) => o.drift).length,
    },
    finished_at_unix_ms: String(Date.now()),
  };
}
