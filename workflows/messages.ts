// Every signal, update and query of the actors, declared in one place.
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { Condition } from '../core/conditions.js';
import type {
  ActorDeclaration, AlertDeclaration, NotificationDeclaration, ProviderDeclaration, ReceiverDeclaration, RolloutStrategy,
} from '../core/declarations/types.js';
import type { FlotillaEvent } from '../core/notifications/event.js';
import type { ReleaseHistory } from '../core/helm-release.js';

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
  /** Kustomization: its last applied source revision. HelmRelease: its chart version. */
  readonly revision: string;
  readonly deleted: boolean;
  /** Its source actor's id (Kustomizations): dependents on the same source compare revisions. Absent from older actors. */
  readonly sourceId?: string;
  /** False while its Ready condition is about an older generation of its spec. Absent from older actors. */
  readonly generationObserved?: boolean;
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
  /** Flux fields in the declaration that Flotilla does not act on (`spec.decryption: …`); absent when none. */
  readonly unsupported?: readonly string[];
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
  /** What the agents apply. */
  readonly artifactDigest: string;
  /** Objects for the clusters. */
  readonly objectCount: number;
  /** Flux objects (and their ConfigMaps and Secrets) the hub adopted from the build. */
  readonly adopted?: number;
  /** Objects neither applied nor adopted (Flux's controllers, kinds not reconciled yet). */
  readonly skipped?: number;
  /** Said once per build: Flux's controllers from gotk-components.yaml are not installed. */
  readonly notices?: readonly string[];
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
  /** Hub declarations this Kustomization manages: the Flux objects of its build (all of it with placement.hub). */
  readonly declarations: readonly string[];
  /** Progressive delivery (spec.rollout): the last rollout and what it settled. */
  readonly rollout?: RolloutTracking;
}

/** What an owner (Kustomization, HelmRelease) remembers of its rollouts. */
export interface RolloutTracking {
  /** The rollout workflow's id (`rollout/<owner id>`). */
  readonly id: string;
  readonly revision: string;
  readonly target: string;
  /** The last rollout's phase (Progressing while it runs). */
  readonly phase: string;
  readonly message: string;
  /** ms since epoch */
  readonly updatedAt: number;
  /** The target the fleet has taken: new clusters get it directly, without a rollout. */
  readonly rolledOut?: string;
  /** A target whose rollout failed: not tried again until `flotilla rollout retry` or a newer target. */
  readonly failed?: string;
}

export const gitRepositoryStatusQuery = defineQuery<GitRepositoryStatus>('gitRepositoryStatus');
export const kustomizationStatusQuery = defineQuery<KustomizationStatus>('kustomizationStatus');
export const declarationQuery = defineQuery<ActorDeclaration>('declaration');

// ---- Image automation --------------------------------------------------------------------

/** What an ImageRepository's last successful scan found. */
export interface ImageScan {
  /** ms since epoch */
  readonly scanTime: number;
  readonly tagCount: number;
  /** Flux's lastScanResult.latestTags: the 10 highest tags in reverse alphabetical order. */
  readonly latestTags: readonly string[];
  /** The full tag list (JSON) in the artifact store: kept out of workflow histories. */
  readonly tagsDigest: string;
}

export interface ImageRepositoryStatus extends ActorStatusBase {
  /** The canonical image name (registry host included). */
  readonly image: string;
  readonly lastScan?: ImageScan;
  readonly subscribers: readonly string[];
}

export interface ImagePolicyStatus extends ActorStatusBase {
  /** The ImageRepository actor it follows. */
  readonly repository: string;
  /** Flux's status.latestImage: `<image>:<tag>`. */
  readonly latestImage?: string;
  /** Flux's status.observedPreviousImage. */
  readonly previousImage?: string;
  /** The tag list the decision was made on, how many tags passed filterTags, and when (ms since epoch). */
  readonly basedOn?: { readonly tagsDigest: string; readonly candidates: number; readonly evaluatedAt: number };
  readonly subscribers: readonly string[];
}

/** What an ImagePolicy tells its subscribers (ImageUpdateAutomations) when its latest image changes. */
export interface LatestImageEvent {
  readonly policy: string;
  /** Undefined while the policy has no image (no tag matched). */
  readonly image?: string;
}

export interface ImageUpdateAutomationStatus extends ActorStatusBase {
  /** The GitRepository actor it commits to. */
  readonly source: string;
  /** ms since epoch of the last run that got as far as git. */
  readonly lastAutomationRunTime?: number;
  readonly lastPushCommit?: string;
  readonly lastPushTime?: number;
  readonly lastPushBranch?: string;
  /** The branch tip the last run found (its own commit after a push). */
  readonly lastBaseCommit?: string;
  /** The policies applied on the last run, `<ns>/<name>` → image. */
  readonly observedPolicies: Readonly<Record<string, string>>;
}

export const imageRepositoryStatusQuery = defineQuery<ImageRepositoryStatus>('imageRepositoryStatus');
export const imagePolicyStatusQuery = defineQuery<ImagePolicyStatus>('imagePolicyStatus');
export const imageUpdateStatusQuery = defineQuery<ImageUpdateAutomationStatus>('imageUpdateAutomationStatus');
export const latestImageSignal = defineSignal<[LatestImageEvent]>('latestImage');

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
  /** Progressive delivery (spec.rollout): the last rollout and what it settled. */
  readonly rollout?: RolloutTracking;
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

// ---- Rollouts -----------------------------------------------------------------------------
// A rollout (`rollout/<owner id>`) moves one new target of a Kustomization or HelmRelease
// (its owner) through the placed clusters in waves. The rollout decides; the owner acts: the
// rollout sends it steps (advance these clusters to the target, or revert them to what they
// had before), the owner answers per cluster and forwards later health changes.

export type RolloutPhase =
  | 'Progressing' | 'WaitingApproval' | 'Baking' | 'Paused' | 'RollingBack'
  | 'Succeeded' | 'RolledBack' | 'Failed' | 'Aborted' | 'Superseded';
export type RolloutWavePhase = 'Pending' | 'WaitingApproval' | 'Progressing' | 'Baking' | 'Succeeded' | 'Failed' | 'Skipped';
export type RolloutClusterPhase = 'Pending' | 'AtTarget' | 'Updating' | 'Healthy' | 'Failed' | 'RollingBack' | 'RolledBack' | 'RollbackFailed';

export interface RolloutClusterStatus {
  readonly cluster: string;
  readonly wave: string;
  readonly phase: RolloutClusterPhase;
  /** What the cluster runs now, as far as the rollout knows. */
  readonly revision: string;
  /** What it ran before the rollout (the rollback target). */
  readonly previousRevision: string;
  readonly message: string;
  /** ms since epoch */
  readonly updatedAt: number;
}

export interface RolloutAnalysisStatus {
  readonly checks: number;
  readonly failures: number;
  readonly lastResult: string;
  readonly lastCheckedAt: number;
}

export interface RolloutWaveStatus {
  readonly name: string;
  readonly clusters: readonly string[];
  readonly batches: readonly (readonly string[])[];
  readonly phase: RolloutWavePhase;
  readonly approval: boolean;
  readonly approvedBy?: string;
  readonly bakeSeconds: number;
  readonly maxFailures: number;
  readonly failures: number;
  /** ms since epoch */
  readonly startedAt?: number;
  readonly bakeUntil?: number;
  readonly finishedAt?: number;
  readonly analysis?: RolloutAnalysisStatus;
  readonly message: string;
}

export type RolloutEventType =
  | 'RolloutStarted' | 'WaveStarted' | 'GateWaiting' | 'Approved' | 'WaveSucceeded' | 'WaveFailed' | 'AnalysisFailed'
  | 'Paused' | 'Resumed' | 'Retried' | 'AbortRequested' | 'SupersedeRequested' | 'RollbackStarted' | 'RollbackFinished' | 'RolloutFinished';

export interface RolloutEvent {
  /** ms since epoch */
  readonly at: number;
  readonly type: RolloutEventType;
  readonly wave?: string;
  readonly message: string;
  /** Who asked, for operator actions. */
  readonly by?: string;
}

export interface RolloutStatus {
  readonly id: string;
  readonly owner: string;
  readonly ownerKind: 'Kustomization' | 'HelmRelease';
  readonly revision: string;
  readonly target: string;
  readonly phase: RolloutPhase;
  readonly message: string;
  readonly paused: boolean;
  /** Index of the wave in progress (or last reached). */
  readonly currentWave: number;
  readonly waves: readonly RolloutWaveStatus[];
  readonly clusters: readonly RolloutClusterStatus[];
  /** Placed clusters no wave selected: this rollout never touches them. */
  readonly unselected: readonly string[];
  readonly onFailure: 'rollback' | 'pause';
  readonly events: readonly RolloutEvent[];
  readonly startedAt: number;
  readonly finishedAt?: number;
  readonly supersededBy?: string;
}

export interface RolloutCluster {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
}

export interface RolloutInput {
  readonly owner: string;
  readonly ownerKind: 'Kustomization' | 'HelmRelease';
  /** What the owner rolls out, for people (a source revision, a chart version). */
  readonly revision: string;
  /** What identifies the target for machines (an artifact digest). */
  readonly target: string;
  readonly strategy: RolloutStrategy;
  readonly clusters: readonly RolloutCluster[];
  /** Clusters that already run the target: nothing to change there. */
  readonly atTarget: readonly string[];
  /** cluster → what it ran before ("" = nothing). */
  readonly previous: Readonly<Record<string, string>>;
  /** Used for waves without healthTimeout. */
  readonly defaultHealthTimeoutSeconds: number;
}

export interface RolloutStep {
  readonly rollout: string;
  readonly seq: number;
  readonly action: 'advance' | 'revert';
  readonly clusters: readonly string[];
  readonly healthTimeoutSeconds: number;
  /** Unique per step: an advance re-applies even a cluster already given the target (a retried wave). */
  readonly attempt: string;
}

export interface RolloutStepResult {
  readonly seq: number;
  readonly cluster: string;
  readonly ok: boolean;
  readonly revision: string;
  readonly message: string;
}

export interface RolloutHealth {
  readonly cluster: string;
  readonly ok: boolean;
  readonly message: string;
}

export interface RolloutFinished {
  readonly rollout: string;
  readonly phase: RolloutPhase;
  readonly message: string;
}

/** Who asks for an operator action, and why (both optional, shown in events). */
export interface RolloutActionRequest {
  readonly by?: string;
  readonly reason?: string;
}

/** rollout → owner */
export const rolloutStepSignal = defineSignal<[RolloutStep]>('rolloutStep');
export const rolloutFinishedSignal = defineSignal<[RolloutFinished]>('rolloutFinished');
/** owner → rollout */
export const rolloutStepResultSignal = defineSignal<[RolloutStepResult]>('rolloutStepResult');
export const rolloutHealthSignal = defineSignal<[RolloutHealth]>('rolloutHealth');
/** A newer target exists: finish the wave in progress, then end as Superseded. */
export const rolloutSupersedeSignal = defineSignal<[{ readonly revision: string }]>('rolloutSupersede');
/** The owner is being deleted: stop now, without rolling back (the owner cleans up). */
export const rolloutStopSignal = defineSignal<[{ readonly reason: string }]>('rolloutStop');

export const rolloutStatusQuery = defineQuery<RolloutStatus>('rolloutStatus');
export const rolloutApproveUpdate = defineUpdate<RolloutStatus, [RolloutActionRequest]>('rolloutApprove');
export const rolloutPauseUpdate = defineUpdate<RolloutStatus, [RolloutActionRequest]>('rolloutPause');
export const rolloutResumeUpdate = defineUpdate<RolloutStatus, [RolloutActionRequest]>('rolloutResume');
export const rolloutAbortUpdate = defineUpdate<RolloutStatus, [RolloutActionRequest]>('rolloutAbort');
/** On a rollout paused by a failure: run the failed wave again. On an owner: start its failed rollout again. */
export const rolloutRetryUpdate = defineUpdate<{ readonly message: string }, [RolloutActionRequest]>('rolloutRetry');

export function rolloutWorkflowId(owner: string): string {
  return `rollout/${owner}`;
}

// ---- Notifications ------------------------------------------------------------------------
// One workflow per hub (id `notifications`) holds the Providers, Alerts and Receivers, takes
// the hub's events in batches and sends what the Alerts select (workflows/notifications.ts).

export const NOTIFICATIONS_WORKFLOW_ID = 'notifications';

/** What happened to the events one Alert selected. */
export interface AlertNotificationStatus {
  /** `alert/<ns>/<name>` */
  readonly id: string;
  readonly declaration: AlertDeclaration;
  /** The Provider it sends with, `provider/<ns>/<name>`. */
  readonly provider: string;
  /** Events the Alert selected. */
  readonly matched: number;
  readonly sent: number;
  /** Identical to one sent within the dedup window. */
  readonly duplicates: number;
  /** Over the Provider's rate limit. */
  readonly rateLimited: number;
  /** Failed after the last retry (or refused, or the Provider is misconfigured). */
  readonly failed: number;
  /** Not sent: the Provider is missing or suspended, or it had nothing to send (a commit status without a commit). */
  readonly skipped: number;
  /** ms since epoch */
  readonly lastSentAt?: number;
  readonly lastError?: string;
  readonly lastFailedAt?: number;
  readonly lastSkipped?: string;
}

export interface ProviderNotificationStatus {
  /** `provider/<ns>/<name>` */
  readonly id: string;
  readonly declaration: ProviderDeclaration;
  readonly sent: number;
  readonly failed: number;
  readonly skipped: number;
  /** Deliveries started and not finished (retries included), and queued ones. */
  readonly pending: number;
  readonly lastSentAt?: number;
  readonly lastError?: string;
}

export interface ReceiverNotificationStatus {
  /** `receiver/<ns>/<name>` */
  readonly id: string;
  readonly declaration: ReceiverDeclaration;
}

export interface NotificationsStatus {
  readonly providers: readonly ProviderNotificationStatus[];
  readonly alerts: readonly AlertNotificationStatus[];
  readonly receivers: readonly ReceiverNotificationStatus[];
  /** Events received since the workflow first started (across continue-as-new). */
  readonly eventsReceived: number;
  /** Events refused by validation (a sender other than the hub's recorder). */
  readonly invalidEvents: number;
  /** Deliveries in progress (retries included) and waiting for a slot. */
  readonly inFlight: number;
  readonly queued: number;
}

/** Adds or replaces a Provider, Alert or Receiver (from `flotilla apply` or a bootstrap Kustomization). */
export const notificationDeclarationSignal = defineSignal<[NotificationDeclaration]>('notificationDeclaration');
/** Deletes one by id (`alert/<ns>/<name>`); an unknown id is ignored. */
export const notificationDeleteSignal = defineSignal<[string]>('notificationDelete');
/** A batch of events from the hub (hub/events.ts EventRecorder). */
export const notificationEventsSignal = defineSignal<[readonly FlotillaEvent[]]>('notificationEvents');
export const notificationsStatusQuery = defineQuery<NotificationsStatus>('notificationsStatus');
