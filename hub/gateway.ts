// The agent gateway: the hub's gRPC server. Agents register, hold one stream each, and
// download artifacts. Every call after registration is authenticated by the cluster's
// credential, and a credential only ever speaks for its own cluster.
import { Server, ServerCredentials, status, type Metadata, type ServerDuplexStream, type ServiceError } from '@grpc/grpc-js';
import type { AgentMessage__Output } from '../proto/gen/flotilla/agent/v1/AgentMessage.js';
import type { HubMessage } from '../proto/gen/flotilla/agent/v1/HubMessage.js';
import type { AgentGatewayHandlers } from '../proto/gen/flotilla/agent/v1/AgentGateway.js';
import type { Deployment as WireDeployment } from '../proto/gen/flotilla/agent/v1/Deployment.js';
import { CLUSTER_METADATA, agentProto } from '../proto/load.js';
import type { AgentStreams } from '../activities/agent-delivery.js';
import type { AgentConnected, AgentDisconnected, DesiredState, ReportSummary } from '../workflows/messages.js';
import { checkLabel } from '../core/registration.js';
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
}

export interface GatewayOptions {
  readonly registration: RegistrationStore;
  readonly artifacts: ArtifactStore;
  readonly fleet: FleetHooks;
  readonly heartbeatIntervalSeconds?: number;
  readonly log?: LogFn;
  /** Agents' connections, messages and reported apply counts. */
  readonly metrics?: Pick<HubMetrics, 'agentConnected' | 'gatewayMessage' | 'applyReported'>;
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
    },
  }));
  return { desired_state: { version: String(desired.version), deployments } };
}

export class AgentGateway implements AgentStreams {
  private readonly server = new Server();
  private readonly sessions = new Map<string, Session>();
  private readonly heartbeatSeconds: number;
  private livenessTimer: NodeJS.Timeout | undefined;
  private listeningNow = false;

  constructor(private readonly opts: GatewayOptions) {
    this.heartbeatSeconds = opts.heartbeatIntervalSeconds ?? 10;
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
    let chain: Promise<void> = this.authenticate(call.metadata).then(
      (name) => { cluster = name; },
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
      if (cluster === undefined) return;
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
      previous?.call.end(); // a reconnect replaces the old stream
      call.write({ welcome: { cluster, heartbeat_interval_seconds: this.heartbeatSeconds } });
      await this.opts.fleet.connected(cluster, { at: Date.now(), ...agent });
      const desired = await this.opts.fleet.desiredState(cluster);
      created.allowed = new Set(desired.deployments.map((d) => d.artifactDigest));
      if (BigInt(hello.desired_state_version) < BigInt(desired.version) || desired.version === 0) call.write(toWireDesiredState(desired));
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
    if (msg.body === 'report' && msg.report) {
      const r = msg.report;
      const inv = r.inventory;
      if (inv && r.finished_at_unix_ms !== '0') {
        this.opts.metrics?.applyReported(cluster, r.name, `${r.generation}@${r.finished_at_unix_ms}`,
          { created: inv.created, configured: inv.configured, unchanged: inv.unchanged, pruned: inv.pruned });
      }
      await this.opts.fleet.report(cluster, {
        name: r.name, generation: Number(r.generation), phase: r.phase.replace(/^PHASE_/, ''), message: r.message,
        counts: inv ? { objects: inv.objects, created: inv.created, configured: inv.configured, unchanged: inv.unchanged, pruned: inv.pruned, drifted: inv.drifted } : {},
        finishedAt: Number(r.finished_at_unix_ms),
      });
    }
    return session;
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
