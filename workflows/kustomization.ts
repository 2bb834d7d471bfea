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
//
// KustomizationActor.reconcile() is Flux's reconcile() as a fixed list of named steps, each
// ending the reconcile with its own KustomizationReason (core/kustomization.ts) when it fails;
// every end goes through finishReconcile (workflows/reconcile.ts), Flux's finalizeStatus.
import { condition, continueAsNew, patched, proxyActivities, setHandler, sleep } from '@temporalio/workflow';
import { dependencyStatusSignal, sourceArtifactSignal, type DependencyStatus, type SourceArtifactEvent } from '../api/actor.js';
import { clusterReportSignal, type ClusterDeploymentActivities, type ClusterInfo, type DeploymentOptions, type ReportSummary } from '../api/cluster.js';
import { gitRepositoryId } from '../api/git-repository.js';
import {
  kustomizationId, kustomizationStatusQuery, type BuildKustomizationResult, type ClusterDeploymentStatus, type Deployed,
  type KustomizationActivities, type KustomizationInput, type KustomizationStatus,
} from '../api/kustomization.js';
import type { RolloutFinished } from '../api/rollout.js';
import { conditionOf, isReady as isReadyCondition, setCondition, type Condition } from '../core/conditions.js';
import type { KustomizationDeclaration } from '../core/declarations/types.js';
import { adoptionContext, type AdoptionContext } from '../core/declarations/scope.js';
import { placedClusters } from '../core/placement.js';
import { planRollout } from '../core/rollout-plan.js';
import { unmetDependencies } from '../core/dependencies.js';
import { isStalled } from '../core/failure-kind.js';
import { KustomizationReason as Reason } from '../core/kustomization.js';
import { renderSafety } from '../core/render-safety.js';
import { ACCESS_DENIED_REASON, DEFAULT_TENANCY, crossNamespaceRefusal, defaultNamespaceFor, impersonationFor, type TenancySettings } from '../core/tenancy.js';
import type { TenancyActivities } from '../activities/tenancy.js';
import { DeclarationActor, Subscriptions } from './actor.js';
import { quick } from './activity-profiles.js';
import { workflowNow as now } from './clock.js';
import { activityFailure } from './failures.js';
import { Outbox } from './outbox.js';
import { beginReconcile, REPORT_GRACE_SECONDS, TERMINAL, type Done } from './reconcile.js';
import { failedRolloutMessage, RolloutDriver, rolloutVerdict, type StepAnswer } from './rollout-driver.js';

const { listClusters, setClusterDeployment, clearClusterDeployment, applyHubDeclarations, deleteHubDeclarations, declarationsNotReady } =
  proxyActivities<ClusterDeploymentActivities & KustomizationActivities>(quick);
const { tenancySettings } = proxyActivities<TenancyActivities>(quick);
const { buildKustomization } = proxyActivities<KustomizationActivities>({
  startToCloseTimeout: '5 minutes',
  retry: { initialInterval: '2 seconds', maximumAttempts: 3, nonRetryableErrorTypes: ['BuildFailed'] },
});

export async function kustomizationWorkflow(input: KustomizationInput): Promise<void> {
  return new KustomizationActor(input).run();
}

/** Where the placement puts the build: the registered clusters, those selected, those a reconcile acts on. */
interface Placement {
  /** spec.placement.hub: the build's Flux objects become hub declarations; no cluster gets it. */
  readonly hub: boolean;
  readonly registered: readonly ClusterInfo[];
  readonly selected: readonly string[];
  /** The selected clusters, or with a rollout strategy those its waves select (the others are left alone). */
  readonly placed: readonly string[];
  readonly strategy: KustomizationDeclaration['spec']['rollout'];
}

/** Flux's dependency rule (revision, observed generation) and Ready=Unknown while reconciling; older histories predate both. */
const fluxDependencyRule = (): boolean => patched('flux-dependency-rule');
/** Tenants, Flux's way (core/tenancy.ts): impersonation, namespace-less objects, cross-namespace refs; older histories predate it. */
const tenancyRules = (): boolean => patched('flotilla-tenancy');
/**
 * A new identity or default namespace (spec.serviceAccountName, tenancy.defaultServiceAccount
 * after a hub restart) reaches the clusters already at the build, as Flux applies a changed
 * spec.serviceAccountName at once; older histories kept those clusters' options until the next build.
 */
const identityFollowsSpec = (): boolean => patched('flotilla-tenancy-identity-change');

class KustomizationActor {
  private readonly actor: DeclarationActor<KustomizationDeclaration>;
  /** The hub's tenancy settings as last read (each reconcile reads them again). */
  private tenancy: TenancySettings = DEFAULT_TENANCY;
  private status: KustomizationStatus;
  /** The status as the shared helpers (beginReconcile, RolloutDriver.inStatus) read and replace it. */
  private readonly statusCell = { get: (): KustomizationStatus => this.status, set: (s: KustomizationStatus): void => { this.status = s; } };
  private source: SourceArtifactEvent | undefined;
  private readonly dependencies: Map<string, DependencyStatus>;
  /** cluster → the agent's latest report of this Kustomization's deployment. */
  private readonly reports: Map<string, ReportSummary>;
  /** cluster → what this Kustomization set there. */
  private readonly deployed: Map<string, Deployed>;
  /** Set while a reconcile waits on dependencies: a dependency's change then wakes us. */
  private waitingOnDependencies = false;
  private readonly subscriptions: Subscriptions;
  private readonly outbox: Outbox;
  private readonly rollouts: RolloutDriver;

  // Load: the memory carried over continue-as-new, then the handlers (in this order: buffered signals are delivered as each is set).
  constructor(input: KustomizationInput) {
    this.actor = new DeclarationActor(input, 'Kustomization');
    this.status = input.status ?? {
      id: this.actor.id, generation: this.actor.generation, observedGeneration: 0, conditions: [], suspended: false, suspendedByCli: false,
      lastHandledReconcileAt: '', lastReconciledAt: 0, source: this.sourceId(), sourceRevision: '', lastAppliedRevision: '', lastAttemptedRevision: '',
      placed: [], clusters: [], declarations: [],
    };
    this.source = input.source;
    this.dependencies = new Map(Object.entries(input.dependencies ?? {}));
    this.reports = new Map(Object.entries(input.reports ?? {}));
    this.deployed = new Map(Object.entries(input.deployed ?? {}));
    // A dependency may be declared after us (a build adopts them in its own order): Subscriptions subscribes again on the next wake.
    this.subscriptions = new Subscriptions(this.actor, { source: () => this.sourceId(), dependencies: () => this.dependencyIds() });
    this.outbox = this.subscriptions.outbox;
    this.rollouts = RolloutDriver.inStatus(this.actor, this.outbox, this.statusCell);
    this.setHandlers();
  }

  private setHandlers(): void {
    setHandler(kustomizationStatusQuery, () => this.actor.withWarnings(this.snapshot()));
    setHandler(sourceArtifactSignal, (e) => {
      if (e.source !== this.sourceId()) return;
      // A new digest at the same revision happens too: an included repository changed.
      const changed = e.artifactDigest !== this.source?.artifactDigest;
      this.source = e;
      if (changed || e.revision !== this.status.lastAttemptedRevision || this.status.observedGeneration !== this.actor.generation) this.actor.wake();
    });
    setHandler(dependencyStatusSignal, (d) => {
      this.dependencies.set(d.id, d);
      if (this.waitingOnDependencies) this.actor.wake();
    });
    setHandler(clusterReportSignal, ({ cluster, report }) => {
      const previous = this.reports.get(cluster);
      if (previous && previous.generation > report.generation) return;
      this.reports.set(cluster, report);
      const at = this.deployed.get(cluster);
      if (this.rollouts.running && at && report.generation === at.generation && TERMINAL.has(report.phase) && report.phase !== 'READY') {
        this.rollouts.health(cluster, false, report.message);
      }
      // Reports after the reconcile (drift corrected, agent re-applied after a restart) keep the status current.
      if (at && report.generation === at.generation && TERMINAL.has(report.phase) && this.status.placed.includes(cluster)) {
        this.updateClusters(this.status.placed);
        this.tellDependents();
      }
    });
  }

  /** Delete, suspend, wake-ups and the interval are DeclarationActor's loop; this actor plugs in its steps. */
  run(): Promise<void> {
    return this.actor.runDeploymentLoop({
      // Flux requeues a failed Kustomization at spec.retryInterval.
      // Flux requeues a failed Kustomization at spec.retryInterval, one waiting for its source or a dependency after 30 s.
      interval: () => {
        const ready = this.isReady();
        const reason = conditionOf(this.status.conditions, 'Ready')?.reason ?? '';
        return this.subscriptions.requeueAfter(ready, reason, this.spec(), ready ? this.spec().intervalSeconds : this.spec().retryIntervalSeconds);
      },
      subscribe: () => { this.subscriptions.subscribe(); },
      reconcile: () => this.reconcile(),
      finalize: () => this.finalize(),
      tellDependents: () => { this.tellDependents(); },
      onWake: (woke) => {
        // Read while awake, before this reconcile: no wake-up needed.
        const asking = this.subscriptions.onWake(woke, (e) => { if (e.source === this.sourceId()) this.source = e; });
        if (asking) return asking.then(() => { this.tellDependents(); });
        this.tellDependents();
        return Promise.resolve();
      },
      handled: (token) => { this.status = { ...this.status, lastHandledReconcileAt: token }; },
      continueAsNew: () => continueAsNew<typeof kustomizationWorkflow>({
        ...this.actor.memory(), status: this.snapshot(), ...(this.source ? { source: this.source } : {}),
        dependencies: Object.fromEntries(this.dependencies), reports: Object.fromEntries(this.reports), deployed: Object.fromEntries(this.deployed),
      }),
    }, this.outbox);
  }

  private spec(): KustomizationDeclaration['spec'] {
    return this.actor.declaration.spec;
  }

  private sourceId(): string {
    return gitRepositoryId(this.spec().sourceRef.namespace, this.spec().sourceRef.name);
  }

  private dependencyIds(): string[] {
    return this.spec().dependsOn.map((d) => kustomizationId(d.namespace, d.name));
  }

  private snapshot(): KustomizationStatus {
    return {
      ...this.status, generation: this.actor.generation, suspended: this.actor.suspended, suspendedByCli: this.actor.suspendedByCli, source: this.sourceId(),
      sourceRevision: this.source?.revision ?? '',
    };
  }

  private setCond(c: Omit<Condition, 'lastTransitionTime'>): void {
    this.status = { ...this.status, conditions: setCondition(this.status.conditions, c, now()) };
  }

  private isReady(): boolean {
    return isReadyCondition(this.status.conditions);
  }

  private dependencyStatus(): DependencyStatus {
    const status = this.status;
    return {
      id: this.actor.id, ready: this.isReady(), readyClusters: status.clusters.filter((c) => c.ready === 'True').map((c) => c.cluster),
      revision: status.lastAppliedRevision, deleted: false,
      // What Flux's dependency rule also reads (core/dependencies.ts); histories from before it lack both.
      ...(fluxDependencyRule() ? { sourceId: this.sourceId(), generationObserved: status.observedGeneration === this.actor.generation } : {}),
    };
  }

  /** Tells dependents when readiness changed, and new subscribers in any case. */
  private tellDependents(): void {
    this.actor.tellDependents(this.outbox, this.dependencyStatus());
  }

  /**
   * One reconcile, as kustomize-controller's reconcile(): access → source → placement →
   * dependencies → build → apply (on the hub, or: clusters that left, rollout, every placed
   * cluster) → health. A step that fails ends it with its own reason (done). The awaits stay
   * here and in the steps, in this order: they are the workflow's commands, which recorded
   * histories replay.
   */
  private async reconcile(): Promise<void> {
    const done = this.beginReconcile();
    // 1. Access: as kustomize-controller getSource() with --no-cross-namespace-refs (core/tenancy.ts).
    if (tenancyRules()) {
      this.tenancy = await tenancySettings();
      if (!this.accessAllowed(this.tenancy, done)) return;
    }
    // 2. Source: the GitRepository has an artifact.
    if (!this.source) {
      this.noArtifact(done);
      return;
    }
    const revision = this.source.revision;
    // 3. Placement: which clusters the build goes to (none when it goes to the hub).
    const placement = await this.placement();
    // 4. Dependencies (spec.dependsOn) are ready, on the placed clusters and at the source's revision.
    if (!this.dependenciesReady(placement.placed, revision, done)) return;
    // 5. Build: kustomize build of the source's artifact (an activity, cached by revision + path + options).
    this.status = { ...this.status, lastAttemptedRevision: revision };
    const adoption = adoptionContext(this.actor.declaration);
    const build = await this.build(revision, adoption, done);
    if (!build) return;
    // 6. Apply on the hub: the build's Flux objects become hub declarations.
    if (placement.hub) return this.applyOnHub(build, revision, adoption, done);
    // 7. Clusters that left the placement lose the deployment (the agent prunes when spec.prune).
    for (const cluster of [...this.deployed.keys()].filter((c) => !placement.selected.includes(c))) {
      await clearClusterDeployment({ cluster, name: this.actor.id });
      this.deployed.delete(cluster);
    }
    const options = this.deploymentOptions();
    const placed = placement.placed;
    this.status = { ...this.status, placed };
    // 8. Rollout: with spec.rollout, a build the fleet does not run yet moves through it in waves.
    if (placement.strategy && await this.rolledOut(placement, build, revision, adoption, options, done)) return;
    // 9. Apply: without a strategy, or once the fleet took this build, every placed cluster at once.
    await this.applyOnClusters(placed, build, revision, options);
    const adoptFailed = await this.adopt(build, adoption);
    if (adoptFailed !== undefined) {
      done(false, Reason.ReconciliationFailed, adoptFailed);
      return;
    }
    // 10. Health: every placed cluster Ready, and with wait the adopted Flux objects too.
    await this.summarize(placed, revision, options, done);
  }

  /** Reconciling, and (Flux) Ready Unknown while a reconcile, its waits included, is in progress; True only once all of it succeeded. */
  private beginReconcile(): Done {
    this.waitingOnDependencies = false;
    return beginReconcile(this.statusCell, this.actor.generation);
  }

  /** Step 1: the sourceRef may be in another namespace only when the hub allows it; refused, it is stalled until the spec (or the hub's setting) changes. */
  private accessAllowed(tenancy: TenancySettings, done: Done): boolean {
    const d = this.actor.declaration;
    const refused = crossNamespaceRefusal({ kind: 'Kustomization', namespace: d.namespace, name: d.name }, 'spec.sourceRef', this.spec().sourceRef, tenancy);
    if (refused === undefined) return true;
    done(false, ACCESS_DENIED_REASON, refused, isStalled(ACCESS_DENIED_REASON));
    return false;
  }

  /** Step 2 failed: no artifact (yet) from the GitRepository. */
  private noArtifact(done: Done): void {
    const ref = this.spec().sourceRef;
    done(false, Reason.ArtifactFailed, `Source artifact not found: GitRepository/${ref.namespace}/${ref.name} ${this.subscriptions.missing.source ? 'does not exist' : 'has no artifact yet'}`);
  }

  /** Step 3: the clusters the placement selects; with a rollout strategy, those its waves select. */
  private async placement(): Promise<Placement> {
    const hub = this.spec().placement.hub;
    const registered = hub ? [] : await listClusters();
    const selected = hub ? [] : placedClusters(this.spec().placement, registered);
    const strategy = this.spec().rollout;
    // With a rollout strategy, the clusters no wave selects are left alone (the rollout status lists them).
    const placed = strategy ? planRollout(strategy.waves, registered.filter((c) => selected.includes(c.name))).waves.flatMap((w) => w.clusters) : selected;
    return { hub, registered, selected, placed, strategy };
  }

  /** Step 4: the dependencies are ready; otherwise waits for their news (a dependency status wakes the actor). */
  private dependenciesReady(placed: readonly string[], revision: string, done: Done): boolean {
    const blocking = this.blockingDependencies(placed, revision);
    if (blocking.length === 0) return true;
    this.waitingOnDependencies = true;
    // Flux's words: "dependency '<ns>/<name>' revision is not up to date"; older histories said it their way.
    done(false, Reason.DependencyNotReady, fluxDependencyRule() ? blocking.join('; ') : `dependencies not ready: ${blocking.join('; ')}`);
    return false;
  }

  private blockingDependencies(placed: readonly string[], revision: string): string[] {
    if (fluxDependencyRule()) return unmetDependencies(this.dependencyIds(), this.dependencies, { kind: 'Kustomization', sourceId: this.sourceId(), revision, placed });
    return this.dependencyIds().flatMap((id) => {
      const d = this.dependencies.get(id);
      const name = id.replace(/^kustomization\//, '');
      if (!d || d.deleted) return [`'${name}' not found`];
      if (!d.ready) return [`'${name}' is not ready`];
      const missing = placed.filter((c) => !d.readyClusters.includes(c));
      return missing.length > 0 ? [`'${name}' is not ready on ${missing.join(', ')}`] : [];
    });
  }

  /** Step 5: the build, recorded in the status; a build error stalls the Kustomization with kustomize's message. */
  private async build(revision: string, adoption: AdoptionContext, done: Done): Promise<BuildKustomizationResult | undefined> {
    const source = this.source;
    if (!source) throw new Error('build without a source artifact'); // step 2 saw one; a source is never taken back
    let build: BuildKustomizationResult;
    try {
      build = await buildKustomization({ id: this.actor.id, namespace: this.actor.declaration.namespace, sourceDigest: source.artifactDigest, revision, spec: this.spec(), adoption });
    } catch (err) {
      done(false, Reason.BuildFailed, activityFailure(err, Reason.BuildFailed).message, isStalled(Reason.BuildFailed));
      return undefined;
    }
    this.status = {
      ...this.status,
      lastBuild: {
        revision, artifactDigest: build.artifactDigest, objectCount: build.objectCount,
        ...(build.declarations ? { adopted: build.declarations.count } : {}),
        ...(build.skipped ? { skipped: build.skipped } : {}),
        ...(build.notices ? { notices: build.notices } : {}),
      },
    };
    return build;
  }

  /** Step 6 (spec.placement.hub): the build's Flux objects become hub declarations; gone ones are pruned. */
  private async applyOnHub(build: BuildKustomizationResult, revision: string, adoption: AdoptionContext, done: Done): Promise<void> {
    try {
      const applied = await applyHubDeclarations({ owner: this.actor.id, adoption, artifactDigest: build.artifactDigest, previous: this.status.declarations, prune: this.spec().prune });
      this.status = { ...this.status, declarations: applied.declarations, lastAppliedRevision: revision };
      done(true, Reason.ReconciliationSucceeded, `Applied revision: ${revision} (${applied.declarations.length} declarations: ${applied.created} created, ${applied.configured} configured, ${applied.unchanged} unchanged, ${applied.deleted} deleted)`);
    } catch (err) {
      done(false, Reason.ReconciliationFailed, activityFailure(err, Reason.ReconciliationFailed).message);
    }
  }

  /**
   * Step 8: with a rollout strategy, a build that failed its rollout waits for a newer one, and a
   * build the fleet does not run yet is rolled out. True when this step ended the reconcile.
   */
  private async rolledOut(
    placement: Placement, build: BuildKustomizationResult, revision: string, adoption: AdoptionContext, options: DeploymentOptions, done: Done,
  ): Promise<boolean> {
    const placed = placement.placed;
    const decision = this.rollouts.decide(build.artifactDigest, placed.filter((c) => this.deployed.get(c)?.artifactDigest !== build.artifactDigest).length);
    const tracked = this.rollouts.tracking;
    if (decision === 'failed' && tracked) {
      this.updateClusters(placed);
      done(false, Reason.RolloutFailed, failedRolloutMessage(tracked, this.actor.id, 'push a new revision'));
      return true;
    }
    if (decision !== 'rollout') return false;
    const finished = await this.rollOut(placement.registered.filter((c) => placed.includes(c.name)), build.artifactDigest, revision, options);
    this.updateClusters(placed);
    const adoptFailed = await this.adopt(build, adoption);
    if (adoptFailed !== undefined) {
      done(false, Reason.ReconciliationFailed, adoptFailed);
      return true;
    }
    if (finished.phase === 'Succeeded') this.status = { ...this.status, lastAppliedRevision: revision };
    const verdict = rolloutVerdict(finished, revision, `Applied revision: ${revision}`);
    done(verdict.ok, verdict.reason, verdict.message);
    return true;
  }

  /** Step 9: sets the deployment on every placed cluster and waits for their reports (the health timeout and a grace). */
  private async applyOnClusters(placed: readonly string[], build: BuildKustomizationResult, revision: string, options: DeploymentOptions): Promise<void> {
    // The clusters already at this build keep the options they got it with (a rollout's health
    // timeout), unless whom it is applied as or where namespace-less objects go changed.
    const optionsFor = (cluster: string): DeploymentOptions => {
      const kept = this.deployed.get(cluster)?.artifactDigest === build.artifactDigest ? this.deployed.get(cluster)?.options : undefined;
      if (kept === undefined) return options;
      if (identityFollowsSpec() && (kept.impersonate !== options.impersonate || kept.defaultNamespace !== options.defaultNamespace)) return options;
      return kept;
    };
    const clusterOptions = placed.map(optionsFor);
    const results = await Promise.all(placed.map((cluster, i) => setClusterDeployment({
      cluster, name: this.actor.id, owner: this.actor.id, artifactDigest: build.artifactDigest, options: clusterOptions[i] ?? options,
    })));
    placed.forEach((cluster, i) => {
      const r = results[i];
      if (r) this.deployed.set(cluster, { generation: r.generation, artifactDigest: build.artifactDigest, revision, options: clusterOptions[i] ?? options });
    });
    const waitSeconds = (options.healthTimeoutSeconds > 0 ? options.healthTimeoutSeconds : this.spec().timeoutSeconds) + REPORT_GRACE_SECONDS;
    await condition(() => placed.every((c) => this.settled(c)) || this.actor.deleted, waitSeconds * 1000);
    this.updateClusters(placed);
  }

  /** Step 10's verdict: Ready when every placed cluster (and, with wait, every adopted Flux object) is; else the clusters' own reason. */
  private async summarize(placed: readonly string[], revision: string, options: DeploymentOptions, done: Done): Promise<void> {
    const notReady = this.status.clusters.filter((c) => c.ready !== 'True');
    if (notReady.length === 0 && options.healthTimeoutSeconds > 0) {
      const pending = await this.waitForAdopted(placed, options.healthTimeoutSeconds);
      if (pending.length > 0) {
        done(false, Reason.HealthCheckFailed, `adopted declarations not ready after ${options.healthTimeoutSeconds}s: ${pending.join('; ')}`);
        return;
      }
    }
    if (notReady.length === 0) {
      this.status = { ...this.status, lastAppliedRevision: revision };
      const declarations = this.status.declarations.length;
      const clusters = placed.length === 0 ? 'no cluster matches the placement' : `${placed.length} cluster${placed.length === 1 ? '' : 's'}`;
      const adopted = declarations > 0 ? `; ${declarations} declaration${declarations === 1 ? '' : 's'} on the hub` : '';
      done(true, Reason.ReconciliationSucceeded, `Applied revision: ${revision} (${clusters}${adopted})`);
    } else {
      const reason = notReady.every((c) => c.reason === Reason.HealthCheckFailed) ? Reason.HealthCheckFailed
        : notReady.every((c) => c.reason === Reason.ClusterUnreachable) ? Reason.ClusterUnreachable : Reason.ReconciliationFailed;
      done(false, reason, notReady.map((c) => `${c.cluster}: ${c.message}`).join('; '));
    }
  }

  // Rollout --------------------------------------------------------------------------

  /** Runs a rollout of `target` over the placed clusters, carrying out its steps. */
  private async rollOut(placed: readonly ClusterInfo[], target: string, revision: string, options: DeploymentOptions): Promise<RolloutFinished> {
    const strategy = this.spec().rollout;
    if (!strategy) throw new Error('rollOut without a strategy');
    const before = new Map(placed.map((c) => [c.name, this.deployed.get(c.name)]));
    const sourceDigestAtStart = this.source?.artifactDigest;
    const d = this.actor.declaration;
    this.setCond({ type: 'Reconciling', status: 'True', reason: Reason.Progressing, message: `rolling out ${revision} (flotilla rollout status kustomization/${d.namespace}/${d.name})` });
    return this.rollouts.run({
      ownerKind: 'Kustomization', revision, target, strategy,
      clusters: placed.map((c) => ({ name: c.name, labels: c.labels })),
      atTarget: placed.filter((c) => this.deployed.get(c.name)?.artifactDigest === target).map((c) => c.name),
      previous: Object.fromEntries(placed.map((c) => [c.name, before.get(c.name)?.revision ?? ''])),
      defaultHealthTimeoutSeconds: this.spec().timeoutSeconds,
    }, {
      advance: async (cluster, { healthTimeoutSeconds, attempt }) => {
        const stepOptions = { ...options, healthTimeoutSeconds };
        const r = await setClusterDeployment({ cluster, name: this.actor.id, owner: this.actor.id, artifactDigest: target, options: stepOptions, attempt });
        this.deployed.set(cluster, { generation: r.generation, artifactDigest: target, revision, options: stepOptions });
        return this.waitFor(cluster, healthTimeoutSeconds);
      },
      revert: async (cluster) => {
        const previous = before.get(cluster);
        if (!previous) {
          await clearClusterDeployment({ cluster, name: this.actor.id });
          this.deployed.delete(cluster);
          this.reports.delete(cluster);
          return { ok: true, revision: '', message: 'removed (the cluster had no earlier revision)' };
        }
        const previousOptions = previous.options ?? options;
        const r = await setClusterDeployment({ cluster, name: this.actor.id, owner: this.actor.id, artifactDigest: previous.artifactDigest, options: previousOptions });
        this.deployed.set(cluster, { ...previous, generation: r.generation, options: previousOptions });
        return this.waitFor(cluster, previousOptions.healthTimeoutSeconds > 0 ? previousOptions.healthTimeoutSeconds : this.spec().timeoutSeconds);
      },
      newer: () => (this.source && this.source.artifactDigest !== sourceDigestAtStart ? this.source.revision : this.actor.specChanged ? `generation ${this.actor.generation}` : undefined),
      deleted: () => this.actor.deleted,
    });
  }

  /** A rollout step's answer: the cluster's report of the step's deployment, within its health timeout and a grace. */
  private async waitFor(cluster: string, healthTimeoutSeconds: number): Promise<StepAnswer> {
    const ok = await condition(() => this.settled(cluster) || this.actor.deleted, (healthTimeoutSeconds + REPORT_GRACE_SECONDS) * 1000);
    this.updateClusters(this.status.placed);
    const c = this.status.clusters.find((x) => x.cluster === cluster);
    const d = this.deployed.get(cluster);
    return { ok: ok && c?.ready === 'True', revision: d?.revision ?? '', message: c?.message ?? '' };
  }

  // Adopted Flux objects ----------------------------------------------------------------

  /**
   * The Flux objects of the build become hub declarations placed like this one; gone ones are
   * pruned. After the clusters have the plain objects, as Flux's controllers see a HelmRelease
   * only once the Namespace beside it is applied. The build was validated (cycles, invalid
   * objects) before any cluster was touched. Returns why it failed, if it did.
   */
  private async adopt(build: BuildKustomizationResult, adoption: AdoptionContext): Promise<string | undefined> {
    if (!build.declarations && this.status.declarations.length === 0) return undefined;
    try {
      const applied = await applyHubDeclarations({
        owner: this.actor.id, adoption, previous: this.status.declarations, prune: this.spec().prune,
        ...(build.declarations ? { artifactDigest: build.declarations.artifactDigest } : {}),
      });
      this.status = { ...this.status, declarations: applied.declarations };
      return undefined;
    } catch (err) {
      return activityFailure(err, Reason.ReconciliationFailed).message;
    }
  }

  /**
   * With wait (or healthChecks), Flux waits for the Flux objects it applied to be Ready, as
   * for any object: the adopted Kustomizations and HelmReleases, at their current generation,
   * on every placed cluster. Polled (1 s doubling to 10 s) until the health timeout; returns
   * what is still not Ready.
   */
  private async waitForAdopted(placed: readonly string[], timeoutSeconds: number): Promise<string[]> {
    const ids = this.status.declarations.filter((id) => id.startsWith('kustomization/') || id.startsWith('helmrelease/'));
    if (ids.length === 0) return [];
    const deadline = now() + timeoutSeconds * 1000;
    for (let delay = 1; ; delay = Math.min(delay * 2, 10)) {
      const pending = await declarationsNotReady({ ids, clusters: placed });
      if (pending.length === 0 || this.actor.deleted || now() >= deadline) return this.actor.deleted ? [] : pending;
      this.setCond({ type: 'Reconciling', status: 'True', reason: Reason.Progressing, message: `waiting for ${pending.join('; ')}` });
      await sleep(Math.min(delay * 1000, Math.max(deadline - now(), 1)));
    }
  }

  // Clusters ---------------------------------------------------------------------------

  /** The cluster's agent reported on the deployment's current generation, with a final phase. */
  private settled(cluster: string): boolean {
    const d = this.deployed.get(cluster);
    const r = this.reports.get(cluster);
    return d !== undefined && r !== undefined && r.generation >= d.generation && TERMINAL.has(r.phase);
  }

  private updateClusters(placed: readonly string[]): void {
    const clusters = placed.map((cluster): ClusterDeploymentStatus => {
      const d = this.deployed.get(cluster);
      const r = this.reports.get(cluster);
      const base = { cluster, generation: d?.generation ?? 0, revision: d?.revision ?? '', artifactDigest: d?.artifactDigest ?? '' };
      if (!d || !r || r.generation < d.generation || !TERMINAL.has(r.phase)) {
        const previous = this.status.clusters.find((c) => c.cluster === cluster);
        return { ...base, ready: 'Unknown', reason: Reason.ClusterUnreachable, message: `no report for generation ${d?.generation ?? 0} yet (agent disconnected or still applying)`, counts: previous?.counts ?? {}, updatedAt: previous?.updatedAt ?? 0 };
      }
      const ready = r.phase === 'READY';
      const reason = ready ? Reason.ReconciliationSucceeded : r.phase === 'UNHEALTHY' ? Reason.HealthCheckFailed : Reason.ReconciliationFailed;
      return { ...base, ready: ready ? 'True' : 'False', reason, message: r.message, counts: r.counts, updatedAt: r.finishedAt };
    });
    this.status = { ...this.status, clusters };
    // A cluster that turned unhealthy after the reconcile makes the Kustomization not Ready.
    if (!clusters.every((c) => c.ready === 'True') && this.isReady()) {
      const bad = clusters.filter((c) => c.ready !== 'True');
      this.setCond({ type: 'Ready', status: 'False', reason: bad[0]?.reason ?? Reason.ReconciliationFailed, message: bad.map((c) => `${c.cluster}: ${c.message}`).join('; ') });
    }
  }

  private deploymentOptions(): DeploymentOptions {
    const s = this.spec();
    const wait = s.wait || s.healthChecks.length > 0;
    if (tenancyRules()) {
      // Objects naming no namespace go to the targetNamespace, else the Kustomization's own
      // (never `default`); applied as spec.serviceAccountName or tenancy.defaultServiceAccount.
      const impersonate = impersonationFor({ namespace: this.actor.declaration.namespace, serviceAccountName: s.serviceAccountName }, this.tenancy);
      return {
        prune: s.prune, force: s.force, correctDrift: true,
        defaultNamespace: defaultNamespaceFor({ namespace: this.actor.declaration.namespace, targetNamespace: s.targetNamespace }),
        healthTimeoutSeconds: wait ? s.timeoutSeconds : 0,
        ...renderSafety(this.actor.declaration.annotations),
        ...(impersonate !== undefined ? { impersonate } : {}),
      };
    }
    return {
      prune: s.prune, force: s.force, correctDrift: true, defaultNamespace: s.targetNamespace ?? 'default',
      healthTimeoutSeconds: wait ? s.timeoutSeconds : 0,
      // Only when set: options of deployments made before these existed stay the same.
      ...renderSafety(this.actor.declaration.annotations),
    };
  }

  /** The Kustomization was deleted: with prune, its objects go from every cluster and the hub; unsubscribe, tell dependents. */
  private async finalize(): Promise<void> {
    if (this.spec().prune) {
      for (const cluster of this.deployed.keys()) await clearClusterDeployment({ cluster, name: this.actor.id });
      if (this.status.declarations.length > 0) await deleteHubDeclarations({ ids: this.status.declarations, owner: this.actor.id });
    }
    this.subscriptions.unsubscribe();
    for (const s of this.actor.subscribers) this.outbox.signal(s, dependencyStatusSignal, { ...this.dependencyStatus(), ready: false, deleted: true });
    await condition(() => this.outbox.idle());
  }
}
