// The ImageUpdateAutomation actor (`imageupdateautomation/<namespace>/<name>`): on its
// interval, and whenever one of its ImagePolicies picks a new image, it finds the policies
// of its namespace (policySelector), rewrites the setter markers under spec.update.path in
// its GitRepository, commits and pushes (activities). A push of the GitRepository's own
// branch asks that GitRepository to fetch at once, so the commit reaches the fleet (and its
// rollout) without waiting for the source's interval.
//
// A retried or replayed push cannot commit twice: the activity re-applies the markers to the
// branch's current tip, and a tip that already carries the images needs no commit.
import { condition, continueAsNew, proxyActivities, setHandler } from '@temporalio/workflow';
import { reconcileSignal, subscribeSignal, unsubscribeSignal } from '../api/actor.js';
import { gitRepositoryId } from '../api/git-repository.js';
import {
  imageUpdateStatusQuery, latestImageSignal, type ImageActivities, type ImagePolicyImage, type ImageUpdateAutomationInput,
  type ImageUpdateAutomationStatus,
} from '../api/image.js';
import { setCondition, type Condition } from '../core/conditions.js';
import { DeclarationActor } from './actor.js';
import { quick } from './activity-profiles.js';
import { isoTime, workflowNow } from './clock.js';
import { activityFailure } from './failures.js';
import { Outbox } from './outbox.js';
import { finishReconcile } from './reconcile.js';

/** Failures a retry of the same push cannot fix; the next interval or a new image tries again. */
const FINAL_PUSH_ERRORS = ['AuthenticationFailed', 'InvalidRef', 'IllegalPath', 'SourceNotFound', 'CommitTemplateError', 'PushRejected'];

export async function imageUpdateAutomationWorkflow(input: ImageUpdateAutomationInput): Promise<void> {
  const actor = new DeclarationActor(input, 'ImageUpdateAutomation');
  const now = workflowNow;
  const sourceId = (): string => {
    const ref = actor.declaration.spec.sourceRef;
    return gitRepositoryId(ref.namespace, ref.name);
  };
  let status: ImageUpdateAutomationStatus = input.status ?? {
    id: actor.id, generation: actor.generation, observedGeneration: 0, conditions: [], suspended: false, suspendedByCli: false,
    lastHandledReconcileAt: '', lastReconciledAt: 0, source: sourceId(), observedPolicies: {},
  };
  /** Subscribed policies → the image each last told ('' = none yet). */
  const policies = new Map(Object.entries(input.policies ?? {}));
  const outbox = new Outbox((target) => { policies.delete(target); });
  void outbox.run();

  const current = (): ImageUpdateAutomationStatus => ({
    ...status, generation: actor.generation, suspended: actor.suspended, suspendedByCli: actor.suspendedByCli, source: sourceId(),
  });
  setHandler(imageUpdateStatusQuery, () => actor.withWarnings(current()));
  setHandler(latestImageSignal, (e) => {
    const image = e.image ?? '';
    if (policies.has(e.policy) && policies.get(e.policy) !== image) actor.wake();
    policies.set(e.policy, image);
  });
  const setCond = (c: Omit<Condition, 'lastTransitionTime'>): void => {
    status = { ...status, conditions: setCondition(status.conditions, c, now()) };
  };

  for (let first = true; ; first = false) {
    let due = first;
    if (!first) due = (await actor.sleep(actor.declaration.spec.intervalSeconds)) !== 'other';
    if (actor.deleted) {
      for (const p of policies.keys()) outbox.signal(p, unsubscribeSignal, { subscriber: actor.id });
      await condition(() => outbox.idle());
      return;
    }
    const token = actor.takeReconcileRequest();
    if (actor.specChanged) {
      actor.specChanged = false;
      due = true;
    }
    if ((due || token !== undefined) && !actor.suspended) await run();
    if (token !== undefined) status = { ...status, lastHandledReconcileAt: token };
    if (actor.shouldContinueAsNew()) {
      await condition(() => outbox.idle());
      await continueAsNew<typeof imageUpdateAutomationWorkflow>({ ...actor.memory(), status: current(), policies: Object.fromEntries(policies) });
    }
  }

  /** Follows exactly the policies found: new ones are subscribed to (they answer with their image), gone ones dropped. */
  function follow(found: readonly ImagePolicyImage[]): void {
    const ids = new Set(found.map((p) => p.policy));
    for (const p of [...policies.keys()]) {
      if (ids.has(p)) continue;
      policies.delete(p);
      outbox.signal(p, unsubscribeSignal, { subscriber: actor.id });
    }
    for (const p of found) {
      if (!policies.has(p.policy)) outbox.signal(p.policy, subscribeSignal, { subscriber: actor.id });
      policies.set(p.policy, p.image ?? '');
    }
  }

  async function run(): Promise<void> {
    const spec = actor.declaration.spec;
    const generation = actor.generation;
    const finish = (ok: boolean, reason: string, message: string): void => {
      status = finishReconcile(status, { ok, reason, message }, generation);
    };
    setCond({ type: 'Reconciling', status: 'True', reason: 'Progressing', message: 'updating images in git' });
    const { findImagePolicies } = proxyActivities<ImageActivities>(quick);
    const { pushImageUpdates } = proxyActivities<ImageActivities>({
      startToCloseTimeout: '15 minutes', heartbeatTimeout: '30 seconds',
      retry: { initialInterval: '5 seconds', backoffCoefficient: 2, maximumAttempts: 3, nonRetryableErrorTypes: FINAL_PUSH_ERRORS },
    });
    try {
      const found = await findImagePolicies({
        namespace: actor.declaration.namespace, ...(spec.policySelector ? { selector: spec.policySelector } : {}),
      });
      follow(found);
      const withImage = found.filter((p): p is ImagePolicyImage & { image: string } => p.image !== undefined);
      const observedPolicies = Object.fromEntries(withImage.map((p) => [`${p.namespace}/${p.name}`, p.image]));
      status = { ...status, observedPolicies };
      if (withImage.length === 0) {
        finish(true, 'Succeeded', found.length === 0
          ? `no ImagePolicy in namespace ${actor.declaration.namespace}${spec.policySelector ? ' matches spec.policySelector' : ''}: nothing to update`
          : 'no ImagePolicy has a latest image yet: nothing to update');
        return;
      }
      const result = await pushImageUpdates({
        id: actor.id, namespace: actor.declaration.namespace, name: actor.declaration.name, spec,
        images: Object.fromEntries(withImage.map((p) => [`${p.namespace}:${p.name}`, p.image])),
      });
      const previousBase = status.lastBaseCommit;
      status = { ...status, lastAutomationRunTime: now(), lastBaseCommit: result.commit ?? result.baseCommit };
      // A new commit on the GitRepository's branch is fetched now rather than at its interval (a
      // time token, as `flotilla reconcile` sends: a CLI waiting on an earlier one counts it). A
      // branch that moved although nothing was pushed now may hold our own push whose result was
      // lost (the hub died after the push; the retry found the images there): fetch it too.
      const nudge = (): void => { outbox.signal(sourceId(), reconcileSignal, isoTime(now())); };
      if (result.outcome === 'unchanged' || result.commit === undefined) {
        if (result.followsSource && previousBase !== undefined && previousBase !== result.baseCommit) nudge();
        finish(true, 'Succeeded', 'repository up-to-date');
        return;
      }
      status = { ...status, lastPushCommit: result.commit, lastPushTime: now(), lastPushBranch: result.branch };
      if (result.followsSource) nudge();
      const races = result.attempts > 1 ? ` (after ${result.attempts - 1} concurrent push${result.attempts > 2 ? 'es' : ''})` : '';
      finish(true, 'Succeeded', `pushed commit '${result.commit.slice(0, 7)}' to branch '${result.branch}'${races}`);
    } catch (err) {
      const f = activityFailure(err, 'UpdateFailed');
      finish(false, f.reason, f.message);
    }
  }
}
