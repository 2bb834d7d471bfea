// The Kustomization actor (`kustomization/<namespace>/<name>`): Flux's kustomize-controller
// loop, for every cluster its placement selects. On a new source revision, its interval, a
// dependency becoming Ready or `flotilla reconcile`, it builds the manifests once (an
// activity, cached by revision + path + options), sets the deployment on each placed
// cluster actor, and waits for the agents' reports. A build error stalls it with
// kustomize's message while the clusters keep the last good revision.
//
// With `spec.rollout`, a new build does not go to every cluster at once: a rollout workflow
// (rollout.ts) moves it through the clusters in waves, and this actor carries out its steps
// (RolloutDriver). A target whose rollout failed is not tried again until `flotilla rollout
// retry` or a newer build; a newer build mid-rollout supersedes it at the next wave boundary.
import { condition, continueAsNew, patched, proxyActivities, setHandler, sleep } from '@temporalio/workflow';
import type { BuildKustomizationResult, HubActivities } from '../activities/hub-types.js';
import { isReady as isReadyCondition, setCondition, type Condition } from '../core/conditions.js';
import type { KustomizationDeclaration } from '../core/declarations/types.js';
import { adoptionContext, type AdoptionContext } from '../core/declarations/scope.js';
import { placedClusters } from '../core/placement.js';
import { planRollout } from '../core/rollout-plan.js';
import { unmetDependencies } from '../core/dependencies.js';
import { renderSafety } from '../core/render-safety.js';
import { ACCESS_DENIED_REASON, DEFAULT_TENANCY, crossNamespaceRefusal, defaultNamespaceFor, impersonationFor, type TenancySettings } from '../core/tenancy.js';
import type { TenancyActivities } from '../activities/tenancy.js';
import { DeclarationActor, type ActorMemory } from './actor.js';
import { quick } from './activity-profiles.js';
import { workflowNow } from './clock.js';
import { activityFailure } from './failures.js';
import {
  clusterReportSignal, dependencyStatusSignal, kustomizationStatusQuery, sourceArtifactSignal,
  subscribeSignal, unsubscribeSignal,
  type ClusterDeploymentStatus, type DependencyStatus, type DeploymentOptions, type KustomizationStatus,
  type ReportSummary, type RolloutFinished, type SourceArtifactEvent,
} from './messages.js';
import { Outbox } from './outbox.js';
import { finishReconcile, REPORT_GRACE_SECONDS, TERMINAL, type Done } from './reconcile.js';
import { failedRolloutMessage, RolloutDriver, rolloutVerdict, type StepAnswer } from './rollout-driver.js';

/** What the Kustomization set on one cluster. */
interface Deployed {
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

const { listClusters, setClusterDeployment, clearClusterDeployment, applyHubDeclarations, deleteHubDeclarations, declarationsNotReady } =
  proxyActivities<HubActivities>(quick);
const { tenancySettings } = proxyActivities<TenancyActivities>(quick);
const { buildKustomization } = proxyActivities<HubActivities>({
  startToCloseTimeout: '5 minutes',
  retry: { initialInterval: '2 seconds', maximumAttempts: 3, nonRetryableErrorTypes: ['BuildFailed'] },
});

export function kustomizationId(namespace: string, name: string): string {
  return `kustomization/${namespace}/${name}`;
}

export async function kustomizationWorkflow(input: KustomizationInput): Promise<void> {
  const actor = new DeclarationActor(input, 'Kustomization');
  const now = workflowNow;
  const spec = (): KustomizationDeclaration['spec'] => actor.declaration.spec;
  const sourceId = (): string => `gitrepository/${spec().sourceRef.namespace}/${spec().sourceRef.name}`;
  /** Flux's dependency rule (revision, observed generation) and Ready=Unknown while reconciling; older histories predate both. */
  const fluxDependencyRule = (): boolean => patched('flux-dependency-rule');
  const dependencyIds = (): string[] => spec().dependsOn.map((d) => kustomizationId(d.namespace, d.name));
  /** Tenants, Flux's way (core/tenancy.ts): impersonation, namespace-less objects, cross-namespace refs; older histories predate it. */
  const tenancyRules = (): boolean => patched('flotilla-tenancy');
  /**
   * A new identity or default namespace (spec.serviceAccountName, tenancy.defaultServiceAccount
   * after a hub restart) reaches the clusters already at the build, as Flux applies a changed
   * spec.serviceAccountName at once; older histories kept those clusters' options until the next build.
   */
  const identityFollowsSpec = (): boolean => patched('flotilla-tenancy-identity-change');
  /** The hub's tenancy settings as last read (each reconcile reads them again). */
  let tenancy: TenancySettings = DEFAULT_TENANCY;

  let status: KustomizationStatus = input.status ?? {
    id: actor.id, generation: actor.generation, observedGeneration: 0, conditions: [], suspended: false, suspendedByCli: false,
    lastHandledReconcileAt: '', lastReconciledAt: 0, source: sourceId(), sourceRevision: '', lastAppliedRevision: '', lastAttemptedRevision: '',
    placed: [], clusters: [], declarations: [],
  };
  let source = input.source;
  /** Set by the outbox when the source or a dependency does not exist (yet): re-subscribe on the next pass. */
  const missing = { source: false, dependency: false };
  const dependencies = new Map(Object.entries(input.dependencies ?? {}));
  const reports = new Map(Object.entries(input.reports ?? {}));
  const deployed = new Map(Object.entries(input.deployed ?? {}));
  /** Set while a reconcile waits on dependencies: a dependency's change then wakes us. */
  let waitingOnDependencies = false;

  const outbox = new Outbox((target) => {
    if (target === sourceId()) missing.source = true;
    // A dependency declared after us (a build adopts them in its own order): subscribe again on the next wake.
    if (dependencyIds().includes(target)) missing.dependency = true;
    actor.subscribers.delete(target);
  });
  void outbox.run();
  const rollouts = new RolloutDriver(actor.id, outbox, {
    ...(status.rollout ? { tracking: status.rollout } : {}),
    onTracking: (rollout) => { status = { ...status, rollout }; },
    wake: () => { actor.wake(); },
  });

  const current = (): KustomizationStatus => ({
    ...status, generation: actor.generation, suspended: actor.suspended, suspendedByCli: actor.suspendedByCli, source: sourceId(),
    sourceRevision: source?.revision ?? '',
  });
  const setCond = (c: Omit<Condition, 'lastTransitionTime'>): void => {
    status = { ...status, conditions: setCondition(status.conditions, c, now()) };
  };
  const readyClusters = (): string[] => status.clusters.filter((c) => c.ready === 'True').map((c) => c.cluster);
  const dependencyStatus = (): DependencyStatus => ({
    id: actor.id, ready: isReady(), readyClusters: readyClusters(), revision: status.lastAppliedRevision, deleted: false,
    // What Flux's dependency rule also reads (core/dependencies.ts); histories from before it lack both.
    ...(fluxDependencyRule() ? { sourceId: sourceId(), generationObserved: status.observedGeneration === actor.generation } : {}),
  });
  const isReady = (): boolean => isReadyCondition(status.conditions);
  /** Tells dependents when readiness changed, and new subscribers in any case. */
  const tellDependents = (): void => {
    const next = dependencyStatus();
    actor.tellDependents(outbox, next);
  };
  const subscribe = (): void => {
    missing.source = false;
    missing.dependency = false;
    outbox.signal(sourceId(), subscribeSignal, { subscriber: actor.id });
    for (const d of dependencyIds()) outbox.signal(d, subscribeSignal, { subscriber: actor.id });
  };

  setHandler(kustomizationStatusQuery, () => actor.withWarnings(current()));
  setHandler(sourceArtifactSignal, (e) => {
    if (e.source !== sourceId()) return;
    // A new digest at the same revision happens too: an included repository changed.
    const changed = e.artifactDigest !== source?.artifactDigest;
    source = e;
    if (changed || e.revision !== status.lastAttemptedRevision || status.observedGeneration !== actor.generation) actor.wake();
  });
  setHandler(dependencyStatusSignal, (d) => {
    dependencies.set(d.id, d);
    if (waitingOnDependencies) actor.wake();
  });
  setHandler(clusterReportSignal, ({ cluster, report }) => {
    const previous = reports.get(cluster);
    if (previous && previous.generation > report.generation) return;
    reports.set(cluster, report);
    const at = deployed.get(cluster);
    if (rollouts.running && at && report.generation === at.generation && TERMINAL.has(report.phase) && report.phase !== 'READY') {
      rollouts.health(cluster, false, report.message);
    }
    // Reports after the reconcile (drift corrected, agent re-applied after a restart) keep the status current.
    const d = deployed.get(cluster);
    if (d && report.generation === d.generation && TERMINAL.has(report.phase) && status.placed.includes(cluster)) {
      updateClusters(status.placed);
      tellDependents();
    }
  });

  return actor.runDeploymentLoop({
    interval: nextInterval, subscribe, reconcile, finalize, tellDependents,
    onWake: () => {
      if (missing.source || missing.dependency) subscribe(); // the source or a dependency may exist by now
      tellDependents();
      return Promise.resolve();
    },
    handled: (token) => { status = { ...status, lastHandledReconcileAt: token }; },
    continueAsNew: () => continueAsNew<typeof kustomizationWorkflow>({
      ...actor.memory(), status: current(), ...(source ? { source } : {}),
      dependencies: Object.fromEntries(dependencies), reports: Object.fromEntries(reports), deployed: Object.fromEntries(deployed),
    }),
  }, outbox);

  function nextInterval(): number {
    return isReady() ? spec().intervalSeconds : spec().retryIntervalSeconds;
  }

  async function reconcile(): Promise<void> {
    const generation = actor.generation;
    setCond({ type: 'Reconciling', status: 'True', reason: 'Progressing', message: 'reconciliation in progress' });
    // As Flux (kustomize-controller kustomization_controller.go reconcile(), helm-controller
    // atomic release): Ready is Unknown while a reconcile, its waits included, is in progress;
    // True only once all of it succeeded.
    if (fluxDependencyRule()) setCond({ type: 'Ready', status: 'Unknown', reason: 'Progressing', message: 'Reconciliation in progress' });
    const done: Done = (ok, reason, message, stalled = false) => {
      status = finishReconcile(status, { ok, reason, message, stalled }, generation);
    };
    waitingOnDependencies = false;

    if (tenancyRules()) {
      // As kustomize-controller getSource() with --no-cross-namespace-refs: refused before the
      // source is read, Stalled until the spec (or the hub's setting) changes.
      tenancy = await tenancySettings();
      const d = actor.declaration;
      const refused = crossNamespaceRefusal({ kind: 'Kustomization', namespace: d.namespace, name: d.name }, 'spec.sourceRef', spec().sourceRef, tenancy);
      if (refused !== undefined) {
        done(false, ACCESS_DENIED_REASON, refused, true);
        return;
      }
    }

    if (!source) {
      done(false, 'ArtifactFailed', `Source artifact not found: GitRepository/${spec().sourceRef.namespace}/${spec().sourceRef.name} ${missing.source ? 'does not exist' : 'has no artifact yet'}`);
      return;
    }
    const revision = source.revision;
    const hub = spec().placement.hub;
    const registered = hub ? [] : await listClusters();
    const placedAll = hub ? [] : placedClusters(spec().placement, registered);
    const strategy = spec().rollout;
    // With a rollout strategy, the clusters no wave selects are left alone (the rollout status lists them).
    const placed = strategy ? planRollout(strategy.waves, registered.filter((c) => placedAll.includes(c.name))).waves.flatMap((w) => w.clusters) : placedAll;

    const blocking = blockingDependencies(placed, revision);
    if (blocking.length > 0) {
      waitingOnDependencies = true;
      // Flux's words: "dependency '<ns>/<name>' revision is not up to date"; older histories said it their way.
      done(false, 'DependencyNotReady', fluxDependencyRule() ? blocking.join('; ') : `dependencies not ready: ${blocking.join('; ')}`);
      return;
    }

    status = { ...status, lastAttemptedRevision: revision };
    const adoption = adoptionContext(actor.declaration);
    let build: BuildKustomizationResult;
    try {
      build = await buildKustomization({ id: actor.id, namespace: actor.declaration.namespace, sourceDigest: source.artifactDigest, revision, spec: spec(), adoption });
    } catch (err) {
      done(false, 'BuildFailed', activityFailure(err, 'BuildFailed').message, true);
      return;
    }
    status = {
      ...status,
      lastBuild: {
        revision, artifactDigest: build.artifactDigest, objectCount: build.objectCount,
        ...(build.declarations ? { adopted: build.declarations.count } : {}),
        ...(build.skipped ? { skipped: build.skipped } : {}),
        ...(build.notices ? { notices: build.notices } : {}),
      },
    };

    if (hub) {
      try {
        const applied = await applyHubDeclarations({ owner: actor.id, adoption, artifactDigest: build.artifactDigest, previous: status.declarations, prune: spec().prune });
        status = { ...status, declarations: applied.declarations, lastAppliedRevision: revision };
        done(true, 'ReconciliationSucceeded', `Applied revision: ${revision} (${applied.declarations.length} declarations: ${applied.created} created, ${applied.configured} configured, ${applied.unchanged} unchanged, ${applied.deleted} deleted)`);
      } catch (err) {
        done(false, 'ReconciliationFailed', activityFailure(err, 'ReconciliationFailed').message);
      }
      return;
    }

    // Clusters that left the placement lose the deployment (the agent prunes when spec.prune).
    for (const cluster of [...deployed.keys()].filter((c) => !placedAll.includes(c))) {
      await clearClusterDeployment({ cluster, name: actor.id });
      deployed.delete(cluster);
    }
    const options = deploymentOptions();
    status = { ...status, placed };
    if (strategy) {
      const decision = rollouts.decide(build.artifactDigest, placed.filter((c) => deployed.get(c)?.artifactDigest !== build.artifactDigest).length);
      const tracked = rollouts.tracking;
      if (decision === 'failed' && tracked) {
        updateClusters(placed);
        done(false, 'RolloutFailed', failedRolloutMessage(tracked, actor.id, 'push a new revision'));
        return;
      }
      if (decision === 'rollout') {
        const finished = await rollOut(registered.filter((c) => placed.includes(c.name)), build.artifactDigest, revision, options);
        updateClusters(placed);
        const adoptFailed = await adopt(build, adoption);
        if (adoptFailed !== undefined) {
          done(false, 'ReconciliationFailed', adoptFailed);
          return;
        }
        if (finished.phase === 'Succeeded') status = { ...status, lastAppliedRevision: revision };
        const verdict = rolloutVerdict(finished, revision, `Applied revision: ${revision}`);
        done(verdict.ok, verdict.reason, verdict.message);
        return;
      }
    }
    // The clusters already at this build keep the options they got it with (a rollout's health
    // timeout), unless whom it is applied as or where namespace-less objects go changed.
    const optionsFor = (cluster: string): DeploymentOptions => {
      const kept = deployed.get(cluster)?.artifactDigest === build.artifactDigest ? deployed.get(cluster)?.options : undefined;
      if (kept === undefined) return options;
      if (identityFollowsSpec() && (kept.impersonate !== options.impersonate || kept.defaultNamespace !== options.defaultNamespace)) return options;
      return kept;
    };
    const clusterOptions = placed.map(optionsFor);
    const results = await Promise.all(placed.map((cluster, i) => setClusterDeployment({
      cluster, name: actor.id, owner: actor.id, artifactDigest: build.artifactDigest, options: clusterOptions[i] ?? options,
    })));
    placed.forEach((cluster, i) => {
      const r = results[i];
      if (r) deployed.set(cluster, { generation: r.generation, artifactDigest: build.artifactDigest, revision, options: clusterOptions[i] ?? options });
    });

    const waitSeconds = (options.healthTimeoutSeconds > 0 ? options.healthTimeoutSeconds : spec().timeoutSeconds) + REPORT_GRACE_SECONDS;
    await condition(() => placed.every(settled) || actor.deleted, waitSeconds * 1000);
    updateClusters(placed);
    const adoptFailed = await adopt(build, adoption);
    if (adoptFailed !== undefined) {
      done(false, 'ReconciliationFailed', adoptFailed);
      return;
    }
    const notReady = status.clusters.filter((c) => c.ready !== 'True');
    if (notReady.length === 0 && options.healthTimeoutSeconds > 0) {
      const pending = await waitForAdopted(placed, options.healthTimeoutSeconds);
      if (pending.length > 0) {
        done(false, 'HealthCheckFailed', `adopted declarations not ready after ${options.healthTimeoutSeconds}s: ${pending.join('; ')}`);
        return;
      }
    }
    if (notReady.length === 0) {
      status = { ...status, lastAppliedRevision: revision };
      const clusters = placed.length === 0 ? 'no cluster matches the placement' : `${placed.length} cluster${placed.length === 1 ? '' : 's'}`;
      const adopted = status.declarations.length > 0 ? `; ${status.declarations.length} declaration${status.declarations.length === 1 ? '' : 's'} on the hub` : '';
      const where = `${clusters}${adopted}`;
      done(true, 'ReconciliationSucceeded', `Applied revision: ${revision} (${where})`);
    } else {
      const reason = notReady.every((c) => c.reason === 'HealthCheckFailed') ? 'HealthCheckFailed'
        : notReady.every((c) => c.reason === 'ClusterUnreachable') ? 'ClusterUnreachable' : 'ReconciliationFailed';
      done(false, reason, notReady.map((c) => `${c.cluster}: ${c.message}`).join('; '));
    }
  }

  /** Runs a rollout of `target` over the placed clusters, carrying out its steps. */
  async function rollOut(
    placed: readonly { name: string; labels: Readonly<Record<string, string>> }[], target: string, revision: string, options: DeploymentOptions,
  ): Promise<RolloutFinished> {
    const strategy = spec().rollout;
    if (!strategy) throw new Error('rollOut without a strategy');
    const before = new Map(placed.map((c) => [c.name, deployed.get(c.name)]));
    const sourceDigestAtStart = source?.artifactDigest;
    setCond({ type: 'Reconciling', status: 'True', reason: 'Progressing', message: `rolling out ${revision} (flotilla rollout status kustomization/${actor.declaration.namespace}/${actor.declaration.name})` });
    const waitFor = async (cluster: string, healthTimeoutSeconds: number): Promise<StepAnswer> => {
      const ok = await condition(() => settled(cluster) || actor.deleted, (healthTimeoutSeconds + REPORT_GRACE_SECONDS) * 1000);
      updateClusters(status.placed);
      const c = status.clusters.find((x) => x.cluster === cluster);
      const d = deployed.get(cluster);
      return { ok: ok && c?.ready === 'True', revision: d?.revision ?? '', message: c?.message ?? '' };
    };
    const finished = await rollouts.run({
      ownerKind: 'Kustomization', revision, target, strategy,
      clusters: placed.map((c) => ({ name: c.name, labels: c.labels })),
      atTarget: placed.filter((c) => deployed.get(c.name)?.artifactDigest === target).map((c) => c.name),
      previous: Object.fromEntries(placed.map((c) => [c.name, before.get(c.name)?.revision ?? ''])),
      defaultHealthTimeoutSeconds: spec().timeoutSeconds,
    }, {
      advance: async (cluster, { healthTimeoutSeconds, attempt }) => {
        const stepOptions = { ...options, healthTimeoutSeconds };
        const r = await setClusterDeployment({ cluster, name: actor.id, owner: actor.id, artifactDigest: target, options: stepOptions, attempt });
        deployed.set(cluster, { generation: r.generation, artifactDigest: target, revision, options: stepOptions });
        return waitFor(cluster, healthTimeoutSeconds);
      },
      revert: async (cluster) => {
        const previous = before.get(cluster);
        if (!previous) {
          await clearClusterDeployment({ cluster, name: actor.id });
          deployed.delete(cluster);
          reports.delete(cluster);
          return { ok: true, revision: '', message: 'removed (the cluster had no earlier revision)' };
        }
        const previousOptions = previous.options ?? options;
        const r = await setClusterDeployment({ cluster, name: actor.id, owner: actor.id, artifactDigest: previous.artifactDigest, options: previousOptions });
        deployed.set(cluster, { ...previous, generation: r.generation, options: previousOptions });
        return waitFor(cluster, previousOptions.healthTimeoutSeconds > 0 ? previousOptions.healthTimeoutSeconds : spec().timeoutSeconds);
      },
      newer: () => (source && source.artifactDigest !== sourceDigestAtStart ? source.revision : actor.specChanged ? `generation ${actor.generation}` : undefined),
      deleted: () => actor.deleted,
    });
    return finished;
  }

  /**
   * The Flux objects of the build become hub declarations placed like this one; gone ones are
   * pruned. After the clusters have the plain objects, as Flux's controllers see a HelmRelease
   * only once the Namespace beside it is applied. The build was validated (cycles, invalid
   * objects) before any cluster was touched. Returns why it failed, if it did.
   */
  async function adopt(build: BuildKustomizationResult, adoption: AdoptionContext): Promise<string | undefined> {
    if (!build.declarations && status.declarations.length === 0) return undefined;
    try {
      const applied = await applyHubDeclarations({
        owner: actor.id, adoption, previous: status.declarations, prune: spec().prune,
        ...(build.declarations ? { artifactDigest: build.declarations.artifactDigest } : {}),
      });
      status = { ...status, declarations: applied.declarations };
      return undefined;
    } catch (err) {
      return activityFailure(err, 'ReconciliationFailed').message;
    }
  }

  /**
   * With wait (or healthChecks), Flux waits for the Flux objects it applied to be Ready, as
   * for any object: the adopted Kustomizations and HelmReleases, at their current generation,
   * on every placed cluster. Polled (1 s doubling to 10 s) until the health timeout; returns
   * what is still not Ready.
   */
  async function waitForAdopted(placed: readonly string[], timeoutSeconds: number): Promise<string[]> {
    const ids = status.declarations.filter((id) => id.startsWith('kustomization/') || id.startsWith('helmrelease/'));
    if (ids.length === 0) return [];
    const deadline = now() + timeoutSeconds * 1000;
    for (let delay = 1; ; delay = Math.min(delay * 2, 10)) {
      const pending = await declarationsNotReady({ ids, clusters: placed });
      if (pending.length === 0 || actor.deleted || now() >= deadline) return actor.deleted ? [] : pending;
      setCond({ type: 'Reconciling', status: 'True', reason: 'Progressing', message: `waiting for ${pending.join('; ')}` });
      await sleep(Math.min(delay * 1000, Math.max(deadline - now(), 1)));
    }
  }

  function settled(cluster: string): boolean {
    const d = deployed.get(cluster);
    const r = reports.get(cluster);
    return d !== undefined && r !== undefined && r.generation >= d.generation && TERMINAL.has(r.phase);
  }

  function updateClusters(placed: readonly string[]): void {
    const clusters = placed.map((cluster): ClusterDeploymentStatus => {
      const d = deployed.get(cluster);
      const r = reports.get(cluster);
      const base = { cluster, generation: d?.generation ?? 0, revision: d?.revision ?? '', artifactDigest: d?.artifactDigest ?? '' };
      if (!d || !r || r.generation < d.generation || !TERMINAL.has(r.phase)) {
        const previous = status.clusters.find((c) => c.cluster === cluster);
        return { ...base, ready: 'Unknown', reason: 'ClusterUnreachable', message: `no report for generation ${d?.generation ?? 0} yet (agent disconnected or still applying)`, counts: previous?.counts ?? {}, updatedAt: previous?.updatedAt ?? 0 };
      }
      const ready = r.phase === 'READY';
      const reason = ready ? 'ReconciliationSucceeded' : r.phase === 'UNHEALTHY' ? 'HealthCheckFailed' : 'ReconciliationFailed';
      return { ...base, ready: ready ? 'True' : 'False', reason, message: r.message, counts: r.counts, updatedAt: r.finishedAt };
    });
    status = { ...status, clusters };
    // A cluster that turned unhealthy after the reconcile makes the Kustomization not Ready.
    if (!clusters.every((c) => c.ready === 'True') && isReady()) {
      const bad = clusters.filter((c) => c.ready !== 'True');
      setCond({ type: 'Ready', status: 'False', reason: bad[0]?.reason ?? 'ReconciliationFailed', message: bad.map((c) => `${c.cluster}: ${c.message}`).join('; ') });
    }
  }

  function blockingDependencies(placed: readonly string[], revision: string): string[] {
    if (fluxDependencyRule()) return unmetDependencies(dependencyIds(), dependencies, { kind: 'Kustomization', sourceId: sourceId(), revision, placed });
    return dependencyIds().flatMap((id) => {
      const d = dependencies.get(id);
      const name = id.replace(/^kustomization\//, '');
      if (!d || d.deleted) return [`'${name}' not found`];
      if (!d.ready) return [`'${name}' is not ready`];
      const missing = placed.filter((c) => !d.readyClusters.includes(c));
      return missing.length > 0 ? [`'${name}' is not ready on ${missing.join(', ')}`] : [];
    });
  }

  function deploymentOptions(): DeploymentOptions {
    const s = spec();
    const wait = s.wait || s.healthChecks.length > 0;
    if (tenancyRules()) {
      // Objects naming no namespace go to the targetNamespace, else the Kustomization's own
      // (never `default`); applied as spec.serviceAccountName or tenancy.defaultServiceAccount.
      const impersonate = impersonationFor({ namespace: actor.declaration.namespace, serviceAccountName: s.serviceAccountName }, tenancy);
      return {
        prune: s.prune, force: s.force, correctDrift: true,
        defaultNamespace: defaultNamespaceFor({ namespace: actor.declaration.namespace, targetNamespace: s.targetNamespace }),
        healthTimeoutSeconds: wait ? s.timeoutSeconds : 0,
        ...renderSafety(actor.declaration.annotations),
        ...(impersonate !== undefined ? { impersonate } : {}),
      };
    }
    return {
      prune: s.prune, force: s.force, correctDrift: true, defaultNamespace: s.targetNamespace ?? 'default',
      healthTimeoutSeconds: wait ? s.timeoutSeconds : 0,
      // Only when set: options of deployments made before these existed stay the same.
      ...renderSafety(actor.declaration.annotations),
    };
  }

  async function finalize(): Promise<void> {
    if (spec().prune) {
      for (const cluster of deployed.keys()) await clearClusterDeployment({ cluster, name: actor.id });
      if (status.declarations.length > 0) await deleteHubDeclarations({ ids: status.declarations, owner: actor.id });
    }
    outbox.signal(sourceId(), unsubscribeSignal, { subscriber: actor.id });
    for (const d of dependencyIds()) outbox.signal(d, unsubscribeSignal, { subscriber: actor.id });
    for (const s of actor.subscribers) outbox.signal(s, dependencyStatusSignal, { ...dependencyStatus(), ready: false, deleted: true });
    await condition(() => outbox.idle());
  }
}
