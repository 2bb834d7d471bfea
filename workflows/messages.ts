// Every signal, update and query of the actors, declared in one place.
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { Condition } from '../core/conditions.js';
import type { ActorDeclaration } from '../core/declarations/types.js';
import type { ReleaseHistory } from '../core/helm-release.js';

export interface DeploymentOptions {
  readonly prune: boolean;
  readonly force: boolean;
  readonly correctDrift: boolean;
  readonly defaultNamespace: string;
  readonly healthTimeoutSeconds: number;
}

/** One entry of a cluster's desired state. Manifests travel by digest, never inline. */
export interface DesiredDeployment {
  readonly name: string;
  /** The workflow id of the actor that set it (e.g. kustomization/apps/web); reports are forwarded to it. */
  readonly owner?: string;
  readonly generation: number;
  readonly artifactDigest: string;
  readonly options: DeploymentOptions;
}

export interface DesiredState {
  readonly version: number;
  readonly deployments: readonly DesiredDeployment[];
}

export type ConnectionState = 'NeverConnected' | 'Connected' | 'Unreachable' | 'Disconnected';

export interface AgentConnected {
  readonly at: number;
  readonly agentVersion: string;
  readonly kubernetesVersion: string;
  readonly apiResources: number;
  /** Artifact digest of the cluster's API versions (JSON `{apiVersions: string[]}`), for chart rendering. */
  readonly capabilitiesDigest?: string;
}

export interface AgentDisconnected {
  readonly at: number;
  /** True when the agent went silent (missed heartbeats) rather than closing its stream. */
  readonly unreachable: boolean;
}

export interface ReportSummary {
  readonly name: string;
  readonly generation: number;
  readonly phase: string;
  readonly message: string;
  readonly counts: Readonly<Record<string, number>>;
  readonly finishedAt: number;
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
  readonly desired: DesiredState;
  readonly reports: readonly ReportSummary[];
}

export const agentConnectedSignal = defineSignal<[AgentConnected]>('agentConnected');
export const agentDisconnectedSignal = defineSignal<[AgentDisconnected]>('agentDisconnected');
export const deploymentReportSignal = defineSignal<[ReportSummary]>('deploymentReport');

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

export const clusterStatusQuery = defineQuery<ClusterStatus>('status');
export const desiredStateQuery = defineQuery<DesiredState>('desiredState');

export function clusterWorkflowId(name: string): string {
  return `cluster/${name}`;
}

// ---- Declaration actors (GitRepository, Kustomization) -------------------------------

export type { Condition } from '../core/conditions.js';

/** What a source actor tells its subscribers when its revision changes (and on subscribe). */
export interface SourceArtifactEvent {
  readonly source: string;
  readonly revision: string;
  readonly artifactDigest: string;
}

/** What a Kustomization tells its dependents whenever its readiness changes (and on subscribe). */
export interface DependencyStatus {
  readonly id: string;
  readonly ready: boolean;
  readonly readyClusters: readonly string[];
  readonly revision: string;
  readonly deleted: boolean;
}

export interface Subscription {
  /** Workflow id of the subscriber. */
  readonly subscriber: string;
}

/** A new or changed declaration (from `flotilla apply` or a bootstrap Kustomization). */
export const specSignal = defineSignal<[ActorDeclaration]>('spec');
/** `flotilla reconcile`: the token comes back in status.lastHandledReconcileAt. */
export const reconcileSignal = defineSignal<[string]>('reconcile');
/** `flotilla suspend|resume` (independent of spec.suspend, which stays as declared). */
export const suspendSignal = defineSignal<[boolean]>('suspend');
/** The declaration was deleted: clean up (prune if the spec says so) and finish. */
export const deleteSignal = defineSignal('delete');
export const subscribeSignal = defineSignal<[Subscription]>('subscribe');
export const unsubscribeSignal = defineSignal<[Subscription]>('unsubscribe');
export const sourceArtifactSignal = defineSignal<[SourceArtifactEvent]>('sourceArtifact');
export const dependencyStatusSignal = defineSignal<[DependencyStatus]>('dependencyStatus');

export interface SourceArtifact {
  readonly revision: string;
  readonly artifactDigest: string;
  readonly fileCount: number;
  readonly bytes: number;
  /** ms since epoch */
  readonly fetchedAt: number;
}

interface ActorStatusBase {
  readonly id: string;
  readonly generation: number;
  readonly observedGeneration: number;
  readonly conditions: readonly Condition[];
  /** spec.suspend, or suspended by `flotilla suspend`. */
  readonly suspended: boolean;
  readonly suspendedByCli: boolean;
  readonly lastHandledReconcileAt: string;
  /** ms since epoch of the last finished reconcile. */
  readonly lastReconciledAt: number;
}

export interface GitRepositoryStatus extends ActorStatusBase {
  readonly url: string;
  readonly artifact?: SourceArtifact;
  readonly subscribers: readonly string[];
  /** Revisions of the included repositories (spec.include) in the current artifact. */
  readonly includedRevisions?: Readonly<Record<string, string>>;
}

export interface ClusterDeploymentStatus {
  readonly cluster: string;
  readonly ready: 'True' | 'False' | 'Unknown';
  readonly reason: string;
  readonly message: string;
  /** The cluster deployment's generation this Kustomization last set. */
  readonly generation: number;
  readonly revision: string;
  readonly artifactDigest: string;
  readonly counts: Readonly<Record<string, number>>;
  /** ms since epoch of the last report. */
  readonly updatedAt: number;
}

export interface KustomizationBuild {
  readonly revision: string;
  readonly artifactDigest: string;
  readonly objectCount: number;
}

export interface KustomizationStatus extends ActorStatusBase {
  readonly source: string;
  /** The latest revision its source announced (applied or not). */
  readonly sourceRevision: string;
  readonly lastAppliedRevision: string;
  readonly lastAttemptedRevision: string;
  readonly lastBuild?: KustomizationBuild;
  readonly placed: readonly string[];
  readonly clusters: readonly ClusterDeploymentStatus[];
  /** Hub declarations this Kustomization manages (placement.hub, e.g. bootstrap). */
  readonly declarations: readonly string[];
}

export const gitRepositoryStatusQuery = defineQuery<GitRepositoryStatus>('gitRepositoryStatus');
export const kustomizationStatusQuery = defineQuery<KustomizationStatus>('kustomizationStatus');
export const declarationQuery = defineQuery<ActorDeclaration>('declaration');

// ---- Helm --------------------------------------------------------------------------------

export interface HelmRepositoryStatus extends ActorStatusBase {
  readonly url: string;
  /** The index, as an artifact; its digest is the revision subscribers see. */
  readonly artifact?: SourceArtifact;
  readonly subscribers: readonly string[];
}

export interface HelmReleaseClusterStatus {
  readonly cluster: string;
  readonly ready: 'True' | 'False' | 'Unknown';
  readonly reason: string;
  readonly message: string;
  /** The current release revision on this cluster (0: never installed). */
  readonly revision: number;
  readonly chartVersion: string;
  readonly releaseStatus: string;
  /** ms since epoch */
  readonly updatedAt: number;
}

export interface HelmReleaseStatus extends ActorStatusBase {
  readonly source: string;
  readonly sourceRevision: string;
  readonly releaseName: string;
  readonly chartName: string;
  /** The chart version the last reconcile resolved. */
  readonly lastAttemptedChartVersion: string;
  readonly placed: readonly string[];
  readonly clusters: readonly HelmReleaseClusterStatus[];
  /** Each cluster's release history (Helm's revisions), oldest first. */
  readonly histories: Readonly<Record<string, ReleaseHistory>>;
}

export interface RollbackRequest {
  readonly cluster: string;
  /** Default: the revision deployed before the current one. */
  readonly toRevision?: number;
}

export const helmRepositoryStatusQuery = defineQuery<HelmRepositoryStatus>('helmRepositoryStatus');
export const helmReleaseStatusQuery = defineQuery<HelmReleaseStatus>('helmReleaseStatus');
/** `flotilla helm rollback`: accepted when the cluster and target revision exist; the rollback runs next. */
export const helmRollbackUpdate = defineUpdate<{ readonly toRevision: number }, [RollbackRequest]>('helmRollback');
