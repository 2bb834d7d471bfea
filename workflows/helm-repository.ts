// The HelmRepository actor (`helmrepository/<namespace>/<name>`): fetches the repository's
// index.yaml on its interval, keeps it as an artifact, and tells its subscribers (HelmReleases)
// when the index changed. A failed fetch keeps serving the last index.
import { continueAsNew, proxyActivities, setHandler } from '@temporalio/workflow';
import { sourceArtifactSignal, type SourceArtifact } from '../api/actor.js';
import {
  helmRepositoryStatusQuery, type HelmRepositoryActivities, type HelmRepositoryInput, type HelmRepositoryStatus,
} from '../api/helm-repository.js';
import { setCondition, type Condition } from '../core/conditions.js';
import { DeclarationActor, tellAllSubscribers } from './actor.js';
import { workflowNow } from './clock.js';
import { Outbox } from './outbox.js';
import { finishReconcile } from './reconcile.js';
import { activityFailure } from './failures.js';

export async function helmRepositoryWorkflow(input: HelmRepositoryInput): Promise<void> {
  const actor = new DeclarationActor(input, 'HelmRepository');
  const now = workflowNow;
  let status: HelmRepositoryStatus = input.status ?? {
    id: actor.id, generation: actor.generation, observedGeneration: 0, conditions: [], suspended: false, suspendedByCli: false,
    lastHandledReconcileAt: '', lastReconciledAt: 0, url: actor.declaration.spec.url, subscribers: [],
  };
  const outbox = new Outbox((target) => { actor.subscribers.delete(target); });
  void outbox.run();
  const current = (): HelmRepositoryStatus => ({
    ...status, generation: actor.generation, suspended: actor.suspended, suspendedByCli: actor.suspendedByCli,
    url: actor.declaration.spec.url, subscribers: [...actor.subscribers].sort(),
  });
  setHandler(helmRepositoryStatusQuery, () => actor.withWarnings(current()));
  const setCond = (c: Omit<Condition, 'lastTransitionTime'>): void => {
    status = { ...status, conditions: setCondition(status.conditions, c, now()) };
  };
  const tell = (subscriber: string, artifact: SourceArtifact): void => {
    outbox.signal(subscriber, sourceArtifactSignal, { source: actor.id, revision: artifact.revision, artifactDigest: artifact.artifactDigest });
  };
  const tellNewSubscribers = (): void => {
    if (status.artifact) for (const s of actor.newSubscribers) tell(s, status.artifact);
    actor.newSubscribers.clear();
  };

  await actor.runSourceLoop({
    interval: () => actor.declaration.spec.intervalSeconds,
    overdue: () => now() - status.lastReconciledAt >= actor.declaration.spec.intervalSeconds * 1000 - 1000,
    tellNewSubscribers,
    reconcile: reconcile,
    handled: (token) => { status = { ...status, lastHandledReconcileAt: token }; },
    continueAsNew: () => continueAsNew<typeof helmRepositoryWorkflow>({ ...actor.memory(), status: current() }),
  }, outbox);

  async function reconcile(): Promise<void> {
    const spec = actor.declaration.spec;
    const generation = actor.generation;
    const finish = (ok: boolean, reason: string, message: string): void => {
      status = finishReconcile(status, { ok, reason, message }, generation);
    };
    if (spec.type === 'oci') {
      // OCI repositories have no index: HelmReleases pull the chart by reference at render time.
      finish(false, 'NotSupported', 'type: oci HelmRepositories are not supported yet (use an HTTP(S) chart repository or a GitRepository chart)');
      return;
    }
    setCond({ type: 'Reconciling', status: 'True', reason: 'Progressing', message: `fetching ${spec.url}/index.yaml` });
    const { fetchHelmRepository } = proxyActivities<HelmRepositoryActivities>({
      startToCloseTimeout: `${spec.timeoutSeconds + 30} seconds`,
      retry: { initialInterval: '2 seconds', maximumAttempts: 2, nonRetryableErrorTypes: ['AuthenticationFailed'] },
    });
    let news: SourceArtifact | undefined;
    try {
      const result = await fetchHelmRepository({
        id: actor.id, namespace: actor.declaration.namespace, url: spec.url, timeoutSeconds: spec.timeoutSeconds,
        ...(spec.secretRef !== undefined ? { secretRef: spec.secretRef } : {}),
      });
      const changed = result.indexDigest !== status.artifact?.artifactDigest;
      const artifact: SourceArtifact = { revision: result.indexDigest, artifactDigest: result.indexDigest, fileCount: result.charts, bytes: 0, fetchedAt: now() };
      status = { ...status, artifact };
      finish(true, 'Succeeded', `stored artifact: revision '${result.indexDigest}' (${result.charts} charts)`);
      if (changed) news = artifact;
    } catch (err) {
      const f = activityFailure(err, 'IndexationFailed');
      finish(false, f.reason, f.message);
    }
    if (news) {
      const told = news;
      const telling = tellAllSubscribers(actor, outbox, { source: actor.id, revision: told.revision, artifactDigest: told.artifactDigest }, (s) => { tell(s, told); });
      if (telling) await telling;
    }
  }
}
