// The contract every declaration actor shares (GitRepository, Kustomization, HelmRepository,
// HelmRelease, ImageRepository, ImagePolicy, ImageUpdateAutomation): its workflow id (the
// declaration's id), what it carries over continue-as-new, the signals `flotilla
// apply|reconcile|suspend|resume|delete` send, subscriptions between actors and what a source
// tells its subscribers, and the fields every actor status has. Each actor's own contract is
// in api/<actor>.ts. Imports core/ only: the hub, the CLI, activities and workflows share it.
import { defineQuery, defineSignal } from '@temporalio/workflow';
import type { Condition } from '../core/conditions.js';
import { declarationId, type ActorDeclaration } from '../core/declarations/types.js';
import type { DependencyStatus } from '../core/dependencies.js';

export type { DependencyStatus } from '../core/dependencies.js';

/** A declaration actor's workflow id: its declaration's id, `<kind>/<namespace>/<name>`. */
export function actorWorkflowId(kind: ActorDeclaration['kind'], namespace: string, name: string): string {
  return declarationId({ kind, namespace, name });
}

/** What an actor carries over continue-as-new besides its own status. */
export interface ActorMemory<D extends ActorDeclaration> {
  readonly declaration: D;
  readonly generation: number;
  readonly suspendedByCli: boolean;
  readonly subscribers: readonly string[];
  /** Subscribers not yet told the current state when the last run continued as new. */
  readonly newSubscribers?: readonly string[];
  readonly pendingReconcile?: string;
  /** History length after which the actor continues as new (default 2000; tests lower it). */
  readonly historyLimit?: number;
}

/** What a source actor tells its subscribers when its revision changes (and on subscribe). */
export interface SourceArtifactEvent {
  readonly source: string;
  readonly revision: string;
  readonly artifactDigest: string;
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

/**
 * What source actors (GitRepository, HelmRepository) and their subscribers call on the hub:
 * telling many subscribers a new artifact at once, and reading a source's current artifact.
 */
export interface SourceNewsActivities {
  /**
   * Signals `event` to every subscriber from the hub (not as workflow commands: one actor
   * signalling 1,000 subscribers would hold 2,000 events and 1,000 pending commands in its
   * own history). Returns the subscribers that no longer exist.
   */
  tellSubscribers(input: { readonly subscribers: readonly string[]; readonly event: SourceArtifactEvent }): Promise<{ readonly missing: string[] }>;
  /** The current artifact of a source actor (by its workflow id), undefined when it has none or does not exist. */
  sourceArtifactOf(input: { readonly source: string }): Promise<SourceArtifactEvent | undefined>;
}

export interface SourceArtifact {
  readonly revision: string;
  readonly artifactDigest: string;
  readonly fileCount: number;
  readonly bytes: number;
  /** ms since epoch */
  readonly fetchedAt: number;
}

/** The fields every declaration actor's status has. */
export interface ActorStatusBase {
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

export const declarationQuery = defineQuery<ActorDeclaration>('declaration');
