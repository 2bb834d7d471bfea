// The cluster actor's contract (`cluster/<name>`, one per registered cluster): the desired
// state the hub keeps for the cluster's agent and what the agent reports, the signals the
// hub's gateway sends, the updates deploying actors (through their activities) and the CLI
// call, and the activities it calls (delivery to the agent) and that deploying actors call
// to set their deployments on clusters.
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';

/** The workflow's registered name (its function in workflows/index.ts): the hub starts it by this name. */
export const CLUSTER_WORKFLOW_TYPE = 'clusterWorkflow';
export type ClusterWorkflow = (input: ClusterInput) => Promise<void>;

/** `cluster/<name>`: one per registered cluster. */
export function clusterWorkflowId(name: string): string {
  return `cluster/${name}`;
}

export interface ClusterInput {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  /** Carried over continue-as-new. */
  readonly status?: ClusterStatus;
  /** Deployment name → owner workflow id, kept after a deployment is cleared (its deletion report goes there too). */
  readonly owners?: Readonly<Record<string, string>>;
}

export interface DeploymentOptions {
  readonly prune: boolean;
  readonly force: boolean;
  readonly correctDrift: boolean;
  readonly defaultNamespace: string;
  readonly healthTimeoutSeconds: number;
  /** A render with no objects may replace a non-empty inventory (flotilla.dev/allow-empty). */
  readonly allowEmpty?: boolean;
  /** Refuse a render that would prune more than this percent of the inventory; 0 or absent: no limit. */
  readonly maxPrunePercent?: number;
  /**
   * `<namespace>/<name>` of the ServiceAccount the agent impersonates for this deployment
   * (core/tenancy.ts impersonationFor); absent: the agent's own identity.
   */
  readonly impersonate?: string;
}

/** One entry of a cluster's desired state. Manifests travel by digest, never inline. */
export interface DesiredDeployment {
  readonly name: string;
  /** The workflow id of the actor that set it (e.g. kustomization/apps/web); reports are forwarded to it. */
  readonly owner?: string;
  readonly generation: number;
  readonly artifactDigest: string;
  readonly options: DeploymentOptions;
  /**
   * An owner's attempt token: a new token makes a new generation even when nothing else
   * changed (a rollout retrying a failed cluster). Not sent to agents.
   */
  readonly attempt?: string;
}

export interface DesiredState {
  readonly version: number;
  readonly deployments: readonly DesiredDeployment[];
  /**
   * The identity of this record of the cluster: made when the cluster actor starts without
   * a state, carried over continue-as-new. An agent holding a state of another epoch refuses
   * this one (the hub's record was lost) until an operator adopts (`flotilla cluster adopt`).
   * Absent in actors older than epochs.
   */
  readonly epoch?: string;
  /** Set by `flotilla cluster adopt`: this state may replace what the agent holds from that epoch. */
  readonly adoptEpoch?: string;
  /** With adoptEpoch: deployments the agent holds and this state lacks are deleted (default: orphaned). */
  readonly adoptPruneMissing?: boolean;
}

/**
 * The agent refused the hub's desired state and holds what it runs (held), or took it again
 * (not held). Sent by the gateway from the agent's Ack.
 */
export interface AgentHold {
  readonly at: number;
  readonly held: boolean;
  /** Why the agent refused, in its words. */
  readonly reason?: string;
  /** The epoch and version of the state the agent holds. */
  readonly agentEpoch?: string;
  readonly agentVersion?: number;
}

/** Shown on the cluster while its agent holds a state the hub's record does not continue. */
export interface HeldState {
  readonly since: number;
  readonly reason: string;
  readonly agentEpoch: string;
  readonly agentVersion: number;
}

/** `flotilla cluster adopt <name> [--prune-missing]`. */
export interface AdoptRequest {
  readonly pruneMissing: boolean;
  /** Who asked (for history). */
  readonly by?: string;
}

export type ConnectionState = 'NeverConnected' | 'Connected' | 'Unreachable' | 'Disconnected';

export interface AgentConnected {
  readonly at: number;
  readonly agentVersion: string;
  readonly kubernetesVersion: string;
  readonly apiResources: number;
  /** Artifact digest of the cluster's API versions (JSON `{apiVersions: string[]}`), for chart rendering. */
  readonly capabilitiesDigest?: string;
  /** The task queue of the hub holding the agent's stream: pushes go there (several hubs). */
  readonly hub?: string;
}

export interface AgentDisconnected {
  readonly at: number;
  /** True when the agent went silent (missed heartbeats) rather than closing its stream. */
  readonly unreachable: boolean;
  /** The hub that lost it: ignored when the agent is already on another hub. */
  readonly hub?: string;
}

export interface ReportSummary {
  readonly name: string;
  readonly generation: number;
  readonly phase: string;
  readonly message: string;
  readonly counts: Readonly<Record<string, number>>;
  readonly finishedAt: number;
  /** The epoch of the agent's desired state when it reported (DesiredState.epoch); absent from older agents. */
  readonly epoch?: string;
}

export interface ClusterStatus {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly connection: ConnectionState;
  /** When the connection state last changed (ms since epoch). */
  readonly connectionSince: number;
  readonly agentVersion: string;
  readonly kubernetesVersion: string;
  readonly apiResources: number;
  readonly capabilitiesDigest?: string;
  /** The task queue of the hub the agent last connected to (several hubs share the fleet). */
  readonly hub?: string;
  readonly desired: DesiredState;
  /** The agent refuses the hub's desired state and holds what runs (see DesiredState.epoch). */
  readonly held?: HeldState;
  readonly reports: readonly ReportSummary[];
}

export const agentConnectedSignal = defineSignal<[AgentConnected]>('agentConnected');
export const agentDisconnectedSignal = defineSignal<[AgentDisconnected]>('agentDisconnected');
export const deploymentReportSignal = defineSignal<[ReportSummary]>('deploymentReport');
export const agentHoldSignal = defineSignal<[AgentHold]>('agentHold');

/** A deployment report, forwarded by a cluster actor to the deployment's owner. */
export interface ClusterReport {
  readonly cluster: string;
  readonly report: ReportSummary;
}
export const clusterReportSignal = defineSignal<[ClusterReport]>('clusterReport');

export const setDeploymentUpdate = defineUpdate<DesiredState, [DesiredDeployment]>('setDeployment');
/** A deployment without a generation: the cluster actor assigns the next one when it changed. */
export type DeploymentUpsert = Omit<DesiredDeployment, 'generation'>;
export interface UpsertResult {
  readonly generation: number;
  readonly changed: boolean;
}
export const upsertDeploymentUpdate = defineUpdate<UpsertResult, [DeploymentUpsert]>('upsertDeployment');

export const clearDeploymentUpdate = defineUpdate<DesiredState, [string]>('clearDeployment');
/** The operator's consent: the hub's desired state replaces what the agent holds. */
export const adoptHeldStateUpdate = defineUpdate<DesiredState, [AdoptRequest]>('adoptHeldState');

export const clusterStatusQuery = defineQuery<ClusterStatus>('status');
export const desiredStateQuery = defineQuery<DesiredState>('desiredState');

// ---- Activities -----------------------------------------------------------------------------

/** The cluster actor delivers its desired state to the agent (activities/agent-delivery.ts, in the hub holding the agent's stream). */
export interface PushDesiredStateInput {
  readonly cluster: string;
  readonly desired: DesiredState;
}

export interface DeliveryActivities {
  pushDesiredState(input: PushDesiredStateInput): Promise<boolean>;
}

export interface ClusterInfo {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
}

export interface SetClusterDeploymentInput {
  readonly cluster: string;
  readonly name: string;
  readonly owner: string;
  readonly artifactDigest: string;
  readonly options: DeploymentOptions;
  /** See DesiredDeployment.attempt. */
  readonly attempt?: string;
}

export interface SetClusterDeploymentResult {
  /** The generation the cluster holds for this deployment now. */
  readonly generation: number;
  /** False when the cluster already held exactly this artifact and options. */
  readonly changed: boolean;
}

/** What a deploying actor (Kustomization, HelmRelease) calls to place its deployments on clusters. */
export interface ClusterDeploymentActivities {
  /** Registered (not revoked) clusters with their labels. */
  listClusters(): Promise<ClusterInfo[]>;
  setClusterDeployment(input: SetClusterDeploymentInput): Promise<SetClusterDeploymentResult>;
  clearClusterDeployment(input: { readonly cluster: string; readonly name: string }): Promise<void>;
}
