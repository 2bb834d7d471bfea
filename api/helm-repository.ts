// The HelmRepository actor's contract (`helmrepository/<namespace>/<name>`): its id, workflow
// type and input, status and status query, and the activity it calls to fetch the index
// (implemented in activities/helm-activities.ts).
import { defineQuery } from '@temporalio/workflow';
import type { HelmRepositoryDeclaration } from '../core/declarations/types.js';
import { actorWorkflowId, type ActorMemory, type ActorStatusBase, type SourceArtifact } from './actor.js';

/** `helmrepository/<namespace>/<name>`: the actor of a HelmRepository (a HelmRelease's chart source). */
export function helmRepositoryId(namespace: string, name: string): string {
  return actorWorkflowId('HelmRepository', namespace, name);
}

/** The workflow's registered name (its function in workflows/index.ts): the hub starts it by this name. */
export const HELM_REPOSITORY_WORKFLOW_TYPE = 'helmRepositoryWorkflow';
export type HelmRepositoryWorkflow = (input: HelmRepositoryInput) => Promise<void>;

export interface HelmRepositoryInput extends ActorMemory<HelmRepositoryDeclaration> {
  readonly status?: HelmRepositoryStatus;
}

export interface HelmRepositoryStatus extends ActorStatusBase {
  readonly url: string;
  /** The index, as an artifact; its digest is the revision subscribers see. */
  readonly artifact?: SourceArtifact;
  readonly subscribers: readonly string[];
}

export const helmRepositoryStatusQuery = defineQuery<HelmRepositoryStatus>('helmRepositoryStatus');

// ---- Activities -----------------------------------------------------------------------------

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

export interface HelmRepositoryActivities {
  fetchHelmRepository(input: FetchHelmRepositoryInput): Promise<FetchHelmRepositoryResult>;
}
