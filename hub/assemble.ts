// One hub, assembled: the registration, artifact and data stores in its data directory,
// the agent gateway, and the Temporal worker serving every actor with its activities.
// flotilla-hub serve and the integration tests build the hub the same way, here.
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Client } from '@temporalio/client';
import { Worker, type NativeConnection } from '@temporalio/worker';
import { createDeliveryActivities } from '../activities/agent-delivery.js';
import { createHelmActivities } from '../activities/helm-activities.js';
import { createHubActivities } from '../activities/hub-activities.js';
import { createRolloutActivities } from '../activities/rollout-activities.js';
import { FileArtifactStore } from './artifact-store.js';
import { DataObjectStore } from './data-objects.js';
import { TemporalFleet } from './fleet.js';
import { AgentGateway } from './gateway.js';
import { RegistrationStore } from './registration.js';

export interface HubAssembly {
  readonly worker: Worker;
  readonly gateway: AgentGateway;
  readonly registration: RegistrationStore;
  readonly artifacts: FileArtifactStore;
  readonly data: DataObjectStore;
}

export interface AssembleOptions {
  readonly connection: NativeConnection;
  /** A client on the same Temporal namespace (the gateway and activities signal actors with it). */
  readonly client: Client;
  readonly namespace: string;
  readonly taskQueue: string;
  readonly dataDir: string;
  readonly heartbeatIntervalSeconds: number;
  readonly log?: (message: string, fields?: Record<string, unknown>) => void;
  /** Concurrent activities (git fetches, builds, cluster updates); Temporal's default is 100. */
  readonly maxConcurrentActivities?: number;
}

export async function assembleHub(opts: AssembleOptions): Promise<HubAssembly> {
  const registration = new RegistrationStore(join(opts.dataDir, 'registration.json'));
  const artifacts = new FileArtifactStore(join(opts.dataDir, 'artifacts'));
  const data = new DataObjectStore(join(opts.dataDir, 'objects'));
  // The worker's delivery activities reach the gateway; the gateway's fleet hooks use the client.
  const late: { gateway?: AgentGateway } = {};
  const worker = await Worker.create({
    connection: opts.connection,
    namespace: opts.namespace,
    taskQueue: opts.taskQueue,
    workflowsPath: fileURLToPath(new URL('../workflows/index.js', import.meta.url)),
    activities: {
      ...createDeliveryActivities({ sendDesiredState: (c, d) => late.gateway?.sendDesiredState(c, d) ?? false }),
      ...createHubActivities({ client: opts.client, taskQueue: opts.taskQueue, registration, artifacts, data, dataDir: opts.dataDir }),
      ...createHelmActivities({ client: opts.client, artifacts, data }),
      ...createRolloutActivities({ eventsFile: join(opts.dataDir, 'events.jsonl'), ...(opts.log ? { log: opts.log } : {}) }),
    },
    ...(opts.maxConcurrentActivities ? { maxConcurrentActivityTaskExecutions: opts.maxConcurrentActivities } : {}),
  });
  const gateway = new AgentGateway({
    registration, artifacts, fleet: new TemporalFleet(opts.client, opts.taskQueue, registration),
    heartbeatIntervalSeconds: opts.heartbeatIntervalSeconds, ...(opts.log ? { log: opts.log } : {}),
  });
  late.gateway = gateway;
  return { worker, gateway, registration, artifacts, data };
}
