// The ImagePolicy actor (`imagepolicy/<namespace>/<name>`): follows one ImageRepository and,
// whenever its tag list (or the policy) changes, picks the latest image by the policy's rule
// (an activity reads the list from the artifact store). It tells its subscribers
// (ImageUpdateAutomations) when the latest image changes, and new subscribers at once.
import { condition, continueAsNew, proxyActivities, setHandler } from '@temporalio/workflow';
import { sourceArtifactSignal, subscribeSignal, unsubscribeSignal } from '../api/actor.js';
import {
  imagePolicyStatusQuery, imageRepositoryId, latestImageSignal, type ImageActivities, type ImagePolicyInput,
  type ImagePolicyStatus,
} from '../api/image.js';
import { setCondition, type Condition } from '../core/conditions.js';
import { DeclarationActor } from './actor.js';
import { quick } from './activity-profiles.js';
import { workflowNow } from './clock.js';
import { activityFailure } from './failures.js';
import { Outbox } from './outbox.js';
import { finishReconcile } from './reconcile.js';

/** How often a policy whose ImageRepository does not exist (yet) subscribes again. */
const MISSING_REPOSITORY_RETRY_SECONDS = 30;
/** Subscriptions are renewed this often anyway (a repository re-created meanwhile forgets its subscribers). */
const RESUBSCRIBE_SECONDS = 600;

export async function imagePolicyWorkflow(input: ImagePolicyInput): Promise<void> {
  const actor = new DeclarationActor(input, 'ImagePolicy');
  const now = workflowNow;
  const repositoryId = (): string => {
    const ref = actor.declaration.spec.imageRepositoryRef;
    return imageRepositoryId(ref.namespace, ref.name);
  };
  let status: ImagePolicyStatus = input.status ?? {
    id: actor.id, generation: actor.generation, observedGeneration: 0, conditions: [], suspended: false, suspendedByCli: false,
    lastHandledReconcileAt: '', lastReconciledAt: 0, repository: repositoryId(), subscribers: [],
  };
  let tags = input.tags;
  let subscribedTo = '';
  const repository$ = { missing: false };
  const outbox = new Outbox((target) => {
    if (target === subscribedTo) repository$.missing = true;
    actor.subscribers.delete(target);
  });
  void outbox.run();

  const current = (): ImagePolicyStatus => ({
    ...status, generation: actor.generation, suspended: actor.suspended, suspendedByCli: actor.suspendedByCli,
    repository: repositoryId(), subscribers: [...actor.subscribers].sort(),
  });
  setHandler(imagePolicyStatusQuery, () => actor.withWarnings(current()));
  setHandler(sourceArtifactSignal, (e) => {
    if (e.source !== repositoryId()) return; // from a repository we no longer follow
    if (tags?.artifactDigest !== e.artifactDigest) actor.wake();
    tags = e;
  });
  const setCond = (c: Omit<Condition, 'lastTransitionTime'>): void => {
    status = { ...status, conditions: setCondition(status.conditions, c, now()) };
  };
  const tell = (subscriber: string): void => {
    outbox.signal(subscriber, latestImageSignal, { policy: actor.id, ...(status.latestImage !== undefined ? { image: status.latestImage } : {}) });
  };
  const subscribe = (): void => {
    if (subscribedTo !== '' && subscribedTo !== repositoryId()) {
      outbox.signal(subscribedTo, unsubscribeSignal, { subscriber: actor.id });
      tags = undefined;
    }
    subscribedTo = repositoryId();
    repository$.missing = false;
    outbox.signal(subscribedTo, subscribeSignal, { subscriber: actor.id });
  };

  subscribe();
  let lastSubscribe = now();
  for (let first = true; ; first = false) {
    if (!first) {
      const wait = repository$.missing ? MISSING_REPOSITORY_RETRY_SECONDS : RESUBSCRIBE_SECONDS;
      await actor.sleep(wait, () => actor.newSubscribers.size > 0);
    }
    if (actor.deleted) {
      if (subscribedTo !== '') outbox.signal(subscribedTo, unsubscribeSignal, { subscriber: actor.id });
      await condition(() => outbox.idle());
      return;
    }
    for (const s of actor.newSubscribers) tell(s);
    actor.newSubscribers.clear();
    if (actor.specChanged || repository$.missing || now() - lastSubscribe >= RESUBSCRIBE_SECONDS * 1000) {
      subscribe();
      lastSubscribe = now();
    }
    const token = actor.takeReconcileRequest();
    const stale = tags !== undefined && (tags.artifactDigest !== status.basedOn?.tagsDigest || status.observedGeneration !== actor.generation);
    actor.specChanged = false;
    if (!actor.suspended && (stale || token !== undefined)) await evaluate();
    else if (tags === undefined) waitingForTags();
    if (token !== undefined) status = { ...status, lastHandledReconcileAt: token };
    if (actor.shouldContinueAsNew()) {
      for (const s of actor.newSubscribers) tell(s);
      actor.newSubscribers.clear();
      await condition(() => outbox.idle());
      await continueAsNew<typeof imagePolicyWorkflow>({ ...actor.memory(), status: current(), ...(tags ? { tags } : {}) });
    }
  }

  function waitingForTags(): void {
    const ref = actor.declaration.spec.imageRepositoryRef;
    const message = repository$.missing
      ? `ImageRepository ${ref.namespace}/${ref.name} does not exist (apply it; checking again every ${MISSING_REPOSITORY_RETRY_SECONDS}s)`
      : `waiting for ImageRepository ${ref.namespace}/${ref.name} to scan its tags`;
    setCond({ type: 'Ready', status: 'False', reason: repository$.missing ? 'DependencyNotReady' : 'Progressing', message });
  }

  async function evaluate(): Promise<void> {
    if (tags === undefined) {
      waitingForTags();
      return;
    }
    const spec = actor.declaration.spec;
    const generation = actor.generation;
    const basis = tags;
    const { selectImage } = proxyActivities<ImageActivities>({ ...quick, retry: { ...quick.retry, nonRetryableErrorTypes: ['InvalidPolicy'] } });
    const finish = (ok: boolean, reason: string, message: string): void => {
      status = finishReconcile(status, { ok, reason, message }, generation);
    };
    try {
      const result = await selectImage({
        id: actor.id, tagsDigest: basis.artifactDigest, policy: spec.policy, ...(spec.filterTags ? { filterTags: spec.filterTags } : {}),
      });
      status = { ...status, basedOn: { tagsDigest: basis.artifactDigest, candidates: result.candidates, evaluatedAt: now() } };
      if ('none' in result) {
        // The last image stays: automations keep what they committed, nothing new is chosen.
        finish(false, 'NoMatchingTag', `no tag matches the policy: ${result.none}`);
        return;
      }
      const previous = status.latestImage;
      if (previous !== result.image) {
        status = { ...status, latestImage: result.image, ...(previous !== undefined ? { previousImage: previous } : {}) };
        for (const s of actor.subscribers) tell(s);
      }
      // Flux's message.
      finish(true, 'Succeeded', previous !== undefined && previous !== result.image
        ? `Latest image tag for '${result.image.slice(0, result.image.length - result.tag.length - 1)}' updated from ${tagOf(previous)} to ${result.tag}`
        : `Latest image tag for '${result.image.slice(0, result.image.length - result.tag.length - 1)}' resolved to ${result.tag}`);
    } catch (err) {
      const f = activityFailure(err, 'ReconciliationFailed');
      finish(false, f.reason, f.message);
    }
  }
}

function tagOf(image: string): string {
  const colon = image.lastIndexOf(':');
  return colon > image.lastIndexOf('/') ? image.slice(colon + 1) : image;
}
