// The Kustomization actor's contract (`kustomization/<namespace>/<name>`): its id, workflow
// type and input, status and status query, and the activities it calls to build its source,
// adopt the Flux objects of its build and wait for them (implemented in
// activities/hub-activities.ts). It sets its deployments on clusters with api/cluster.ts
// ClusterDeploymentActivities and rolls out with api/rollout.ts.
import { defineQuery } from '@temporalio/workflow';
import type { KustomizationDeclaration, KustomizationSpec } from '../core/declarations/types.js';
import type { AdoptionContext } from '../core/declarations/scope.js';
import { actorWorkflowId, type ActorMemory, type ActorStatusBase, type DependencyStatus, type SourceArtifactEvent } from './actor.js';
import type { DeploymentOptions, ReportSummary } from './cluster.js';
import type { RolloutTracking } from './rollout.js';

/** `kustomization/<namespace>/<name>` (also a dependsOn entry's actor). */
export function kustomizationId(namespace: string, name: string): string {
  return actorWorkflowId('Kustomization', namespace, name);
}

/** The workflow's registered name (its function in workflows/index.ts): the hub starts it by this name. */
export const KUSTOMIZATION_WORKFLOW_TYPE = 'kustomizationWorkflow';
export type KustomizationWorkflow = (input: KustomizationInput) => Promise<void>;

/** What the Kustomization set on one cluster. */
export interface Deployed {
  readonly generation: number;
  readonly artifactDigest: string;
  readonly revision: string;
  /** The options it was set with (absent in histories from before rollouts). */
  readonly options?: DeploymentOptions;
}

export interface KustomizationInput extends ActorMemory<KustomizationDeclaration> {
  readonly status?: KustomizationStatus;
  readonly source?: SourceArtifactEvent;
  readonly dependencies?: Readonly<Record<string, DependencyStatus>>;
  readonly reports?: Readonly<Record<string, ReportSummary>>;
  readonly deployed?: Readonly<Record<string, Deployed>>;
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

export const kustomizationStatusQuery = defineQuery<KustomizationStatus>('kustomizationStatus');

// ---- Activities -----------------------------------------------------------------------------

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

export interface KustomizationActivities {
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
