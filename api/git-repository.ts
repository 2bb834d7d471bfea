// The GitRepository actor's contract (`gitrepository/<namespace>/<name>`): its id, workflow
// type and input, status and status query, and the activity it calls to fetch and pack its
// repository (implemented in activities/hub-activities.ts).
import { defineQuery } from '@temporalio/workflow';
import type { GitRepositoryDeclaration, GitRepositorySpec } from '../core/declarations/types.js';
import { actorWorkflowId, type ActorMemory, type ActorStatusBase, type SourceArtifact, type SourceArtifactEvent } from './actor.js';

/** `gitrepository/<namespace>/<name>`: the actor of a GitRepository (a Kustomization's or an include's sourceRef). */
export function gitRepositoryId(namespace: string, name: string): string {
  return actorWorkflowId('GitRepository', namespace, name);
}

/** The workflow's registered name (its function in workflows/index.ts): the hub starts it by this name. */
export const GIT_REPOSITORY_WORKFLOW_TYPE = 'gitRepositoryWorkflow';
export type GitRepositoryWorkflow = (input: GitRepositoryInput) => Promise<void>;

export interface GitRepositoryInput extends ActorMemory<GitRepositoryDeclaration> {
  readonly status?: GitRepositoryStatus;
  /** Artifacts of the repositories this one includes (spec.include), by their actor id. */
  readonly included?: Readonly<Record<string, SourceArtifactEvent>>;
}

export interface GitRepositoryStatus extends ActorStatusBase {
  readonly url: string;
  readonly artifact?: SourceArtifact;
  readonly subscribers: readonly string[];
  /** Revisions of the included repositories (spec.include) in the current artifact. */
  readonly includedRevisions?: Readonly<Record<string, string>>;
}

export const gitRepositoryStatusQuery = defineQuery<GitRepositoryStatus>('gitRepositoryStatus');

// ---- Activities -----------------------------------------------------------------------------

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

export interface GitRepositoryActivities {
  fetchGitSource(input: FetchGitSourceInput): Promise<FetchGitSourceResult>;
}
