// One hub, assembled: the registration, artifact and data stores in its data directory,
// the agent gateway, and the Temporal worker serving every actor with its activities.
// flotilla-hub serve and the integration tests build the hub the same way, here.
import { SOURCE_POLICY_KEY, type SourcePolicy } from '../core/source-policy.js';
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { join } from 'node:path';
import type { Client } from '@temporalio/client';
import { Worker, type NativeConnection } from '@temporalio/worker';
import { createDeliveryActivities } from '../activities/agent-delivery.js';
import { createHelmActivities } from './activities/helm-activities.js';
import { createHubActivities } from './activities/hub-activities.js';
import { createImageActivities } from './activities/image-activities.js';
import { createNotificationActivities } from '../activities/notification-delivery.js';
import { createRolloutActivities } from '../activities/rollout-activities.js';
import { createTenancyActivities } from '../activities/tenancy.js';
import type { TenancySettings } from '../core/tenancy.js';
import { limitMechanism, type EngineConfig } from '../activities/limited-exec.js';
import type { LogFn } from '../core/log.js';
import { DEFAULT_RENDER_LIMITS, formatBytes, type RenderLimits } from '../core/render-limits.js';
import { BlobArtifactStore, type ArtifactStore } from './artifact-store.js';
import { FileBlobStore, type BlobStore } from './blob-store.js';
import { DataObjectStore } from './data-objects.js';
import { DeclarationClient } from './declarations.js';
import { EventRecorder } from './events.js';
import { hubQueue, TemporalFleet } from './fleet.js';
import { workflowBundle } from './workflow-bundle.js';
import { AgentGateway, type GatewayTransport } from './gateway.js';
import type { HttpRoute } from './http-api.js';
import { activityMetricsInterceptor, type HubMetrics } from './metrics.js';
import { NotificationMetrics } from './notification-metrics.js';
import { receiverRoutes } from './receivers.js';
import { RegistrationStore } from './registration.js';

export interface HubAssembly {
  readonly worker: Worker;
  /** Polls this hub's own task queue: pushes of desired state to the agents connected here. */
  readonly deliveryWorker: Worker;
  /** This hub's id (the name of its own task queue). */
  readonly hubId: string;
  readonly gateway: AgentGateway;
  readonly registration: RegistrationStore;
  readonly artifacts: ArtifactStore;
  readonly data: DataObjectStore;
  /** The hub's own client of the declarations (the dashboard, receivers). */
  readonly declarations: DeclarationClient;
  /** Events for notifications (close() it when the hub stops, to send what is buffered). */
  readonly events: EventRecorder;
  /** HTTP routes the hub serves besides the built-in ones: Receivers (/hook/<path>, /api/v1/receivers). */
  readonly routes: readonly HttpRoute[];
}

export interface AssembleOptions {
  readonly connection: NativeConnection;
  /** A client on the same Temporal namespace (the gateway and activities signal actors with it). */
  readonly client: Client;
  readonly namespace: string;
  readonly taskQueue: string;
  /** This hub's own files: git and chart caches, events.jsonl. */
  readonly dataDir: string;
  /** What every hub replica shares: artifacts, registrations, ConfigMaps/Secrets. Default: the data directory. */
  readonly store?: BlobStore;
  readonly heartbeatIntervalSeconds: number;
  /** The gateway's keepalive and limits (default GATEWAY_DEFAULTS). */
  readonly transport?: Partial<GatewayTransport>;
  /** Unique among the running hubs that share the task queue (default: host name and a random suffix). */
  readonly hubId?: string;
  readonly log?: LogFn;
  /** Activity durations (a worker interceptor) and the gateway's agent metrics go here. */
  readonly metrics?: HubMetrics;
  /** Concurrent activities (git fetches, builds, cluster updates); Temporal's default is 100. */
  readonly maxConcurrentActivities?: number;
  /** tenancy.defaultServiceAccount and tenancy.noCrossNamespaceRefs (default: neither). */
  readonly tenancy?: TenancySettings;
  /** What one render may cost (limits.render.*, limits.untar.*); default DEFAULT_RENDER_LIMITS. */
  readonly renderLimits?: RenderLimits;
  /** The kustomize and helm binaries the engines run (settings tools.*; dev tooling passes deploy/dev/binaries.ts's). */
  readonly tools: Pick<EngineConfig, 'kustomizeBin' | 'helmBin'>;
  /** Where sources may be fetched from (settings sources.*); required: the hub says what it allows. */
  readonly sourcePolicy: SourcePolicy;
}

export async function assembleHub(opts: AssembleOptions): Promise<HubAssembly> {
  const store = opts.store ?? new FileBlobStore(opts.dataDir);
  // The CLI checks `flotilla apply` against this hub's source policy before anything is applied (cli/gitops.ts).
  await store.put(SOURCE_POLICY_KEY, JSON.stringify(opts.sourcePolicy));
  const registration = new RegistrationStore(store);
  const artifacts = new BlobArtifactStore(store);
  const data = new DataObjectStore(store);
  // The worker's delivery activities reach the gateway; the gateway's fleet hooks use the client.
  const late: { gateway?: AgentGateway } = {};
  const hubId = opts.hubId ?? `${hostname()}-${randomBytes(3).toString('hex')}`;
  const ownQueue = hubQueue(opts.taskQueue, hubId);
  const delivery = createDeliveryActivities({ sendDesiredState: (c, d) => late.gateway?.sendDesiredState(c, d) ?? false });
  const events = EventRecorder.forTemporal(opts.client, opts.taskQueue, opts.log ? { log: opts.log } : {});
  const notificationMetrics = new NotificationMetrics(opts.metrics?.registry);
  const limits = opts.renderLimits ?? DEFAULT_RENDER_LIMITS;
  const engines: EngineConfig = { ...opts.tools, limits };
  const mechanism = limitMechanism();
  if (mechanism.mechanism === 'none') {
    opts.log?.('kustomize and helm run WITHOUT a memory or CPU limit: neither prlimit (util-linux) nor /bin/sh was found', {}, 'warn');
  } else {
    opts.log?.(`kustomize and helm run under ${mechanism.mechanism}: ${formatBytes(limits.memoryBytes)} of address space, ${limits.cpuSeconds} s of CPU`, {}, 'info');
  }
  const worker = await Worker.create({
    connection: opts.connection,
    namespace: opts.namespace,
    taskQueue: opts.taskQueue,
    // Prebuilt in a child process, not webpack inside the hub (hub/workflow-bundle.ts: 140 MiB less).
    workflowBundle: { codePath: await workflowBundle(join(opts.dataDir, 'workflow-bundles')) },
    activities: {
      ...delivery,
      ...createHubActivities({ client: opts.client, taskQueue: opts.taskQueue, registration, artifacts, data, dataDir: opts.dataDir, events, engines, sourcePolicy: opts.sourcePolicy }),
      ...createHelmActivities({ client: opts.client, artifacts, data, events, engines, sourcePolicy: opts.sourcePolicy }),
      ...createImageActivities({ client: opts.client, taskQueue: opts.taskQueue, artifacts, data, dataDir: opts.dataDir, events, sourcePolicy: opts.sourcePolicy }),
      ...createRolloutActivities({ eventsFile: join(opts.dataDir, 'events.jsonl'), ...(opts.log ? { log: opts.log } : {}), events, policy: opts.sourcePolicy }),
      ...createTenancyActivities(opts.tenancy),
      ...notificationMetrics.instrument(createNotificationActivities({ secrets: (namespace, name) => data.get('Secret', namespace, name), policy: opts.sourcePolicy })),
    },
    ...(opts.maxConcurrentActivities ? { maxConcurrentActivityTaskExecutions: opts.maxConcurrentActivities } : {}),
    ...(opts.metrics ? { interceptors: { activity: [activityMetricsInterceptor(opts.metrics)] } } : {}),
  });
  const deliveryWorker = await Worker.create({
    connection: opts.connection, namespace: opts.namespace, taskQueue: ownQueue, activities: delivery,
    ...(opts.metrics ? { interceptors: { activity: [activityMetricsInterceptor(opts.metrics)] } } : {}),
  });
  const gateway = new AgentGateway({
    registration, artifacts, fleet: new TemporalFleet(opts.client, opts.taskQueue, registration, events, ownQueue),
    heartbeatIntervalSeconds: opts.heartbeatIntervalSeconds, ...(opts.log ? { log: opts.log } : {}),
    ...(opts.metrics ? { metrics: opts.metrics } : {}), ...(opts.transport ? { transport: opts.transport } : {}),
  });
  late.gateway = gateway;
  const declarations = new DeclarationClient(opts.client, opts.taskQueue, data);
  const routes = receiverRoutes({ declarations, data, metrics: notificationMetrics, ...(opts.log ? { log: opts.log } : {}) });
  return { worker, deliveryWorker, hubId, gateway, registration, artifacts, data, declarations, events, routes };
}
