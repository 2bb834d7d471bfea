// The activities the declaration actors (GitRepository, Kustomization) call, by type only:
// workflows import this file with `import type`, the hub process implements it in
// activities/hub-activities.ts around its Temporal client, stores and data directory.
import type { GitRepositorySpec, KustomizationSpec } from '../core/declarations/types.js';
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
}

export interface BuildKustomizationResult {
  readonly artifactDigest: string;
  readonly objectCount: number;
  readonly cached: boolean;
}

export interface ApplyHubDeclarationsInput {
  /** The Kustomization whose build output these declarations are. */
  readonly owner: string;
  readonly artifactDigest: string;
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
}
