// The GitRepository actor (`gitrepository/<namespace>/<name>`): fetches its repository on
// its interval (or on `flotilla reconcile source git`), packs the ignore-filtered tree as
// an artifact, and tells its subscribers (Kustomizations, including GitRepositories) the
// new revision only when it changes. A failed fetch keeps serving the last artifact.
import { condition, continueAsNew, proxyActivities, setHandler } from '@temporalio/workflow';
import { sourceArtifactSignal, subscribeSignal, unsubscribeSignal, type SourceArtifact, type SourceArtifactEvent } from '../api/actor.js';
import {
  gitRepositoryId, gitRepositoryStatusQuery, type GitRepositoryActivities, type GitRepositoryInput,
  type GitRepositoryStatus,
} from '../api/git-repository.js';
import { setCondition, type Condition } from '../core/conditions.js';
import { DeclarationActor, tellAllSubscribers } from './actor.js';
import { workflowNow } from './clock.js';
import { activityFailure } from './failures.js';
import { Outbox } from './outbox.js';
import { finishReconcile } from './reconcile.js';

export async function gitRepositoryWorkflow(input: GitRepositoryInput): Promise<void> {
  const actor = new DeclarationActor(input, 'GitRepository');
  const now = workflowNow;
  let status: GitRepositoryStatus = input.status ?? {
    id: actor.id, generation: actor.generation, observedGeneration: 0, conditions: [], suspended: false, suspendedByCli: false,
    lastHandledReconcileAt: '', lastReconciledAt: 0, url: actor.declaration.spec.url, subscribers: [],
  };
  const included = new Map(Object.entries(input.included ?? {}));
  const outbox = new Outbox((target) => { actor.subscribers.delete(target); }); // a finished subscriber is forgotten
  void outbox.run();

  const current = (): GitRepositoryStatus => ({
    ...status, generation: actor.generation, suspended: actor.suspended, suspendedByCli: actor.suspendedByCli,
    url: actor.declaration.spec.url, subscribers: [...actor.subscribers].sort(),
  });
  setHandler(gitRepositoryStatusQuery, () => actor.withWarnings(current()));
  setHandler(sourceArtifactSignal, (e) => {
    const previous = included.get(e.source);
    included.set(e.source, e);
    if (previous?.revision !== e.revision) actor.wake();
  });
  const setCond = (c: Omit<Condition, 'lastTransitionTime'>): void => {
    status = { ...status, conditions: setCondition(status.conditions, c, now()) };
  };
  const tell = (subscriber: string, artifact: SourceArtifact): void => {
    outbox.signal(subscriber, sourceArtifactSignal, { source: actor.id, revision: artifact.revision, artifactDigest: artifact.artifactDigest });
  };

  // Included repositories tell us their artifacts like any subscriber's source would.
  const includeIds = (): string[] => actor.declaration.spec.include.map((i) => gitRepositoryId(i.repository.namespace, i.repository.name));
  for (const id of includeIds()) outbox.signal(id, subscribeSignal, { subscriber: actor.id });

  for (let first = true; ; first = false) {
    if (!first) {
      await actor.sleep(actor.declaration.spec.intervalSeconds, () => actor.newSubscribers.size > 0);
    }
    if (actor.deleted) {
      for (const id of includeIds()) outbox.signal(id, unsubscribeSignal, { subscriber: actor.id });
      await waitIdle(outbox);
      return;
    }
    // New subscribers learn the current artifact at once, without a fetch.
    if (status.artifact) for (const s of actor.newSubscribers) tell(s, status.artifact);
    actor.newSubscribers.clear();
    if (actor.specChanged) {
      actor.specChanged = false;
      for (const id of includeIds()) outbox.signal(id, subscribeSignal, { subscriber: actor.id });
    }

    const token = actor.takeReconcileRequest();
    const due = first || token !== undefined || status.observedGeneration !== actor.generation
      || now() - status.lastReconciledAt >= actor.declaration.spec.intervalSeconds * 1000 - 1000
      || included.size > 0 && includesChanged(status, included);
    if (due && !actor.suspended) await reconcile();
    if (token !== undefined) status = { ...status, lastHandledReconcileAt: token };

    if (actor.shouldContinueAsNew()) {
      if (status.artifact) for (const s of actor.newSubscribers) tell(s, status.artifact);
      actor.newSubscribers.clear();
      await waitIdle(outbox);
      await continueAsNew<typeof gitRepositoryWorkflow>({ ...actor.memory(), status: current(), included: Object.fromEntries(included) });
    }
  }

  async function reconcile(): Promise<void> {
    const spec = actor.declaration.spec;
    const generation = actor.generation;
    const { fetchGitSource } = proxyActivities<GitRepositoryActivities>({
      startToCloseTimeout: `${spec.timeoutSeconds + 30} seconds`,
      retry: { initialInterval: '2 seconds', maximumAttempts: 2, nonRetryableErrorTypes: ['RefNotFound', 'InvalidRef', 'IllegalPath', 'AuthenticationFailed'] },
    });
    setCond({ type: 'Reconciling', status: 'True', reason: 'Progressing', message: `fetching ${spec.url}` });
    const includes = [];
    for (const inc of spec.include) {
      const art = included.get(gitRepositoryId(inc.repository.namespace, inc.repository.name));
      if (!art) {
        finish(false, 'IncludeUnavailable', `included GitRepository ${inc.repository.namespace}/${inc.repository.name} has no artifact yet`);
        return;
      }
      includes.push({ artifactDigest: art.artifactDigest, fromPath: inc.fromPath, toPath: inc.toPath });
    }
    let news: SourceArtifact | undefined;
    try {
      const result = await fetchGitSource({
        id: actor.id, namespace: actor.declaration.namespace, spec, includes,
        ...(status.artifact ? { lastRevision: status.artifact.revision, lastArtifactDigest: status.artifact.artifactDigest } : {}),
      });
      const changed = result.artifactDigest !== status.artifact?.artifactDigest;
      const artifact: SourceArtifact = { revision: result.revision, artifactDigest: result.artifactDigest, fileCount: result.fileCount, bytes: result.bytes, fetchedAt: now() };
      status = { ...status, artifact, observedGeneration: generation, includedRevisions: Object.fromEntries([...included].map(([k, v]) => [k, v.revision])) };
      finish(true, 'Succeeded', `stored artifact for revision '${result.revision}'`);
      if (changed) news = artifact;
    } catch (err) {
      const f = activityFailure(err, 'GitOperationFailed');
      status = { ...status, observedGeneration: generation };
      finish(false, f.reason, f.message);
    }
    if (news) {
      const told = news;
      const telling = tellAllSubscribers(actor, outbox, { source: actor.id, revision: told.revision, artifactDigest: told.artifactDigest }, (s) => { tell(s, told); });
      if (telling) await telling;
    }
  }

  function finish(ok: boolean, reason: string, message: string): void {
    status = finishReconcile(status, { ok, reason, message });
  }
}

function includesChanged(status: GitRepositoryStatus, included: ReadonlyMap<string, SourceArtifactEvent>): boolean {
  const seen = status.includedRevisions ?? {};
  for (const [id, art] of included) if (seen[id] !== art.revision) return true;
  return false;
}

async function waitIdle(outbox: Outbox): Promise<void> {
  await condition(() => outbox.idle());
}
