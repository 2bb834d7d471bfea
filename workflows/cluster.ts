// The cluster actor: one long-lived workflow per registered cluster (`cluster/<name>`).
// It owns the cluster's desired state (set by deployment workflows through updates), and
// records what the agent gateway tells it: connection changes and deployment reports.
// Every change of the desired state is pushed to the agent through an activity.
import {
  condition, continueAsNew, patched, proxyActivities, setHandler, uuid4, workflowInfo,
} from '@temporalio/workflow';
import {
  adoptHeldStateUpdate, agentConnectedSignal, agentDisconnectedSignal, agentHoldSignal, clearDeploymentUpdate,
  clusterReportSignal, clusterStatusQuery, deploymentReportSignal, desiredStateQuery, setDeploymentUpdate,
  upsertDeploymentUpdate, type AdoptRequest, type ClusterInput, type ClusterStatus, type DeliveryActivities,
  type DeploymentUpsert, type DesiredDeployment, type DesiredState,
} from '../api/cluster.js';
import { quick, viaHub } from './activity-profiles.js';
import { workflowNow } from './clock.js';
import { Outbox } from './outbox.js';

const { pushDesiredState } = proxyActivities<DeliveryActivities>(quick);

/** After this many pushes in a row its hub did not take (about 15 s each), the agent is Unreachable. */
const MAX_FAILED_PUSHES = 4;

const DIGEST = /^sha256:[0-9a-f]{64}$/;

function validateDeployment(d: DesiredDeployment, current: DesiredState): void {
  if (!d.name) throw new Error('deployment name is empty');
  if (!Number.isInteger(d.generation) || d.generation < 1) throw new Error(`deployment ${d.name}: generation must be a positive integer, got ${d.generation}`);
  if (!DIGEST.test(d.artifactDigest)) throw new Error(`deployment ${d.name}: artifactDigest must be sha256:<64 hex>, got "${d.artifactDigest}"`);
  const existing = current.deployments.find((e) => e.name === d.name);
  if (existing && existing.generation > d.generation) {
    throw new Error(`deployment ${d.name}: generation ${d.generation} is older than the desired generation ${existing.generation}`);
  }
}

export async function clusterWorkflow(input: ClusterInput): Promise<void> {
  let status: ClusterStatus = input.status ?? {
    name: input.name,
    labels: input.labels,
    connection: 'NeverConnected',
    connectionSince: workflowInfo().startTime.getTime(),
    agentVersion: '',
    kubernetesVersion: '',
    apiResources: 0,
    desired: { version: 0, deployments: [] },
    reports: [],
  };
  // The epoch: this record's identity, made once and carried over continue-as-new with the
  // status. An agent that holds a state of another epoch knows the hub's record was lost
  // (a new Temporal database, the actor terminated and re-created) and refuses to act on it.
  if (status.desired.epoch === undefined && patched('desired-state-epoch')) {
    status = { ...status, desired: { ...status.desired, epoch: uuid4() } };
  }
  let pushedVersion = status.desired.version;
  /** Pushes in a row the agent's hub did not take. */
  let failedPushes = 0;
  const owners: Record<string, string> = { ...input.owners };
  // Reports go on to the deployment's owner; an owner that is gone just misses them.
  const outbox = new Outbox();
  void outbox.run();

  const setDesired = (deployments: readonly DesiredDeployment[]): DesiredState => {
    const sorted = [...deployments].sort((a, b) => a.name.localeCompare(b.name));
    // The operator's adoption stays on the state until the agent has taken it.
    const { epoch, adoptEpoch, adoptPruneMissing } = status.desired;
    const keep = status.held !== undefined && adoptEpoch !== undefined ? { adoptEpoch, adoptPruneMissing: adoptPruneMissing ?? false } : {};
    status = { ...status, desired: { version: status.desired.version + 1, deployments: sorted, ...(epoch === undefined ? {} : { epoch }), ...keep } };
    return status.desired;
  };

  setHandler(clusterStatusQuery, () => status);
  setHandler(desiredStateQuery, () => status.desired);
  setHandler(agentConnectedSignal, (c) => {
    failedPushes = 0;
    status = {
      ...status, connection: 'Connected', connectionSince: c.at, agentVersion: c.agentVersion, kubernetesVersion: c.kubernetesVersion,
      apiResources: c.apiResources, ...(c.capabilitiesDigest === undefined ? {} : { capabilitiesDigest: c.capabilitiesDigest }),
      ...(c.hub === undefined ? {} : { hub: c.hub }),
    };
  });
  setHandler(agentDisconnectedSignal, (d) => {
    if (status.connection !== 'Connected') return;
    // A hub that lost the agent after it moved to another hub does not speak for it.
    if (d.hub !== undefined && status.hub !== undefined && d.hub !== status.hub) return;
    status = { ...status, connection: d.unreachable ? 'Unreachable' : 'Disconnected', connectionSince: d.at };
  });
  setHandler(deploymentReportSignal, (r) => {
    // About a state of another record (the agent holds it, or re-sent it on reconnect): not
    // this record's deployments, whatever their names and generations.
    if (r.epoch !== undefined && r.epoch !== '' && status.desired.epoch !== undefined && r.epoch !== status.desired.epoch) return;
    const others = status.reports.filter((e) => e.name !== r.name);
    const previous = status.reports.find((e) => e.name === r.name);
    // Reports can arrive out of order across reconnects: keep the newest generation. A
    // deletion (generation 0) always counts: generations start again at 1 when a deployment
    // comes back, and an older, higher report must not stand for it.
    const keep = previous && r.phase !== 'DELETED' && previous.phase !== 'DELETED' && previous.generation > r.generation ? previous : r;
    status = { ...status, reports: [...others, keep].sort((a, b) => a.name.localeCompare(b.name)) };
    const owner = owners[r.name];
    // Owners act on outcomes only; histories from before this rule forwarded every report.
    const outcome = r.phase !== 'APPLYING' || !patched('forward-outcomes-only');
    if (owner !== undefined && outcome) outbox.signal(owner, clusterReportSignal, { cluster: status.name, report: r });
  });
  setHandler(agentHoldSignal, (h) => {
    if (h.held) {
      status = { ...status, held: { since: status.held?.since ?? h.at, reason: h.reason ?? 'the agent refused the desired state', agentEpoch: h.agentEpoch ?? '', agentVersion: h.agentVersion ?? 0 } };
    } else if (status.held !== undefined) {
      const { held: _taken, ...rest } = status;
      status = rest;
    }
  });
  setHandler(adoptHeldStateUpdate, (req) => {
    const held = status.held;
    if (!held) return status.desired;
    // A version above both: the agent takes it as the newest, whatever it held.
    const version = Math.max(status.desired.version, held.agentVersion) + 1;
    status = { ...status, desired: { ...status.desired, version, adoptEpoch: held.agentEpoch, adoptPruneMissing: req.pruneMissing } };
    return status.desired;
  }, { validator: (_req: AdoptRequest) => {
    if (!status.held) throw new Error(`cluster ${status.name} holds nothing: its agent runs the hub's desired state (version ${status.desired.version})`);
  } });
  setHandler(setDeploymentUpdate, (d) => {
    const same = status.desired.deployments.find((e) => e.name === d.name);
    if (same && same.generation === d.generation && same.artifactDigest === d.artifactDigest
      && JSON.stringify(same.options) === JSON.stringify(d.options)) return status.desired; // idempotent
    if (d.owner !== undefined) owners[d.name] = d.owner;
    return setDesired([...status.desired.deployments.filter((e) => e.name !== d.name), d]);
  }, { validator: (d: DesiredDeployment) => { validateDeployment(d, status.desired); } });
  setHandler(upsertDeploymentUpdate, (d) => {
    const same = status.desired.deployments.find((e) => e.name === d.name);
    if (same && same.artifactDigest === d.artifactDigest && JSON.stringify(same.options) === JSON.stringify(d.options)
      && (d.attempt === undefined || d.attempt === same.attempt)) {
      return { generation: same.generation, changed: false };
    }
    const generation = (same?.generation ?? 0) + 1;
    if (d.owner !== undefined) owners[d.name] = d.owner;
    setDesired([...status.desired.deployments.filter((e) => e.name !== d.name), { ...d, generation }]);
    return { generation, changed: true };
  }, { validator: (d: DeploymentUpsert) => { validateDeployment({ ...d, generation: 1 }, { version: 0, deployments: [] }); } });
  setHandler(clearDeploymentUpdate, (name) => {
    if (!status.desired.deployments.some((e) => e.name === name)) return status.desired;
    return setDesired(status.desired.deployments.filter((e) => e.name !== name));
  }, { validator: (name) => { if (!name) throw new Error('deployment name is empty'); } });

  for (;;) {
    await condition(() => status.desired.version !== pushedVersion || workflowInfo().continueAsNewSuggested);
    if (status.desired.version !== pushedVersion) {
      const version = status.desired.version;
      // Tells the connected agent, if any; an agent that connects later gets it on Hello.
      const via = status.hub;
      if (via !== undefined && patched('push-via-agent-hub')) {
        // Only the hub holding the agent's stream can write to it.
        try {
          await proxyActivities<DeliveryActivities>(viaHub(via)).pushDesiredState({ cluster: status.name, desired: status.desired });
          pushedVersion = version;
          failedPushes = 0;
        } catch {
          // That hub did not take the push in time: it is gone, or too busy. If the agent
          // moved to another hub, the loop pushes through that one; if it is disconnected, it
          // gets this state on Hello. Otherwise try again once something changes, or soon; a
          // hub that never answers (killed, and its agent with it) makes the agent Unreachable.
          if (status.hub === via && status.connection === 'Connected' && ++failedPushes >= MAX_FAILED_PUSHES) {
            status = { ...status, connection: 'Unreachable', connectionSince: workflowNow() };
          }
          if (status.hub === via && status.connection !== 'Connected') {
            pushedVersion = version;
            failedPushes = 0;
          } else if (status.hub === via) {
            await condition(() => status.hub !== via || status.connection !== 'Connected' || status.desired.version !== version, '5 seconds');
          }
        }
      } else {
        await pushDesiredState({ cluster: status.name, desired: status.desired });
        pushedVersion = version;
      }
    }
    if (workflowInfo().continueAsNewSuggested) {
      await condition(() => outbox.idle()); // let pending handlers and forwards finish first
      await continueAsNew<typeof clusterWorkflow>({ name: status.name, labels: status.labels, status, owners });
    }
  }
}
