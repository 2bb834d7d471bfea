// The ImageRepository actor (`imagerepository/<namespace>/<name>`): scans its image's tags
// through the registry API on its interval (or on `flotilla reconcile image repository`),
// keeps the tag list as an artifact (never in the history: a repository may hold thousands
// of tags), and tells its subscribers (ImagePolicies) when the list changed. A failed scan
// keeps the last good list.
import { continueAsNew, proxyActivities, setHandler } from '@temporalio/workflow';
import { sourceArtifactSignal } from '../api/actor.js';
import {
  imageRepositoryStatusQuery, type ImageActivities, type ImageRepositoryInput, type ImageRepositoryStatus, type ImageScan,
} from '../api/image.js';
import { setCondition, type Condition } from '../core/conditions.js';
import { DeclarationActor } from './actor.js';
import { workflowNow } from './clock.js';
import { activityFailure } from './failures.js';
import { Outbox } from './outbox.js';
import { finishReconcile } from './reconcile.js';

/** Errors a retry cannot fix: the next interval (or a new spec) tries again. */
const FINAL_SCAN_ERRORS = ['InvalidImage', 'AuthenticationFailed', 'RepositoryNotFound'];

export async function imageRepositoryWorkflow(input: ImageRepositoryInput): Promise<void> {
  const actor = new DeclarationActor(input, 'ImageRepository');
  const now = workflowNow;
  let status: ImageRepositoryStatus = input.status ?? {
    id: actor.id, generation: actor.generation, observedGeneration: 0, conditions: [], suspended: false, suspendedByCli: false,
    lastHandledReconcileAt: '', lastReconciledAt: 0, image: actor.declaration.spec.image, subscribers: [],
  };
  const outbox = new Outbox((target) => { actor.subscribers.delete(target); });
  void outbox.run();
  const current = (): ImageRepositoryStatus => ({
    ...status, generation: actor.generation, suspended: actor.suspended, suspendedByCli: actor.suspendedByCli,
    subscribers: [...actor.subscribers].sort(),
  });
  setHandler(imageRepositoryStatusQuery, () => actor.withWarnings(current()));
  const setCond = (c: Omit<Condition, 'lastTransitionTime'>): void => {
    status = { ...status, conditions: setCondition(status.conditions, c, now()) };
  };
  const tell = (subscriber: string, scan: ImageScan): void => {
    outbox.signal(subscriber, sourceArtifactSignal, { source: actor.id, revision: scan.tagsDigest, artifactDigest: scan.tagsDigest });
  };
  const tellNewSubscribers = (): void => {
    if (status.lastScan) for (const s of actor.newSubscribers) tell(s, status.lastScan);
    actor.newSubscribers.clear();
  };

  await actor.runSourceLoop({
    interval: () => actor.declaration.spec.intervalSeconds,
    overdue: () => now() - status.lastReconciledAt >= actor.declaration.spec.intervalSeconds * 1000 - 1000,
    tellNewSubscribers,
    reconcile: scan,
    handled: (token) => { status = { ...status, lastHandledReconcileAt: token }; },
    continueAsNew: () => continueAsNew<typeof imageRepositoryWorkflow>({ ...actor.memory(), status: current() }),
  }, outbox);

  async function scan(): Promise<void> {
    const spec = actor.declaration.spec;
    const generation = actor.generation;
    const finish = (ok: boolean, reason: string, message: string): void => {
      status = finishReconcile(status, { ok, reason, message }, generation);
    };
    setCond({ type: 'Reconciling', status: 'True', reason: 'Progressing', message: `scanning ${spec.image}` });
    const { scanImageRepository } = proxyActivities<ImageActivities>({
      startToCloseTimeout: `${spec.timeoutSeconds + 30} seconds`,
      heartbeatTimeout: `${Math.max(spec.timeoutSeconds, 30)} seconds`,
      retry: { initialInterval: '2 seconds', maximumAttempts: 3, nonRetryableErrorTypes: FINAL_SCAN_ERRORS },
    });
    try {
      const result = await scanImageRepository({ id: actor.id, namespace: actor.declaration.namespace, spec });
      const changed = result.tagsDigest !== status.lastScan?.tagsDigest;
      const lastScan: ImageScan = { scanTime: now(), tagCount: result.tagCount, latestTags: result.latestTags, tagsDigest: result.tagsDigest };
      status = { ...status, image: result.image, lastScan };
      // Flux's message: "successful scan: found N tags".
      finish(true, 'Succeeded', `successful scan: found ${result.tagCount} tags${result.excluded > 0 ? ` (${result.excluded} excluded)` : ''}`);
      if (changed) for (const s of actor.subscribers) tell(s, lastScan);
    } catch (err) {
      const f = activityFailure(err, 'ScanFailed');
      finish(false, f.reason, f.message);
    }
  }
}
