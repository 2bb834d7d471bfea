// The agent gateway: the hub's gRPC server. Agents register, hold one stream each, and
// download artifacts. Every call after registration is authenticated by the cluster's
// credential, and a credential only ever speaks for its own cluster.
import { Server, ServerCredentials, status, type Metadata, type ServerDuplexStream, type ServiceError } from '@grpc/grpc-js';
import type { AgentConnected, AgentDisconnected, AgentHold, DesiredState, ReportSummary } from '../api/cluster.js';
import type { AgentMessage__Output } from '../proto/gen/flotilla/agent/v1/AgentMessage.js';
import type { HubMessage } from '../proto/gen/flotilla/agent/v1/HubMessage.js';
import type { AgentGatewayHandlers } from '../proto/gen/flotilla/agent/v1/AgentGateway.js';
import type { Deployment as WireDeployment } from '../proto/gen/flotilla/agent/v1/Deployment.js';
import { CLUSTER_METADATA, agentProto } from '../proto/load.js';
import type { AgentStreams } from '../activities/agent-delivery.js';
import { checkLabel } from '../core/registration.js';
import { capMessage } from '../core/report-cap.js';
import { RegistrationError, type RegistrationStore } from './registration.js';
import type { ArtifactStore } from './artifact-store.js';
import type { TlsMaterial } from './tls.js';
import type { HubMetrics } from './metrics.js';
import type { LogFn, LogLevel } from '../core/log.js';

/** What the gateway needs from the fleet's actors (implemented over Temporal in hub/fleet.ts). */
export interface FleetHooks {
  desiredState(cluster: string): Promise<DesiredState>;
  connected(cluster: string, info: AgentConnected): Promise<void>;
  disconnected(cluster: string, info: AgentDisconnected): Promise<void>;
  report(cluster: string, report: ReportSummary): Promise<void>;
  /** The agent refused the desired state and holds what runs, or took it again. */
  hold(cluster: string, info: AgentHold): Promise<void>;
}

export interface GatewayOptions {
  readonly registration: RegistrationStore;
  readonly artifacts: ArtifactStore;
  readonly fleet: FleetHooks;
  readonly heartbeatIntervalSeconds?: number;
  readonly log?: LogFn;
  /** Agents' connections, messages and reported apply counts. */
  readonly metrics?: Pick<HubMetrics, 'agentConnected' | 'gatewayMessage' | 'applyReported'>;
  /** Transport limits and keepalive; each unset field takes its GATEWAY_DEFAULTS value. */
  readonly transport?: Partial<GatewayTransport>;
}

/** The gateway's gRPC transport settings (hub settings grpc.keepalive*, grpc.maxReceiveMessageBytes, grpc.maxStreamsPerCluster). */
export interface GatewayTransport {
  /**
   * The hub pings each agent connection this often, and drops it when a ping is not answered
   * within keepaliveTimeoutMs: a frozen or partitioned agent's stream is destroyed (and the
   * cluster Disconnected) within keepaliveTimeMs + keepaliveTimeoutMs, where TCP alone may take
   * many minutes.
   */
  readonly keepaliveTimeMs: number;
  readonly keepaliveTimeoutMs: number;
  /**
   * The shortest interval between pings the hub permits an agent. Must not be longer than the
   * agents' own keepalive time (flotilla-agent --keepalive-time, 30 s by default), or a gRPC
   * server that enforces it answers GOAWAY too_many_pings.
   */
  readonly minPingIntervalMs: number;
  /** Largest message an agent may send (a Hello lists every served API kind; reports are small). */
  readonly maxReceiveMessageBytes: number;
  /**
   * Connect streams one cluster may hold open on this hub at once, the welcomed one included;
   * one more is refused with RESOURCE_EXHAUSTED. See GATEWAY_DEFAULTS for why 2.
   */
  readonly maxStreamsPerCluster: number;
}

export const GATEWAY_DEFAULTS: GatewayTransport = {
  keepaliveTimeMs: 30_000,
  keepaliveTimeoutMs: 10_000,
  // Shorter than the agents' default keepalive time (30 s), with room for timer jitter.
  minPingIntervalMs: 20_000,
  // grpc-js's own default, made explicit: 4 MiB.
  maxReceiveMessageBytes: 4 * 1024 * 1024,
  // A stream that says Hello replaces the cluster's session (the older stream is closed), so an
  // agent that restarts while its old stream is still half-open on the hub (the hub learns of
  // it only at the next keepalive timeout) gets in at once: old + new = 2. With 1 it would be
  // refused until the keepalive dropped the old stream. More than that is never needed by one
  // agent: it is a second agent, or a client holding streams open without saying Hello.
  maxStreamsPerCluster: 2,
};

/**
 * The Server options for these settings. Names and semantics from grpc-js
 * (@grpc/grpc-js 1.14, packages/grpc-js/src/server.ts, _sessionHandler: the server sends a ping
 * every keepalive_time_ms and destroys the HTTP/2 session when none is answered within
 * keepalive_timeout_ms; the default time is "never"; server-interceptors.ts: a message longer
 * than grpc.max_receive_message_length fails the call with RESOURCE_EXHAUSTED).
 * grpc.http2.min_ping_interval_without_data_ms and grpc.http2.max_ping_strikes are gRPC core's
 * ping policy (doc/keepalive.md in grpc/grpc); grpc-js 1.14 leaves pings to Node's http2 and
 * does not enforce them (grpc/grpc-node#1699), so they are set for a server (or version) that
 * does, and keep the permitted interval below the agents' keepalive time.
 */
export function gatewayServerOptions(t: GatewayTransport): Record<string, number> {
  return {
    'grpc.keepalive_time_ms': t.keepaliveTimeMs,
    'grpc.keepalive_timeout_ms': t.keepaliveTimeoutMs,
    'grpc.http2.min_ping_interval_without_data_ms': t.minPingIntervalMs,
    'grpc.http2.max_ping_strikes': 2,
    'grpc.max_receive_message_length': t.maxReceiveMessageBytes,
  };
}

interface Session {
  readonly cluster: string;
  readonly call: ServerDuplexStream<AgentMessage__Output, HubMessage>;
  lastSeen: number;
  unreachable: boolean;
  /** Artifacts this cluster may download: those of its desired state. */
  allowed: Set<string>;
  /** What the agent said in Hello, told to the actor again when a silent agent speaks. */
  readonly agent: Omit<AgentConnected, 'at'>;
  /** Whether the agent last refused the desired state; unknown until its first Ack on this stream. */
  held?: boolean;
}

const CHUNK = 256 * 1024;

export function toWireDesiredState(desired: DesiredState): HubMessage {
  const deployments: WireDeployment[] = desired.deployments.map((d) => ({
    name: d.name,
    generation: String(d.generation),
    artifact_digest: d.artifactDigest,
    options: {
      prune: d.options.prune,
      force: d.options.force,
      disable_drift_correction: !d.options.correctDrift,
      default_namespace: d.options.defaultNamespace,
      health_timeout_seconds: d.options.healthTimeoutSeconds,
      allow_empty: d.options.allowEmpty ?? false, max_prune_percent: d.options.maxPrunePercent ?? 0,
      impersonate_service_account: d.options.impersonate ?? '',
    },
  }));
  return { desired_state: {
    version: String(desired.version), deployments, epoch: desired.epoch ?? '',
    adopt_epoch: desired.adoptEpoch ?? '', adopt_prune_missing: desired.adoptPruneMissing ?? false,
  } };
}

export class AgentGateway implements AgentStreams {
  private readonly server: Server;
  private readonly transport: GatewayTransport;
  private readonly sessions = new Map<string, Session>();
  /** Every authenticated Connect stream still open, by cluster (welcomed or not): the per-cluster cap. */
  private readonly streams = new Map<string, Set<ServerDuplexStream<AgentMessage__Output, HubMessage>>>();
  private readonly heartbeatSeconds: number;
  private livenessTimer: NodeJS.Timeout | undefined;
  private listeningNow = false;

  constructor(private readonly opts: GatewayOptions) {
    this.heartbeatSeconds = opts.heartbeatIntervalSeconds ?? 10;
    this.transport = { ...GATEWAY_DEFAULTS, ...opts.transport };
    this.server = new Server(gatewayServerOptions(this.transport));
    const handlers: AgentGatewayHandlers = {
      Register: (call, callback) => {
        const { token, cluster } = call.request;
        const requested = call.request.labels;
        try {
          for (const [k, v] of Object.entries(requested)) checkLabel(k, v);
        } catch (err) {
          callback(grpcError(new RegistrationError('invalid-argument', `Register labels: ${err instanceof Error ? err.message : String(err)}`)));
          return;
        }
        opts.registration.register(token, cluster, requested).then(({ credential, labels }) => {
          opts.metrics?.gatewayMessage(cluster, 'register');
          this.log('cluster registered', { cluster });
          callback(null, { cluster, credential, labels });
        }, (err: unknown) => { callback(grpcError(err)); });
      },
      Connect: (call) => { this.connect(call); },
      FetchArtifact: (call) => {
        void (async () => {
          try {
            const cluster = await this.authenticate(call.metadata);
            opts.metrics?.gatewayMessage(cluster, 'fetch_artifact');
            const digest = call.request.digest;
            const session = this.sessions.get(cluster);
            // The session's cached set first; the actor's state when a push is still on its way.
            const allowed = (session?.allowed.has(digest) ?? false)
              || (await opts.fleet.desiredState(cluster)).deployments.some((d) => d.artifactDigest === digest);
            if (!allowed) throw Object.assign(new Error(`artifact ${digest} is not part of cluster ${cluster}'s desired state`), { code: status.PERMISSION_DENIED });
            const data = await opts.artifacts.get(digest);
            if (!data) throw Object.assign(new Error(`artifact ${digest} not found`), { code: status.NOT_FOUND });
            for (let offset = 0; offset < data.length || offset === 0; offset += CHUNK) {
              call.write({ data: data.subarray(offset, offset + CHUNK), total_size: offset === 0 ? String(data.length) : '0' });
              if (data.length === 0) break;
            }
            call.end();
          } catch (err) {
            call.emit('error', grpcError(err));
          }
        })();
      },
    };
    this.server.addService(agentProto().AgentGateway.service, handlers);
  }

  /** Listens on host:port (port 0: any free port) and returns the port. */
  async listen(address: string, tls: TlsMaterial): Promise<number> {
    const port = await new Promise<number>((resolve, reject) => {
      this.server.bindAsync(address, ServerCredentials.createSsl(null, [{ cert_chain: tls.cert, private_key: tls.key }], false),
        (err, p) => { if (err) reject(err); else resolve(p); });
    });
    this.livenessTimer = setInterval(() => { this.checkLiveness(); }, this.heartbeatSeconds * 1000);
    this.livenessTimer.unref();
    this.listeningNow = true;
    return port;
  }

  /** True from listen() until stop(). */
  get listening(): boolean {
    return this.listeningNow;
  }

  async stop(): Promise<void> {
    this.listeningNow = false;
    if (this.livenessTimer) clearInterval(this.livenessTimer);
    for (const s of this.sessions.values()) s.call.end();
    await new Promise<void>((resolve) => { this.server.tryShutdown(() => { resolve(); }); setTimeout(() => { this.server.forceShutdown(); resolve(); }, 3000).unref(); });
  }


  sendDesiredState(cluster: string, desired: DesiredState): boolean {
    const session = this.sessions.get(cluster);
    if (!session) return false;
    session.allowed = new Set(desired.deployments.map((d) => d.artifactDigest));
    session.call.write(toWireDesiredState(desired));
    return true;
  }

  private connect(call: ServerDuplexStream<AgentMessage__Output, HubMessage>): void {
    let cluster: string | undefined;
    let session: Session | undefined;
    // One message at a time, in order, after the credential is checked: Hello must be fully
    // handled before what follows it.
    let open = true;
    let chain: Promise<void> = this.authenticate(call.metadata).then(
      (name) => {
        if (!open) return;
        const streams = this.streams.get(name) ?? new Set();
        if (streams.size >= this.transport.maxStreamsPerCluster) {
          this.log('agent stream refused: too many open streams', { cluster: name, open: streams.size }, 'warn');
          call.emit('error', Object.assign(new Error(
            `cluster ${name} already holds ${streams.size} open stream(s) to this hub (at most ${this.transport.maxStreamsPerCluster}): is a second agent running with its credential?`,
          ), { code: status.RESOURCE_EXHAUSTED }));
          return;
        }
        streams.add(call);
        this.streams.set(name, streams);
        cluster = name;
      },
      (err: unknown) => { call.emit('error', grpcError(err)); },
    );
    call.on('data', (msg: AgentMessage__Output) => {
      chain = chain.then(async () => {
        if (cluster === undefined) return; // refused
        this.opts.metrics?.gatewayMessage(cluster, msg.body ?? 'unknown');
        session = (await this.onMessage(cluster, call, msg, session)) ?? session;
      }).catch((err: unknown) => {
        this.log('agent message failed', { cluster, error: err instanceof Error ? err.message : String(err) }, 'error');
      });
    });
    const closed = (): void => {
      open = false;
      if (cluster === undefined) return;
      this.forget(cluster, call);
      const current = this.sessions.get(cluster);
      if (!session || current !== session) return;
      this.sessions.delete(cluster);
      this.opts.metrics?.agentConnected(cluster, false);
      this.log('agent disconnected', { cluster });
      void this.opts.fleet.disconnected(cluster, { at: Date.now(), unreachable: false }).catch(() => undefined);
    };
    call.on('end', () => { closed(); call.end(); });
    call.on('error', closed);
    call.on('cancelled', closed);
  }

  private async onMessage(cluster: string, call: ServerDuplexStream<AgentMessage__Output, HubMessage>, msg: AgentMessage__Output, session: Session | undefined): Promise<Session | undefined> {
    if (!session) {
      const hello = msg.hello;
      if (msg.body !== 'hello' || !hello) {
        call.emit('error', Object.assign(new Error('the first message on the stream must be Hello'), { code: status.INVALID_ARGUMENT }));
        return undefined;
      }
      if (hello.cluster !== cluster) {
        call.emit('error', Object.assign(new Error(`Hello names cluster "${hello.cluster}" but the credential is for "${cluster}"`), { code: status.PERMISSION_DENIED }));
        return undefined;
      }
      const previous = this.sessions.get(cluster);
      // The API list is kept as an artifact (large, and needed only to render charts with the
      // cluster's .Capabilities); the actor holds its digest.
      const capabilitiesDigest = await this.opts.artifacts.put(capabilitiesOf(hello.api_resources));
      const agent = { agentVersion: hello.agent_version, kubernetesVersion: hello.kubernetes_version, apiResources: hello.api_resources.length, capabilitiesDigest };
      const created: Session = { cluster, call, lastSeen: Date.now(), unreachable: false, allowed: new Set(), agent };
      this.sessions.set(cluster, created);
      if (previous) {
        // A reconnect replaces the old stream, which may be half-open (the agent restarted, or
        // its connection broke without a FIN): it no longer counts against the cap.
        this.forget(cluster, previous.call);
        previous.call.emit('error', Object.assign(new Error(`replaced by a newer stream of cluster ${cluster}`), { code: status.ABORTED }));
      }
      call.write({ welcome: { cluster, heartbeat_interval_seconds: this.heartbeatSeconds } });
      await this.opts.fleet.connected(cluster, { at: Date.now(), ...agent });
      const desired = await this.opts.fleet.desiredState(cluster);
      created.allowed = new Set(desired.deployments.map((d) => d.artifactDigest));
      // Sent unless the agent has this very state: an agent of another epoch gets it too, and
      // answers with a refusal (it holds what it runs until an operator adopts).
      if (BigInt(hello.desired_state_version) < BigInt(desired.version) || desired.version === 0
        || hello.desired_state_epoch !== (desired.epoch ?? '')) call.write(toWireDesiredState(desired));
      this.opts.metrics?.agentConnected(cluster, true);
      this.log('agent connected', { cluster, agentVersion: hello.agent_version, kubernetesVersion: hello.kubernetes_version });
      return created;
    }
    session.lastSeen = Date.now();
    if (session.unreachable) {
      session.unreachable = false;
      this.opts.metrics?.agentConnected(cluster, true);
      await this.opts.fleet.connected(cluster, { at: session.lastSeen, ...session.agent });
    }
    if (msg.body === 'ack' && msg.ack) {
      const ack = msg.ack;
      // A refusal always reaches the cluster's actor; an acceptance only when it ends one (or
      // once per stream, for a hold the hub's record may still show from an earlier stream).
      if (ack.refused !== '' || session.held !== false) {
        session.held = ack.refused !== '';
        if (session.held) this.log('agent holds its state and refuses the hub\'s', { cluster, reason: ack.refused, heldEpoch: ack.held_epoch, heldVersion: ack.held_version }, 'warn');
        await this.opts.fleet.hold(cluster, {
          at: Date.now(), held: session.held,
          ...(session.held ? { reason: ack.refused.slice(0, 1024), agentEpoch: ack.held_epoch, agentVersion: Number(ack.held_version) } : {}),
        });
      }
    }
    if (msg.body === 'report' && msg.report) {
      const r = msg.report;
      const inv = r.inventory;
      if (inv && r.finished_at_unix_ms !== '0') {
        this.opts.metrics?.applyReported(cluster, r.name, `${r.generation}@${r.finished_at_unix_ms}`,
          { created: inv.created, configured: inv.configured, unchanged: inv.unchanged, pruned: inv.pruned });
      }
      await this.opts.fleet.report(cluster, {
        // Capped again here (an agent from before the cap may send any length): the message
        // goes into a signal and into two workflows' state. The object list is not forwarded.
        name: r.name, generation: Number(r.generation), phase: r.phase.replace(/^PHASE_/, ''), message: capMessage(r.message),
        counts: inv ? { objects: inv.objects, created: inv.created, configured: inv.configured, unchanged: inv.unchanged, pruned: inv.pruned, drifted: inv.drifted } : {},
        finishedAt: Number(r.finished_at_unix_ms), ...(r.epoch === '' ? {} : { epoch: r.epoch }),
      });
    }
    return session;
  }

  private forget(cluster: string, call: ServerDuplexStream<AgentMessage__Output, HubMessage>): void {
    const streams = this.streams.get(cluster);
    streams?.delete(call);
    if (streams?.size === 0) this.streams.delete(cluster);
  }

  private checkLiveness(): void {
    const limit = 3 * this.heartbeatSeconds * 1000;
    const now = Date.now();
    for (const s of this.sessions.values()) {
      if (!s.unreachable && now - s.lastSeen > limit) {
        s.unreachable = true;
        this.opts.metrics?.agentConnected(s.cluster, false);
        this.log('agent unreachable', { cluster: s.cluster }, 'warn');
        void this.opts.fleet.disconnected(s.cluster, { at: now, unreachable: true }).catch(() => undefined);
      }
    }
  }

  private async authenticate(metadata: Metadata): Promise<string> {
    const auth = metadata.get('authorization')[0];
    const cluster = metadata.get(CLUSTER_METADATA)[0];
    if (typeof auth !== 'string' || !auth.startsWith('Bearer ')) throw new RegistrationError('unauthenticated', 'missing credential (authorization: Bearer <credential>)');
    if (typeof cluster !== 'string' || cluster === '') throw new RegistrationError('unauthenticated', `missing ${CLUSTER_METADATA} metadata`);
    return (await this.opts.registration.authenticate(cluster, auth.slice('Bearer '.length))).name;
  }

  private log(message: string, fields: Record<string, unknown> = {}, level?: LogLevel): void {
    this.opts.log?.(message, fields, level);
  }
}

function grpcError(err: unknown): ServiceError {
  if (err instanceof RegistrationError) {
    const code = { 'invalid-token': status.UNAUTHENTICATED, unauthenticated: status.UNAUTHENTICATED, 'permission-denied': status.PERMISSION_DENIED, 'invalid-argument': status.INVALID_ARGUMENT }[err.kind];
    return Object.assign(new Error(err.message), { code, details: err.message, metadata: undefined }) as unknown as ServiceError;
  }
  if (err instanceof Error && 'code' in err && typeof err.code === 'number') {
    return Object.assign(err, { details: err.message }) as unknown as ServiceError;
  }
  const message = err instanceof Error ? err.message : String(err);
  return Object.assign(new Error(message), { code: status.INTERNAL, details: message }) as unknown as ServiceError;
}

/** `group/version` and `group/version/Kind` strings, sorted: what helm's --api-versions takes. */
export function capabilitiesOf(resources: readonly { group_version: string; kind: string }[]): string {
  const versions = new Set<string>();
  for (const r of resources) {
    versions.add(r.group_version);
    versions.add(`${r.group_version}/${r.kind}`);
  }
  return JSON.stringify({ apiVersions: [...versions].sort() });
}
