// The activities the declaration actors (GitRepository, Kustomization) call, by type only:
// workflows import this file with `import type`, the hub process implements it in
// activities/hub-activities.ts around its Temporal client, stores and data directory.
import type {
  GitRepositorySpec, ImagePolicyRule, ImagePolicySpec, ImageRepositorySpec, ImageUpdateAutomationSpec, KustomizationSpec, LabelSelector,
} from '../core/declarations/types.js';
import type { AdoptionContext } from '../core/declarations/scope.js';
import type { DeploymentOptions } from '../workflows/messages.js';

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

export interface FetchGitSourceInput {
  readonly id: string;
  readonly namespace: string;
  readonly spec: GitRepositorySpec;
  readonly includes: readonly { readonly artifactDigest: string; readonly fromPath: string; readonly toPath: string }[];
  readonly lastRevision?: string;
  readonly lastArtifactDigest?: string;
}

export interface FetchGitSourceResult {
  readonly revision: string;
  readonly artifactDigest: string;
  readonly fileCount: number;
  readonly bytes: number;
  readonly changed: boolean;
}

export interface BuildKustomizationInput {
  readonly id: string;
  readonly namespace: string;
  readonly sourceDigest: string;
  readonly revision: string;
  readonly spec: KustomizationSpec;
  /**
   * Where the Kustomization stands (scope, placement, owners): its build is split into Flux
   * objects the hub adopts and objects for the clusters (core/declarations/adopt.ts). Absent
   * in histories from before the split: the build goes to the clusters whole.
   */
  readonly adoption?: AdoptionContext;
}

export interface BuildKustomizationResult {
  /** What the agents apply (the whole build when it declares nothing for the hub). */
  readonly artifactDigest: string;
  readonly objectCount: number;
  readonly cached: boolean;
  /** The build declares Flux objects (or has objects skipped): its whole output, for applyHubDeclarations. */
  readonly declarations?: { readonly artifactDigest: string; readonly count: number };
  /** Objects neither applied nor adopted (Flux's controllers, kinds not reconciled yet), counted. */
  readonly skipped?: number;
  /** Said once per build (Flux's controllers are not installed). */
  readonly notices?: readonly string[];
}

export interface ApplyHubDeclarationsInput {
  /** The Kustomization whose build output these declarations are. */
  readonly owner: string;
  /** How to adopt them; absent: a `placement: {hub: true}` owner (histories from before adoption). */
  readonly adoption?: AdoptionContext;
  /** The build; absent when it declares nothing now (the previous declarations are pruned). */
  readonly artifactDigest?: string;
  /** Declaration ids this owner applied last time; those missing now are deleted when prune is set. */
  readonly previous: readonly string[];
  readonly prune: boolean;
}

export interface ApplyHubDeclarationsResult {
  readonly declarations: readonly string[];
  readonly created: number;
  readonly configured: number;
  readonly unchanged: number;
  readonly deleted: number;
}

export interface DeleteHubDeclarationsInput {
  readonly ids: readonly string[];
  /** Only those this Kustomization still owns are deleted (absent in old histories: all). */
  readonly owner?: string;
}

export interface DeclarationsReadyInput {
  /** Adopted Kustomizations and HelmReleases. */
  readonly ids: readonly string[];
  /** Each must be Ready on these (the owner's placed clusters). */
  readonly clusters: readonly string[];
}

export interface HubActivities {
  /** Registered (not revoked) clusters with their labels. */
  listClusters(): Promise<ClusterInfo[]>;
  setClusterDeployment(input: SetClusterDeploymentInput): Promise<SetClusterDeploymentResult>;
  clearClusterDeployment(input: { readonly cluster: string; readonly name: string }): Promise<void>;
  fetchGitSource(input: FetchGitSourceInput): Promise<FetchGitSourceResult>;
  buildKustomization(input: BuildKustomizationInput): Promise<BuildKustomizationResult>;
  applyHubDeclarations(input: ApplyHubDeclarationsInput): Promise<ApplyHubDeclarationsResult>;
  deleteHubDeclarations(input: DeleteHubDeclarationsInput): Promise<void>;
  /**
   * Which of the declarations are not Ready at their current generation on every given
   * cluster (Flux's kstatus rule for a Kustomization that waits on the Flux objects it applied),
   * one line each; empty when all are.
   */
  declarationsNotReady(input: DeclarationsReadyInput): Promise<string[]>;
}

// ---- Helm -------------------------------------------------------------------------------

export interface FetchHelmRepositoryInput {
  readonly id: string;
  readonly namespace: string;
  readonly url: string;
  readonly secretRef?: string;
  readonly timeoutSeconds: number;
}

export interface FetchHelmRepositoryResult {
  /** The repository's index.yaml, stored as an artifact. */
  readonly indexDigest: string;
  readonly charts: number;
}

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

export interface HelmActivities {
  fetchHelmRepository(input: FetchHelmRepositoryInput): Promise<FetchHelmRepositoryResult>;
  prepareChart(input: PrepareChartInput): Promise<PrepareChartResult>;
  renderRelease(input: RenderReleaseInput): Promise<RenderReleaseResult>;
}

// ---- Image automation ---------------------------------------------------------------------

export interface ScanImageRepositoryInput {
  readonly id: string;
  readonly namespace: string;
  readonly spec: ImageRepositorySpec;
}

export interface ScanImageRepositoryResult {
  /** The canonical image name (registry host included). */
  readonly image: string;
  readonly tagCount: number;
  /** The 10 highest tags in reverse alphabetical order (Flux's latestTags). */
  readonly latestTags: readonly string[];
  /** `{ image, tags }` as JSON in the artifact store: the tag list never enters a workflow history. */
  readonly tagsDigest: string;
  /** Tags dropped by spec.exclusionList. */
  readonly excluded: number;
}

export interface SelectImageInput {
  readonly id: string;
  readonly tagsDigest: string;
  readonly policy: ImagePolicyRule;
  readonly filterTags?: ImagePolicySpec['filterTags'];
}

export type SelectImageResult =
  | { readonly image: string; readonly tag: string; readonly candidates: number }
  | { readonly none: string; readonly candidates: number };

export interface ImagePolicyImage {
  /** The policy's actor id. */
  readonly policy: string;
  readonly namespace: string;
  readonly name: string;
  readonly image?: string;
}

export interface FindImagePoliciesInput {
  readonly namespace: string;
  readonly selector?: LabelSelector;
}

export interface PushImageUpdatesInput {
  readonly id: string;
  readonly namespace: string;
  readonly name: string;
  readonly spec: ImageUpdateAutomationSpec;
  /** `<policy ns>:<policy name>` → image, as setter markers name them. */
  readonly images: Readonly<Record<string, string>>;
}

export interface PushImageUpdatesResult {
  readonly outcome: 'pushed' | 'unchanged';
  readonly branch: string;
  readonly baseCommit: string;
  readonly commit?: string;
  readonly changes: readonly { readonly file: string; readonly setter: string; readonly oldValue: string; readonly newValue: string }[];
  readonly attempts: number;
  /** The pushed branch is the one the GitRepository follows. */
  readonly followsSource: boolean;
  readonly message?: string;
}

export interface ImageActivities {
  scanImageRepository(input: ScanImageRepositoryInput): Promise<ScanImageRepositoryResult>;
  selectImage(input: SelectImageInput): Promise<SelectImageResult>;
  /** The running ImagePolicies of a namespace that match the selector, with their latest images. */
  findImagePolicies(input: FindImagePoliciesInput): Promise<ImagePolicyImage[]>;
  pushImageUpdates(input: PushImageUpdatesInput): Promise<PushImageUpdatesResult>;
}
