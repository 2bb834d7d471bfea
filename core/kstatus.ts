// Health of an object, with kstatus semantics: Current (reconciled and healthy),
// InProgress (still converging) or Failed (will not converge without a change). Pure: the
// caller passes the live object as read from the API server.
import { isRecord } from './manifests.js';

export type HealthStatus = 'Current' | 'InProgress' | 'Failed' | 'NotFound';

export interface Health {
  readonly status: HealthStatus;
  /** Machine-readable reason, e.g. ProgressDeadlineExceeded, when not Current. */
  readonly reason?: string;
  readonly message: string;
}

interface Condition { type: string; status: string; reason?: string; message?: string }

const current = (message = 'resource is current'): Health => ({ status: 'Current', message });
const inProgress = (reason: string, message: string): Health => ({ status: 'InProgress', reason, message });
const failed = (reason: string, message: string): Health => ({ status: 'Failed', reason, message });

/** Container waiting reasons that a kubelet reports when a pod will not start on its own. */
const FAILING_WAIT_REASONS = new Set([
  'ErrImagePull', 'ImagePullBackOff', 'InvalidImageName', 'CrashLoopBackOff',
  'CreateContainerConfigError', 'CreateContainerError', 'RunContainerError',
]);

function num(v: unknown, fallback = 0): number {
  return typeof v === 'number' ? v : fallback;
}

function str(v: unknown, fallback: string): string {
  return typeof v === 'string' ? v : fallback;
}

function conditions(status: Record<string, unknown>): Condition[] {
  const list = status.conditions;
  if (!Array.isArray(list)) return [];
  return list.filter((c): c is Condition => isRecord(c) && typeof c.type === 'string' && typeof c.status === 'string');
}

function condition(status: Record<string, unknown>, type: string): Condition | undefined {
  return conditions(status).find((c) => c.type === type);
}

export function assessHealth(obj: unknown): Health {
  if (!isRecord(obj)) return { status: 'NotFound', message: 'object not found' };
  const kind = typeof obj.kind === 'string' ? obj.kind : '';
  const metadata = isRecord(obj.metadata) ? obj.metadata : {};
  const spec = isRecord(obj.spec) ? obj.spec : {};
  const status = isRecord(obj.status) ? obj.status : {};

  if (metadata.deletionTimestamp !== undefined) return inProgress('Terminating', 'object is being deleted');
  const generation = metadata.generation;
  const observed = status.observedGeneration;
  if (typeof generation === 'number' && typeof observed === 'number' && observed < generation) {
    return inProgress('GenerationNotObserved', `generation ${generation} not yet observed by its controller (at ${observed})`);
  }

  switch (kind) {
    case 'Deployment': return deploymentHealth(spec, status, generation);
    case 'StatefulSet': return statefulSetHealth(spec, status);
    case 'DaemonSet': return daemonSetHealth(status);
    case 'ReplicaSet': return replicaSetHealth(spec, status);
    case 'Job': return jobHealth(status);
    case 'Pod': return podHealth(status);
    case 'PersistentVolumeClaim':
      return status.phase === 'Bound' ? current('PVC is Bound') : inProgress('NotBound', `PVC is ${str(status.phase, 'Pending')}`);
    case 'Service': return serviceHealth(spec, status);
    case 'CustomResourceDefinition': return crdHealth(status);
    default: return genericHealth(status);
  }
}

function deploymentHealth(spec: Record<string, unknown>, status: Record<string, unknown>, generation: unknown): Health {
  if (typeof generation === 'number' && status.observedGeneration === undefined) {
    return inProgress('GenerationNotObserved', 'deployment not yet observed by its controller');
  }
  const progressing = condition(status, 'Progressing');
  if (progressing?.status === 'False' && progressing.reason === 'ProgressDeadlineExceeded') {
    return failed('ProgressDeadlineExceeded', progressing.message ?? 'progress deadline exceeded');
  }
  const replicaFailure = condition(status, 'ReplicaFailure');
  if (replicaFailure?.status === 'True') return failed(replicaFailure.reason ?? 'ReplicaFailure', replicaFailure.message ?? 'replica failure');
  const want = num(spec.replicas, 1);
  const updated = num(status.updatedReplicas);
  const total = num(status.replicas);
  const available = num(status.availableReplicas);
  if (updated < want) return inProgress('RolloutInProgress', `updated replicas: ${updated}/${want}`);
  if (total > updated) return inProgress('RolloutInProgress', `pending termination: ${total - updated}`);
  if (available < want) return inProgress('RolloutInProgress', `available replicas: ${available}/${want}`);
  return current(`deployment available: ${available}/${want} replicas`);
}

function statefulSetHealth(spec: Record<string, unknown>, status: Record<string, unknown>): Health {
  const want = num(spec.replicas, 1);
  const ready = num(status.readyReplicas);
  const strategy = isRecord(spec.updateStrategy) ? spec.updateStrategy.type : undefined;
  if (ready < want) return inProgress('RolloutInProgress', `ready replicas: ${ready}/${want}`);
  if (strategy !== 'OnDelete' && status.updateRevision !== undefined && status.currentRevision !== status.updateRevision) {
    return inProgress('RolloutInProgress', `updated replicas: ${num(status.updatedReplicas)}/${want}`);
  }
  return current(`statefulset ready: ${ready}/${want} replicas`);
}

function daemonSetHealth(status: Record<string, unknown>): Health {
  const desired = num(status.desiredNumberScheduled);
  const updated = num(status.updatedNumberScheduled);
  const available = num(status.numberAvailable);
  if (updated < desired) return inProgress('RolloutInProgress', `updated pods: ${updated}/${desired}`);
  if (available < desired) return inProgress('RolloutInProgress', `available pods: ${available}/${desired}`);
  return current(`daemonset available: ${available}/${desired} pods`);
}

function replicaSetHealth(spec: Record<string, unknown>, status: Record<string, unknown>): Health {
  const failure = condition(status, 'ReplicaFailure');
  if (failure?.status === 'True') return failed(failure.reason ?? 'ReplicaFailure', failure.message ?? 'replica failure');
  const want = num(spec.replicas, 1);
  const available = num(status.availableReplicas);
  if (available < want) return inProgress('ReplicasNotAvailable', `available replicas: ${available}/${want}`);
  return current(`replicaset available: ${available}/${want}`);
}

function jobHealth(status: Record<string, unknown>): Health {
  const done = condition(status, 'Complete');
  if (done?.status === 'True') return current('job completed');
  const fail = condition(status, 'Failed');
  if (fail?.status === 'True') return failed(fail.reason ?? 'JobFailed', fail.message ?? 'job failed');
  return inProgress('JobRunning', `job running: ${num(status.active)} active, ${num(status.succeeded)} succeeded`);
}

function podHealth(status: Record<string, unknown>): Health {
  const phase = status.phase;
  if (phase === 'Succeeded') return current('pod succeeded');
  if (phase === 'Failed') return failed('PodFailed', typeof status.message === 'string' ? status.message : 'pod failed');
  const statuses = Array.isArray(status.containerStatuses) ? status.containerStatuses.filter(isRecord) : [];
  for (const cs of statuses) {
    const state = isRecord(cs.state) ? cs.state : {};
    const waiting = isRecord(state.waiting) ? state.waiting : undefined;
    const reason = typeof waiting?.reason === 'string' ? waiting.reason : undefined;
    if (reason && FAILING_WAIT_REASONS.has(reason)) {
      const message = typeof waiting?.message === 'string' ? waiting.message : reason;
      return failed(reason, `container ${String(cs.name)}: ${message}`);
    }
  }
  const ready = condition(status, 'Ready');
  if (phase === 'Running' && ready?.status === 'True') return current('pod running and ready');
  return inProgress('PodNotReady', `pod is ${str(phase, 'Pending')}`);
}

function serviceHealth(spec: Record<string, unknown>, status: Record<string, unknown>): Health {
  if (spec.type !== 'LoadBalancer') return current('service is ready');
  const lb = isRecord(status.loadBalancer) ? status.loadBalancer : {};
  const ingress = Array.isArray(lb.ingress) ? lb.ingress : [];
  return ingress.length > 0 ? current('load balancer has an address') : inProgress('NoLoadBalancerAddress', 'waiting for a load balancer address');
}

function crdHealth(status: Record<string, unknown>): Health {
  const names = condition(status, 'NamesAccepted');
  if (names?.status === 'False') return failed(names.reason ?? 'NamesNotAccepted', names.message ?? 'CRD names not accepted');
  const established = condition(status, 'Established');
  return established?.status === 'True' ? current('CRD is established') : inProgress('NotEstablished', 'CRD is not established yet');
}

function genericHealth(status: Record<string, unknown>): Health {
  const stalled = condition(status, 'Stalled');
  if (stalled?.status === 'True') return failed(stalled.reason ?? 'Stalled', stalled.message ?? 'stalled');
  const ready = condition(status, 'Ready');
  if (ready?.status === 'True') return current(ready.message ?? 'ready');
  if (ready?.status === 'False') return inProgress(ready.reason ?? 'NotReady', ready.message ?? 'not ready');
  const reconciling = condition(status, 'Reconciling');
  if (reconciling?.status === 'True') return inProgress(reconciling.reason ?? 'Reconciling', reconciling.message ?? 'reconciling');
  return current();
}
