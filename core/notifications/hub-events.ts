// Which events the hub emits, and what they say: the mapping from what the hub observes (a
// rollout step, an agent's apply report, an agent connecting or going silent, a failed fetch
// or build) to Flux-shaped events, as pure functions. The hub process calls them and hands
// the events to its EventRecorder (hub/events.ts); the actor workflows are not involved.
// Pure (no Node built-ins): workflow code may import it.
import { newEvent, type EventSeverity, type FlotillaEvent, type InvolvedObject } from './event.js';

/** The namespace of Cluster events (registered clusters are not namespaced; Alerts name this one). */
export const CLUSTER_EVENT_NAMESPACE = 'flotilla-system';

const API_VERSIONS: Readonly<Record<string, readonly [string, string]>> = {
  gitrepository: ['GitRepository', 'source.toolkit.fluxcd.io/v1'],
  helmrepository: ['HelmRepository', 'source.toolkit.fluxcd.io/v1'],
  kustomization: ['Kustomization', 'kustomize.toolkit.fluxcd.io/v1'],
  helmrelease: ['HelmRelease', 'helm.toolkit.fluxcd.io/v2'],
  imagerepository: ['ImageRepository', 'image.toolkit.fluxcd.io/v1beta2'],
  imagepolicy: ['ImagePolicy', 'image.toolkit.fluxcd.io/v1beta2'],
  imageupdateautomation: ['ImageUpdateAutomation', 'image.toolkit.fluxcd.io/v1beta2'],
};

/**
 * The object a declaration id names (`kustomization/<ns>/<name>`, also with a suffix such as
 * a Helm hook's `/hooks/pre-install/0`), or undefined for anything else.
 */
export function objectOfId(id: string): InvolvedObject | undefined {
  const [kind = '', namespace = '', name = ''] = id.split('/');
  const known = API_VERSIONS[kind];
  if (known === undefined || namespace === '' || name === '') return undefined;
  return { kind: known[0], namespace, name, apiVersion: known[1] };
}

/** What the rollout activity records for each rollout event (activities/rollout-activities.ts). */
export interface RolloutEventFacts {
  readonly type: string;
  readonly message: string;
  readonly owner: string;
  readonly revision: string;
  readonly rollout: string;
  readonly wave?: string;
  readonly by?: string;
}

const ROLLOUT_ERRORS = new Set(['WaveFailed', 'AnalysisFailed', 'RollbackStarted']);

/**
 * A rollout event as an event on its owner (the Kustomization or HelmRelease): reason is the
 * rollout event's type; error for a failed wave or analysis, a rollback, and a rollout that
 * finished Failed or RolledBack.
 */
export function rolloutEvent(e: RolloutEventFacts, nowMs: number): FlotillaEvent | undefined {
  const object = objectOfId(e.owner);
  if (object === undefined) return undefined;
  const failedFinish = e.type === 'RolloutFinished' && /^(Failed|RolledBack):/.test(e.message);
  return newEvent({
    object, nowMs, reason: e.type, message: e.message,
    severity: ROLLOUT_ERRORS.has(e.type) || failedFinish ? 'error' : 'info',
    metadata: {
      revision: e.revision, rollout: e.rollout,
      ...(e.wave === undefined || e.wave === '' ? {} : { wave: e.wave }),
      ...(e.by === undefined || e.by === '' ? {} : { by: e.by }),
    },
  });
}

/** An agent's report on one deployment, as the gateway forwards it. */
export interface ReportFacts {
  /** The deployment's name: its owner's id, or the owner's id plus a hook suffix. */
  readonly name: string;
  readonly phase: string;
  readonly message: string;
  readonly counts: Readonly<Record<string, number>>;
}

/** Whether a report is worth an event: a failure, or a success that changed something. */
export function reportOutcome(r: ReportFacts): 'failed' | 'changed' | undefined {
  if (r.phase === 'UNHEALTHY' || r.phase === 'INVALID' || r.phase === 'FAILED') return 'failed';
  if (r.phase !== 'READY') return undefined;
  const changed = (r.counts.created ?? 0) + (r.counts.configured ?? 0) + (r.counts.pruned ?? 0);
  return changed > 0 ? 'changed' : undefined;
}

/**
 * The event about an agent's report, on the deployment's owner, like kustomize-controller's:
 * error HealthCheckFailed (unhealthy) or ReconciliationFailed (invalid, failed); info
 * ReconciliationSucceeded only when objects were created, configured or pruned. The cluster
 * is in the message too, so that the same outcome on two clusters is two notifications.
 */
export function reportEvent(cluster: string, r: ReportFacts, revision: string | undefined, nowMs: number): FlotillaEvent | undefined {
  const outcome = reportOutcome(r);
  const object = objectOfId(r.name);
  if (outcome === undefined || object === undefined) return undefined;
  const hook = r.name.split('/').slice(3).join('/');
  const severity: EventSeverity = outcome === 'failed' ? 'error' : 'info';
  const reason = outcome === 'changed' ? 'ReconciliationSucceeded' : r.phase === 'UNHEALTHY' ? 'HealthCheckFailed' : 'ReconciliationFailed';
  return newEvent({
    object, nowMs, severity, reason,
    message: `cluster ${cluster}${hook === '' ? '' : ` (${hook.replace(/^hooks\//, 'hook ')})`}: ${r.message}`,
    metadata: { cluster, ...(revision === undefined || revision === '' ? {} : { revision }) },
  });
}

export type ConnectionChange =
  | { readonly state: 'Connected'; readonly agentVersion: string; readonly kubernetesVersion: string }
  | { readonly state: 'Disconnected' | 'Unreachable' };

/** An agent's connection change, as an event on the `Cluster` object (namespace flotilla-system). */
export function connectionEvent(cluster: string, change: ConnectionChange, nowMs: number): FlotillaEvent {
  const object: InvolvedObject = { kind: 'Cluster', namespace: CLUSTER_EVENT_NAMESPACE, name: cluster };
  switch (change.state) {
    case 'Connected':
      return newEvent({
        object, nowMs, severity: 'info', reason: 'AgentConnected',
        message: `the agent of cluster ${cluster} connected (agent ${change.agentVersion || 'unknown'}, Kubernetes ${change.kubernetesVersion || 'unknown'})`,
        metadata: { cluster },
      });
    case 'Disconnected':
      return newEvent({ object, nowMs, severity: 'error', reason: 'AgentDisconnected', message: `the agent of cluster ${cluster} disconnected`, metadata: { cluster } });
    case 'Unreachable':
      return newEvent({
        object, nowMs, severity: 'error', reason: 'AgentUnreachable',
        message: `the agent of cluster ${cluster} is unreachable: no heartbeat for 3 intervals`, metadata: { cluster },
      });
  }
}

/**
 * An error event about a declaration's own work failing on the hub (a git fetch, a build, a
 * chart): `reason` is the failure's type (GitOperationFailed, BuildFailed, …).
 */
export function failureEvent(id: string, reason: string, message: string, metadata: Readonly<Record<string, string>>, nowMs: number): FlotillaEvent | undefined {
  const object = objectOfId(id);
  if (object === undefined) return undefined;
  return newEvent({ object, nowMs, severity: 'error', reason, message, metadata: withoutEmpty(metadata) });
}

/** An info event about a declaration (e.g. a GitRepository's NewArtifact). */
export function infoEvent(id: string, reason: string, message: string, metadata: Readonly<Record<string, string>>, nowMs: number): FlotillaEvent | undefined {
  const object = objectOfId(id);
  if (object === undefined) return undefined;
  return newEvent({ object, nowMs, severity: 'info', reason, message, metadata: withoutEmpty(metadata) });
}

function withoutEmpty(metadata: Readonly<Record<string, string>>): Record<string, string> {
  return Object.fromEntries(Object.entries(metadata).filter(([, v]) => v !== ''));
}
