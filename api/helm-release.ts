// The HelmRelease actor's contract (`helmrelease/<namespace>/<name>`): its id, workflow type
// and input, status, status query and `flotilla helm rollback` update, and the activities it
// calls to prepare and render its chart (implemented in activities/helm-activities.ts). It
// sets its deployments on clusters with api/cluster.ts ClusterDeploymentActivities and rolls
// out with api/rollout.ts.
import { defineQuery, defineUpdate } from '@temporalio/workflow';
import type { HelmReleaseDeclaration } from '../core/declarations/types.js';
import type { ReleaseHistory, ReleaseHold } from '../core/helm-release.js';
import { actorWorkflowId, type ActorMemory, type ActorStatusBase, type DependencyStatus, type SourceArtifactEvent } from './actor.js';
import type { ReportSummary } from './cluster.js';
import type { RolloutTracking } from './rollout.js';

/** `helmrelease/<namespace>/<name>` (also a dependsOn entry's actor). */
export function helmReleaseId(namespace: string, name: string): string {
  return actorWorkflowId('HelmRelease', namespace, name);
}

/** The workflow's registered name (its function in workflows/index.ts): the hub starts it by this name. */
export const HELM_RELEASE_WORKFLOW_TYPE = 'helmReleaseWorkflow';
export type HelmReleaseWorkflow = (input: HelmReleaseInput) => Promise<void>;

export interface HelmReleaseInput extends ActorMemory<HelmReleaseDeclaration> {
  readonly status?: HelmReleaseStatus;
  readonly source?: SourceArtifactEvent;
  readonly dependencies?: Readonly<Record<string, DependencyStatus>>;
  readonly reports?: Readonly<Record<string, ReportSummary>>;
  readonly deployed?: readonly string[];
  readonly hookPlans?: Readonly<Record<string, Readonly<Record<string, readonly HookStepPlan[]>>>>;
  readonly holds?: Readonly<Record<string, ReleaseHold>>;
  readonly rollbacks?: readonly RollbackRequest[];
  /** cluster → the rollout target (see targetKey) its current release was made for. */
  readonly rolledTargets?: Readonly<Record<string, string>>;
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
  /** Progressive delivery (spec.rollout): the last rollout and what it settled. */
  readonly rollout?: RolloutTracking;
}

export interface RollbackRequest {
  readonly cluster: string;
  /** Default: the revision deployed before the current one. */
  readonly toRevision?: number;
}

export const helmReleaseStatusQuery = defineQuery<HelmReleaseStatus>('helmReleaseStatus');
/** `flotilla helm rollback`: accepted when the cluster and target revision exist; the rollback runs next. */
export const helmRollbackUpdate = defineUpdate<{ readonly toRevision: number }, [RollbackRequest]>('helmRollback');

// ---- Activities -----------------------------------------------------------------------------

/** Where a HelmRelease's chart comes from, as its actor knows it. */
export type ChartSource =
  /** `repository` is the HelmRepository actor's id; its URL and credentials are read from its declaration. */
  | { readonly kind: 'HelmRepository'; readonly repository: string; readonly indexDigest: string }
  | { readonly kind: 'GitRepository'; readonly artifactDigest: string };

export interface PrepareChartInput {
  readonly id: string;
  readonly chart: string;
  readonly version: string;
  readonly source: ChartSource;
}

export interface PrepareChartResult {
  readonly chartName: string;
  readonly chartVersion: string;
  readonly appVersion?: string;
  /** The packaged chart (.tgz) in the artifact store. */
  readonly chartDigest: string;
}

export interface HookStepPlan {
  readonly weight: number;
  /** Rendered hook objects of this step (YAML) in the artifact store. */
  readonly artifactDigest: string;
  readonly deletePolicies: readonly string[];
  readonly objects: readonly string[];
}

export interface RenderReleaseInput {
  readonly id: string;
  /** The HelmRelease's namespace: where valuesFrom ConfigMaps and Secrets are looked up. */
  readonly namespace: string;
  readonly chartDigest: string;
  readonly releaseName: string;
  readonly targetNamespace: string;
  readonly values: Readonly<Record<string, unknown>>;
  readonly valuesFrom: readonly { readonly kind: 'ConfigMap' | 'Secret'; readonly name: string; readonly valuesKey: string; readonly targetPath?: string; readonly optional: boolean }[];
  readonly cluster: string;
  readonly isUpgrade: boolean;
  readonly includeCrds: boolean;
  /** install.createNamespace: also render the release's Namespace (result.namespaceDigest). */
  readonly createNamespace: boolean;
}

export interface RenderReleaseResult {
  /** The release's objects (hooks excluded), YAML, in the artifact store. */
  readonly artifactDigest: string;
  /** sha256 of the merged values: changes when values change, reveals nothing. */
  readonly valuesDigest: string;
  readonly objectCount: number;
  /** Hook steps per event (pre-install, post-upgrade, …), in execution order. */
  readonly hooks: Readonly<Record<string, readonly HookStepPlan[]>>;
  /** install.createNamespace: the Namespace, applied before anything else. */
  readonly namespaceDigest?: string;
  /** Digest of the hook plan (names the hooks a rollback to this render runs). */
  readonly hooksDigest: string;
  readonly kubernetesVersion: string;
}

export interface HelmReleaseActivities {
  prepareChart(input: PrepareChartInput): Promise<PrepareChartResult>;
  renderRelease(input: RenderReleaseInput): Promise<RenderReleaseResult>;
}
