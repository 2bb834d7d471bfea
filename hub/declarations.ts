// The hub's declarations, as the CLI and the bootstrap Kustomization change them: a
// GitRepository or Kustomization is an actor workflow (its id is `<kind>/<ns>/<name>`),
// started on first apply and signalled with each new version; ConfigMaps and Secrets go to
// the DataObjectStore; Providers, Alerts and Receivers go to the notifications workflow (one
// per hub, id `notifications`). Applying the same declaration twice changes nothing.
import {
  WorkflowNotFoundError, WorkflowUpdateFailedError, type Client, type WorkflowHandle,
} from '@temporalio/client';
import proto from '@temporalio/proto';
import { declarationQuery, deleteSignal, reconcileSignal, specSignal, suspendSignal } from '../api/actor.js';
import {
  adoptHeldStateUpdate, CLUSTER_WORKFLOW_TYPE, clusterStatusQuery, clusterWorkflowId, type AdoptRequest,
  type ClusterStatus, type DesiredState,
} from '../api/cluster.js';
import {
  GIT_REPOSITORY_WORKFLOW_TYPE, gitRepositoryStatusQuery, type GitRepositoryStatus, type GitRepositoryWorkflow,
} from '../api/git-repository.js';
import {
  HELM_RELEASE_WORKFLOW_TYPE, helmReleaseStatusQuery, helmRollbackUpdate, type HelmReleaseStatus, type HelmReleaseWorkflow,
  type RollbackRequest,
} from '../api/helm-release.js';
import {
  HELM_REPOSITORY_WORKFLOW_TYPE, helmRepositoryStatusQuery, type HelmRepositoryStatus, type HelmRepositoryWorkflow,
} from '../api/helm-repository.js';
import {
  IMAGE_POLICY_WORKFLOW_TYPE, IMAGE_REPOSITORY_WORKFLOW_TYPE, IMAGE_UPDATE_AUTOMATION_WORKFLOW_TYPE,
  imagePolicyStatusQuery, imageRepositoryStatusQuery, imageUpdateStatusQuery, type ImagePolicyStatus,
  type ImagePolicyWorkflow, type ImageRepositoryStatus, type ImageRepositoryWorkflow, type ImageUpdateAutomationStatus,
  type ImageUpdateAutomationWorkflow,
} from '../api/image.js';
import { KUSTOMIZATION_WORKFLOW_TYPE, kustomizationStatusQuery, type KustomizationStatus, type KustomizationWorkflow } from '../api/kustomization.js';
import {
  notificationDeclarationSignal, notificationDeleteSignal, NOTIFICATIONS_WORKFLOW_ID, NOTIFICATIONS_WORKFLOW_TYPE,
  notificationsStatusQuery, type NotificationsStatus, type NotificationsWorkflow,
} from '../api/notifications.js';
import {
  rolloutAbortUpdate, rolloutApproveUpdate, rolloutPauseUpdate, rolloutResumeUpdate, rolloutRetryUpdate,
  rolloutStatusQuery, rolloutWorkflowId, type RolloutActionRequest, type RolloutStatus, type RolloutWorkflow,
} from '../api/rollout.js';
import { mapLimited } from '../core/concurrency.js';
import { scrubUrl } from '../core/scrub.js';
import { OWNED_BY_ANNOTATION } from '../core/declarations/scope.js';
import {
  declarationId, isDataDeclaration, isNotificationDeclaration, type ActorDeclaration, type Declaration, type NotificationDeclaration,
} from '../core/declarations/types.js';
import type { ApplyAction, DataObjectStore } from './data-objects.js';
import { fetchTimeline, type Timeline, type TimelineOptions } from './history.js';

export type ActorKind = ActorDeclaration['kind'];
export const ACTOR_WORKFLOW_TYPES: Readonly<Record<ActorKind, string>> = {
  GitRepository: GIT_REPOSITORY_WORKFLOW_TYPE,
  Kustomization: KUSTOMIZATION_WORKFLOW_TYPE,
  HelmRepository: HELM_REPOSITORY_WORKFLOW_TYPE,
  HelmRelease: HELM_RELEASE_WORKFLOW_TYPE,
  ImageRepository: IMAGE_REPOSITORY_WORKFLOW_TYPE,
  ImagePolicy: IMAGE_POLICY_WORKFLOW_TYPE,
  ImageUpdateAutomation: IMAGE_UPDATE_AUTOMATION_WORKFLOW_TYPE,
};

export type ActorStatus =
  | { readonly kind: 'GitRepository'; readonly declaration: ActorDeclaration; readonly status: GitRepositoryStatus }
  | { readonly kind: 'Kustomization'; readonly declaration: ActorDeclaration; readonly status: KustomizationStatus }
  | { readonly kind: 'HelmRepository'; readonly declaration: ActorDeclaration; readonly status: HelmRepositoryStatus }
  | { readonly kind: 'HelmRelease'; readonly declaration: ActorDeclaration; readonly status: HelmReleaseStatus }
  | { readonly kind: 'ImageRepository'; readonly declaration: ActorDeclaration; readonly status: ImageRepositoryStatus }
  | { readonly kind: 'ImagePolicy'; readonly declaration: ActorDeclaration; readonly status: ImagePolicyStatus }
  | { readonly kind: 'ImageUpdateAutomation'; readonly declaration: ActorDeclaration; readonly status: ImageUpdateAutomationStatus };

/** A declaration (or cluster) that does not exist; `id` is the id asked for, when one was. */
export class NotFoundError extends Error {
  readonly id: string | undefined;
  constructor(message: string, id?: string) {
    super(message);
    this.id = id;
  }
}
/** An operator action the rollout refused (approve with no gate waiting, resume when not paused, …). */
export class RolloutActionRefused extends Error {}

export type RolloutAction = 'approve' | 'pause' | 'resume' | 'abort' | 'retry';

/** The id prefixes of the declarations the notifications workflow holds. */
const NOTIFICATION_KINDS = new Set(['provider', 'alert', 'receiver']);

/** What notifications() answers before the workflow exists. */
export const NO_NOTIFICATIONS: NotificationsStatus = {
  providers: [], alerts: [], receivers: [], eventsReceived: 0, invalidEvents: 0, inFlight: 0, queued: 0,
};

export class DeclarationClient {
  constructor(private readonly client: Client, private readonly taskQueue: string, private readonly data?: DataObjectStore) {}

  /** What apply() would do. */
  async plan(d: Declaration): Promise<ApplyAction> {
    if (isDataDeclaration(d)) return this.dataStore().plan(d);
    if (isNotificationDeclaration(d)) {
      const current = findNotification(await this.notifications(), declarationId(d));
      if (!current) return 'created';
      return JSON.stringify(current) === JSON.stringify(d) ? 'unchanged' : 'configured';
    }
    const current = await this.current(declarationId(d));
    if (!current) return 'created';
    return JSON.stringify(current) === JSON.stringify(d) ? 'unchanged' : 'configured';
  }

  async apply(d: Declaration): Promise<ApplyAction> {
    if (isDataDeclaration(d)) return this.dataStore().put(d);
    if (isNotificationDeclaration(d)) return this.applyNotification(d);
    return this.applyActor(d);
  }

  /** Into the notifications workflow, started (with empty state) by the first declaration or event. */
  private async applyNotification(d: NotificationDeclaration): Promise<ApplyAction> {
    const action = await this.plan(d);
    if (action === 'unchanged') return action;
    await this.client.workflow.signalWithStart<NotificationsWorkflow, [NotificationDeclaration]>(NOTIFICATIONS_WORKFLOW_TYPE, {
      workflowId: NOTIFICATIONS_WORKFLOW_ID, taskQueue: this.taskQueue, args: [{}], signal: notificationDeclarationSignal, signalArgs: [d],
    });
    return action;
  }

  /** The notifications workflow's Providers, Alerts (with delivery counts) and Receivers; empty before it exists. */
  async notifications(): Promise<NotificationsStatus> {
    try {
      return await this.client.workflow.getHandle(NOTIFICATIONS_WORKFLOW_ID).query(notificationsStatusQuery);
    } catch (err) {
      if (isNotFound(err)) return NO_NOTIFICATIONS;
      throw err;
    }
  }

  private async applyActor(d: ActorDeclaration): Promise<ApplyAction> {
    const action = await this.plan(d);
    if (action === 'unchanged') return action;
    const options = { workflowId: declarationId(d), taskQueue: this.taskQueue, signal: specSignal, signalArgs: [d] as [ActorDeclaration] };
    const memory = { generation: 1, suspendedByCli: false, subscribers: [] };
    switch (d.kind) {
      case 'GitRepository': await this.client.workflow.signalWithStart<GitRepositoryWorkflow, [ActorDeclaration]>(GIT_REPOSITORY_WORKFLOW_TYPE, { ...options, args: [{ ...memory, declaration: d }] }); break;
      case 'Kustomization': await this.client.workflow.signalWithStart<KustomizationWorkflow, [ActorDeclaration]>(KUSTOMIZATION_WORKFLOW_TYPE, { ...options, args: [{ ...memory, declaration: d }] }); break;
      case 'HelmRepository': await this.client.workflow.signalWithStart<HelmRepositoryWorkflow, [ActorDeclaration]>(HELM_REPOSITORY_WORKFLOW_TYPE, { ...options, args: [{ ...memory, declaration: d }] }); break;
      case 'HelmRelease': await this.client.workflow.signalWithStart<HelmReleaseWorkflow, [ActorDeclaration]>(HELM_RELEASE_WORKFLOW_TYPE, { ...options, args: [{ ...memory, declaration: d }] }); break;
      case 'ImageRepository': await this.client.workflow.signalWithStart<ImageRepositoryWorkflow, [ActorDeclaration]>(IMAGE_REPOSITORY_WORKFLOW_TYPE, { ...options, args: [{ ...memory, declaration: d }] }); break;
      case 'ImagePolicy': await this.client.workflow.signalWithStart<ImagePolicyWorkflow, [ActorDeclaration]>(IMAGE_POLICY_WORKFLOW_TYPE, { ...options, args: [{ ...memory, declaration: d }] }); break;
      case 'ImageUpdateAutomation':
        await this.client.workflow.signalWithStart<ImageUpdateAutomationWorkflow, [ActorDeclaration]>(IMAGE_UPDATE_AUTOMATION_WORKFLOW_TYPE, { ...options, args: [{ ...memory, declaration: d }] });
        break;
    }
    return action;
  }

  /** Deletes a declaration by id (`kustomization/ns/name`, `secret/ns/name`, …); false when absent. */
  async delete(id: string): Promise<boolean> {
    const [kind = '', namespace = '', name = ''] = id.split('/');
    if (kind === 'configmap' || kind === 'secret') return this.dataStore().delete(kind === 'secret' ? 'Secret' : 'ConfigMap', namespace, name);
    if (NOTIFICATION_KINDS.has(kind)) {
      if (!findNotification(await this.notifications(), id)) return false;
      await this.client.workflow.getHandle(NOTIFICATIONS_WORKFLOW_ID).signal(notificationDeleteSignal, id);
      return true;
    }
    try {
      await this.client.workflow.getHandle(id).signal(deleteSignal);
      return true;
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) return false;
      throw err;
    }
  }

  /**
   * The Kustomization that adopted a declaration from its build (the last of its owned-by
   * annotation), '' when it was applied directly, undefined when it does not exist.
   */
  async ownedBy(id: string): Promise<string | undefined> {
    const [kind = '', namespace = '', name = ''] = id.split('/');
    const lastOwner = (chain: string | undefined): string => (chain ?? '').split(',').at(-1) ?? '';
    if (kind === 'configmap' || kind === 'secret') {
      const chain = await this.dataStore().ownedBy(kind === 'secret' ? 'Secret' : 'ConfigMap', namespace, name);
      return chain === undefined ? undefined : lastOwner(chain);
    }
    const d = NOTIFICATION_KINDS.has(kind) ? findNotification(await this.notifications(), id) : await this.current(id);
    return d === undefined ? undefined : lastOwner(d.annotations[OWNED_BY_ANNOTATION]);
  }

  /** What a running Kustomization declared on the hub from its build; undefined when it is gone. */
  async adoptedBy(owner: string): Promise<{ readonly declarations: readonly string[] } | undefined> {
    if (await this.current(owner) === undefined) return undefined; // deleted (a finished workflow still answers queries)
    try {
      const s = await this.status(owner);
      return s.kind === 'Kustomization' ? { declarations: s.status.declarations } : undefined;
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  async status(id: string): Promise<ActorStatus> {
    const handle = this.client.workflow.getHandle(id);
    try {
      const declaration = await handle.query(declarationQuery);
      switch (declaration.kind) {
        // status.url as shown (CLI, dashboard): without the user information a URL may embed (core/scrub.ts).
        case 'GitRepository': {
          const status = await handle.query(gitRepositoryStatusQuery);
          return { kind: 'GitRepository', declaration, status: { ...status, url: scrubUrl(status.url) } };
        }
        case 'Kustomization': return { kind: 'Kustomization', declaration, status: await handle.query(kustomizationStatusQuery) };
        case 'HelmRepository': return { kind: 'HelmRepository', declaration, status: await handle.query(helmRepositoryStatusQuery) };
        case 'HelmRelease': return { kind: 'HelmRelease', declaration, status: await handle.query(helmReleaseStatusQuery) };
        case 'ImageRepository': return { kind: 'ImageRepository', declaration, status: await handle.query(imageRepositoryStatusQuery) };
        case 'ImagePolicy': return { kind: 'ImagePolicy', declaration, status: await handle.query(imagePolicyStatusQuery) };
        case 'ImageUpdateAutomation': return { kind: 'ImageUpdateAutomation', declaration, status: await handle.query(imageUpdateStatusQuery) };
      }
    } catch (err) {
      if (isNotFound(err)) throw new NotFoundError(`${id} not found (apply it first: flotilla apply -f <file>)`, id);
      throw err;
    }
  }

  /** Ids of the running actors of one kind, sorted. */
  async list(kind: ActorKind): Promise<string[]> {
    const ids: string[] = [];
    const query = `WorkflowType = '${ACTOR_WORKFLOW_TYPES[kind]}' AND ExecutionStatus = 'Running'`;
    for await (const w of this.client.workflow.list({ query })) ids.push(w.workflowId);
    return [...new Set(ids)].sort();
  }

  /** The declaration's timeline, decoded from its workflow histories (see hub/history.ts). */
  async timeline(id: string, opts: TimelineOptions = {}): Promise<Timeline> {
    try {
      return await fetchTimeline(this.client, id, opts);
    } catch (err) {
      if (isNotFound(err)) throw new NotFoundError(`${id} not found: no workflow has that id (see flotilla get all)`, id);
      throw err;
    }
  }

  /** Every registered cluster's actor status (running cluster/<name> workflows), by name; 16 queries at a time. */
  async clusters(): Promise<ClusterStatus[]> {
    const ids: string[] = [];
    for await (const w of this.client.workflow.list({ query: `WorkflowType = '${CLUSTER_WORKFLOW_TYPE}' AND ExecutionStatus = 'Running'` })) ids.push(w.workflowId);
    const statuses = await mapLimited([...new Set(ids)], 16, async (id) => {
      try {
        return await this.client.workflow.getHandle(id).query(clusterStatusQuery);
      } catch (err) {
        if (!isNotFound(err)) throw err;
        return undefined;
      }
    });
    return statuses.filter((s): s is ClusterStatus => s !== undefined).sort((a, b) => a.name.localeCompare(b.name));
  }

  /** Pollers on the hub's task queue: a hub whose worker is down (or cannot reach Temporal) has none. */
  async pollers(): Promise<{ readonly workflow: number; readonly activity: number }> {
    const svc = this.client.workflowService;
    const count = async (taskQueueType: proto.temporal.api.enums.v1.TaskQueueType): Promise<number> =>
      (await svc.describeTaskQueue({ namespace: this.client.options.namespace, taskQueue: { name: this.taskQueue }, taskQueueType })).pollers.length;
    const types = proto.temporal.api.enums.v1.TaskQueueType;
    return { workflow: await count(types.TASK_QUEUE_TYPE_WORKFLOW), activity: await count(types.TASK_QUEUE_TYPE_ACTIVITY) };
  }

  /** Asks for a reconcile now; the token returns in status.lastHandledReconcileAt. */
  async requestReconcile(id: string, token: string): Promise<void> {
    await this.runningHandle(id).then((h) => h.signal(reconcileSignal, token));
  }

  /**
   * `flotilla cluster adopt`: the hub's desired state replaces what the cluster's agent holds
   * (it refused the state of a lost and re-created hub record). Throws NotFoundError when the
   * cluster holds nothing.
   */
  async adoptCluster(cluster: string, request: AdoptRequest): Promise<DesiredState> {
    const handle = await this.runningHandle(clusterWorkflowId(cluster));
    try {
      return await handle.executeUpdate(adoptHeldStateUpdate, { args: [request] });
    } catch (err) {
      if (err instanceof WorkflowUpdateFailedError) throw new NotFoundError(err.cause?.message ?? err.message);
      throw err;
    }
  }

  async helmRollback(id: string, request: RollbackRequest): Promise<{ toRevision: number }> {
    const handle = await this.runningHandle(id);
    try {
      return await handle.executeUpdate(helmRollbackUpdate, { args: [request] });
    } catch (err) {
      if (err instanceof WorkflowUpdateFailedError) throw new NotFoundError(err.cause?.message ?? err.message);
      throw err;
    }
  }

  /**
   * The latest rollout of a Kustomization or HelmRelease (running or finished), or undefined
   * when it never had one.
   */
  async rolloutStatus(owner: string): Promise<RolloutStatus | undefined> {
    try {
      const d = await this.client.workflow.getHandle(rolloutWorkflowId(owner)).describe();
      // Pinned to the run described: a newer rollout may start meanwhile (result() of an
      // unpinned handle would follow it and wait for it to finish).
      const run = this.client.workflow.getHandle<RolloutWorkflow>(d.workflowId, d.runId, { followRuns: false });
      if (d.status.name === 'COMPLETED') return await run.result();
      return await run.query(rolloutStatusQuery);
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  /**
   * An operator action on the rollout of `owner`. Refused (RolloutActionRefused, with the
   * rollout's reason) when it makes no sense now. `retry` of a finished, failed rollout goes
   * to the owner, which starts it again.
   */
  async rolloutAction(owner: string, action: RolloutAction, request: RolloutActionRequest): Promise<string> {
    const id = rolloutWorkflowId(owner);
    const handle = this.client.workflow.getHandle(id);
    let running = false;
    try {
      running = (await handle.describe()).status.name === 'RUNNING';
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
    try {
      if (action === 'retry') {
        const target = running ? handle : await this.runningHandle(owner);
        return (await target.executeUpdate(rolloutRetryUpdate, { args: [request] })).message;
      }
      if (!running) {
        const last = await this.rolloutStatus(owner);
        throw new RolloutActionRefused(last
          ? `no rollout of ${owner} is in progress: the last one (${last.revision}) ended ${last.phase}`
          : `${owner} has had no rollout (does it have spec.rollout?)`);
      }
      const update = { approve: rolloutApproveUpdate, pause: rolloutPauseUpdate, resume: rolloutResumeUpdate, abort: rolloutAbortUpdate }[action];
      const s = await handle.executeUpdate(update, { args: [request] });
      return `${action} accepted: rollout is ${s.phase}${s.paused ? ' (paused)' : ''}: ${s.message}`;
    } catch (err) {
      if (err instanceof WorkflowUpdateFailedError) throw new RolloutActionRefused(err.cause?.message ?? err.message);
      throw err;
    }
  }

  async suspend(id: string, suspend: boolean): Promise<void> {
    await this.runningHandle(id).then((h) => h.signal(suspendSignal, suspend));
  }

  private async runningHandle(id: string): Promise<WorkflowHandle> {
    const handle = this.client.workflow.getHandle(id);
    try {
      const d = await handle.describe();
      if (d.status.name !== 'RUNNING') throw new NotFoundError(`${id} not found (it was deleted)`, id);
    } catch (err) {
      if (err instanceof NotFoundError) throw err;
      if (isNotFound(err)) throw new NotFoundError(`${id} not found (apply it first: flotilla apply -f <file>)`, id);
      throw err;
    }
    return handle;
  }

  private async current(id: string): Promise<ActorDeclaration | undefined> {
    try {
      const handle = this.client.workflow.getHandle(id);
      const d = await handle.describe();
      if (d.status.name !== 'RUNNING') return undefined;
      return await handle.query(declarationQuery);
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  private dataStore(): DataObjectStore {
    if (!this.data) throw new Error('ConfigMaps and Secrets are kept in the hub\'s store: give --hub-data (or FLOTILLA_HUB_DATA) for a data directory, or FLOTILLA_STORE=s3 with the hub\'s FLOTILLA_S3_* and AWS_* variables for a bucket');
    return this.data;
  }
}

function findNotification(s: NotificationsStatus, id: string): NotificationDeclaration | undefined {
  return [...s.providers, ...s.alerts, ...s.receivers].find((x) => x.id === id)?.declaration;
}

function isNotFound(err: unknown): boolean {
  return err instanceof WorkflowNotFoundError || err instanceof NotFoundError;
}
