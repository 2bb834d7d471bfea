// The HelmRelease actor (`helmrelease/<namespace>/<name>`): Flux's helm-controller for every
// placed cluster. Each reconcile resolves the chart version from its HelmRepository's index
// (or packages a chart from a GitRepository), renders it per cluster against that cluster's
// Kubernetes version and API list, and runs the release action there: hooks of the action's
// pre-event, the release's objects (applied by the agent and waited for), hooks of the
// post-event. Each cluster keeps a Helm release history; a failed install or upgrade is
// remediated as the spec says (retry, rollback to the last deployed revision's exact
// artifact, or uninstall). Hooks are deployments of their own, one per (event, weight).
//
// With `spec.rollout`, a new chart version or new values do not go to every cluster at once:
// a rollout workflow (rollout.ts) moves them through the clusters in waves, and this actor
// carries out its steps (RolloutDriver): advance = render and release on that cluster,
// revert = roll back to the revision it ran before the rollout (or uninstall when it ran
// none). A target whose rollout failed is not tried again until `flotilla rollout retry` or a
// newer target; a newer one mid-rollout supersedes it at the next wave boundary.
import { condition, continueAsNew, patched, proxyActivities, setHandler } from '@temporalio/workflow';
import {
  dependencyStatusSignal, sourceArtifactSignal, type DependencyStatus,
  type SourceArtifactEvent,
} from '../api/actor.js';
import { clusterReportSignal, type ClusterDeploymentActivities, type ClusterInfo } from '../api/cluster.js';
import {
  helmReleaseId, helmReleaseStatusQuery, helmRollbackUpdate, type HelmReleaseActivities, type HelmReleaseInput,
  type HelmReleaseStatus, type PrepareChartResult, type RenderReleaseResult, type RollbackRequest,
} from '../api/helm-release.js';
import type { RolloutFinished } from '../api/rollout.js';
import type { TenancyActivities } from '../activities/tenancy.js';
import { conditionOf, isReady as isReadyCondition, setCondition, type Condition } from '../core/conditions.js';
import type { HelmReleaseDeclaration } from '../core/declarations/types.js';
import { unmetDependencies } from '../core/dependencies.js';
import { isStalled } from '../core/failure-kind.js';
import {
  HelmReleaseReason as Reason, current, lastDeployed, releaseExists, resetFailures, sha256Hex, type ReleaseRevision,
} from '../core/helm-release.js';
import { placedClusters } from '../core/placement.js';
import { planRollout } from '../core/rollout-plan.js';
import { ACCESS_DENIED_REASON, crossNamespaceRefusal, impersonationFor, type TenancySettings } from '../core/tenancy.js';
import { DeclarationActor, Subscriptions } from './actor.js';
import { quick } from './activity-profiles.js';
import { workflowNow as now } from './clock.js';
import { activityFailure } from './failures.js';
import { ClusterReleases, describe, type Outcome, type ReleasePlan } from './helm-cluster-releases.js';
import { Outbox } from './outbox.js';
import { beginReconcile, TERMINAL, type Done } from './reconcile.js';
import { failedRolloutMessage, RolloutDriver, rolloutVerdict, type StepAnswer } from './rollout-driver.js';

/** The inputs of a render that the rollout target covers. */
interface DesiredValues {
  readonly values: HelmReleaseDeclaration['spec']['values'];
  readonly valuesFrom: HelmReleaseDeclaration['spec']['valuesFrom'];
}

/** Where the placement puts the release: the registered clusters, those selected, those a reconcile acts on. */
interface Placement {
  readonly registered: readonly ClusterInfo[];
  readonly selected: readonly string[];
  /** The selected clusters, or with a rollout strategy those its waves select (the others are left alone). */
  readonly placed: readonly string[];
  readonly strategy: HelmReleaseDeclaration['spec']['rollout'];
}

/** One rollout of a target, as its steps see it. */
interface RolloutRun {
  readonly chart: PrepareChartResult;
  readonly target: string;
  readonly desired: DesiredValues;
  /** What each cluster ran before the rollout: the rollback target of a revert. */
  readonly before: ReadonlyMap<string, ReleaseRevision | undefined>;
  readonly targetsBefore: ReadonlyMap<string, string | undefined>;
  readonly outcomes: Map<string, Outcome>;
}

const { listClusters } = proxyActivities<ClusterDeploymentActivities>(quick);
const { tenancySettings } = proxyActivities<TenancyActivities>(quick);
const { prepareChart, renderRelease } = proxyActivities<HelmReleaseActivities>({
  startToCloseTimeout: '5 minutes',
  retry: {
    initialInterval: '2 seconds', maximumAttempts: 3,
    nonRetryableErrorTypes: ['ChartNotFound', 'NoMatchingVersion', 'InvalidRange', 'RenderFailed', 'ValuesError', 'AuthenticationFailed'],
  },
});

export async function helmReleaseWorkflow(input: HelmReleaseInput): Promise<void> {
  return new HelmReleaseActor(input).run();
}

class HelmReleaseActor {
  private readonly actor: DeclarationActor<HelmReleaseDeclaration>;
  /** The hub's tenancy settings as last read in this run (core/tenancy.ts); read at each reconcile. */
  private tenancy: TenancySettings | undefined;
  private status: HelmReleaseStatus;
  /** The status as the shared helpers (beginReconcile, RolloutDriver.inStatus) read and replace it. */
  private readonly statusCell = { get: (): HelmReleaseStatus => this.status, set: (s: HelmReleaseStatus): void => { this.status = s; } };
  private source: SourceArtifactEvent | undefined;
  private readonly releases: ClusterReleases;
  private readonly dependencies: Map<string, DependencyStatus>;
  private readonly rollbacks: RollbackRequest[];
  private waitingOnDependencies = false;
  private readonly subscriptions: Subscriptions;
  private readonly outbox: Outbox;
  private readonly rollouts: RolloutDriver;
  /** Clusters a rollout step acts on now: their reports answer the step, they are not health news for the rollout. */
  private readonly stepping = new Set<string>();

  // Load: the memory carried over continue-as-new, then the handlers (in this order: buffered signals are delivered as each is set).
  constructor(input: HelmReleaseInput) {
    this.actor = new DeclarationActor(input, 'HelmRelease');
    const spec = this.spec();
    this.status = input.status ?? {
      id: this.actor.id, generation: this.actor.generation, observedGeneration: 0, conditions: [], suspended: false, suspendedByCli: false,
      lastHandledReconcileAt: '', lastReconciledAt: 0, source: this.sourceId(), sourceRevision: '', releaseName: spec.releaseName,
      chartName: spec.chart.chart, lastAttemptedChartVersion: '', placed: [], clusters: [], histories: {},
    };
    this.source = input.source;
    this.releases = new ClusterReleases(
      { id: this.actor.id, spec: () => this.spec(), impersonation: () => this.impersonation() },
      this.status.histories, input,
    );
    this.dependencies = new Map(Object.entries(input.dependencies ?? {}));
    this.rollbacks = [...(input.rollbacks ?? [])];
    this.subscriptions = new Subscriptions(this.actor, { source: () => this.sourceId(), dependencies: () => this.dependencyIds() });
    this.outbox = this.subscriptions.outbox;
    this.rollouts = RolloutDriver.inStatus(this.actor, this.outbox, this.statusCell);
    this.setHandlers();
  }

  private setHandlers(): void {
    setHandler(helmReleaseStatusQuery, () => this.actor.withWarnings(this.snapshot()));
    setHandler(sourceArtifactSignal, (e) => {
      if (e.source !== this.sourceId()) return;
      const changed = e.revision !== this.source?.revision;
      this.source = e;
      if (changed) this.actor.wake();
    });
    setHandler(dependencyStatusSignal, (d) => {
      this.dependencies.set(d.id, d);
      if (this.waitingOnDependencies) this.actor.wake();
    });
    setHandler(clusterReportSignal, ({ cluster, report }) => {
      if (!this.releases.report(cluster, report)) return;
      // A cluster the rollout changed turned unhealthy after its step: the rollout decides what that means.
      if (this.rollouts.running && report.name === this.actor.id && !this.stepping.has(cluster) && TERMINAL.has(report.phase) && report.phase !== 'READY') {
        this.rollouts.health(cluster, false, report.message);
      }
    });
    setHandler(helmRollbackUpdate, (req) => {
      const toRevision = this.releases.rollbackTarget(req);
      this.rollbacks.push({ cluster: req.cluster, toRevision });
      this.actor.wake();
      return { toRevision };
    }, { validator: (req: RollbackRequest) => { this.releases.rollbackTarget(req); } });
  }

  /** Delete, suspend, wake-ups and the interval are DeclarationActor's loop; this actor plugs in its steps. */
  run(): Promise<void> {
    return this.actor.runDeploymentLoop({
      // helm-controller requeues a release waiting for its chart or a dependency after 30 s.
      interval: () => {
        const ready = isReadyCondition(this.status.conditions);
        const reason = conditionOf(this.status.conditions, 'Ready')?.reason ?? '';
        const spec = this.spec();
        return this.subscriptions.requeueAfter(ready, reason, { intervalSeconds: spec.intervalSeconds, retryIntervalSeconds: spec.intervalSeconds }, spec.intervalSeconds);
      },
      subscribe: () => { this.subscriptions.subscribe(); },
      reconcile: () => this.reconcile(),
      finalize: () => this.finalize(),
      tellDependents: () => { this.tellDependents(); },
      onWake: (woke) => this.onWake(woke),
      handled: (token) => { this.status = { ...this.status, lastHandledReconcileAt: token }; },
      continueAsNew: () => continueAsNew<typeof helmReleaseWorkflow>(this.memory()),
    }, this.outbox);
  }

  private memory(): HelmReleaseInput {
    const { reports, deployed, hookPlans, holds, rolledTargets } = this.releases.memory();
    return {
      ...this.actor.memory(), status: this.snapshot(), ...(this.source ? { source: this.source } : {}),
      dependencies: Object.fromEntries(this.dependencies), reports, deployed, hookPlans, holds, rollbacks: this.rollbacks,
      ...(rolledTargets !== undefined ? { rolledTargets } : {}),
    };
  }

  private spec(): HelmReleaseDeclaration['spec'] {
    return this.actor.declaration.spec;
  }

  private sourceId(): string {
    const ref = this.spec().chart.sourceRef;
    return `${ref.kind.toLowerCase()}/${ref.namespace}/${ref.name}`;
  }

  private dependencyIds(): string[] {
    return this.spec().dependsOn.map((d) => helmReleaseId(d.namespace, d.name));
  }

  /**
   * Whom the agent applies the release's (and its hooks') objects as, as helm-controller
   * impersonates for the whole release: spec.serviceAccountName, else tenancy.defaultServiceAccount,
   * in the HelmRelease's own namespace. Older histories predate it (patched).
   */
  private async impersonation(): Promise<{ impersonate?: string }> {
    if (!patched('flotilla-tenancy')) return {};
    this.tenancy ??= await tenancySettings();
    const impersonate = impersonationFor({ namespace: this.actor.declaration.namespace, serviceAccountName: this.spec().serviceAccountName }, this.tenancy);
    return impersonate !== undefined ? { impersonate } : {};
  }

  private snapshot(): HelmReleaseStatus {
    const spec = this.spec();
    return {
      ...this.status, generation: this.actor.generation, suspended: this.actor.suspended, suspendedByCli: this.actor.suspendedByCli, source: this.sourceId(),
      sourceRevision: this.source?.revision ?? '', releaseName: spec.releaseName, chartName: spec.chart.chart,
      histories: Object.fromEntries(this.releases.histories),
    };
  }

  private setCond(c: Omit<Condition, 'lastTransitionTime'>): void {
    this.status = { ...this.status, conditions: setCondition(this.status.conditions, c, now()) };
  }

  private tellDependents(): void {
    const status = this.status;
    const next: DependencyStatus = {
      id: this.actor.id, ready: isReadyCondition(status.conditions), readyClusters: status.clusters.filter((c) => c.ready === 'True').map((c) => c.cluster),
      revision: status.lastAttemptedChartVersion, deleted: false,
      ...(patched('flux-dependency-rule') ? { generationObserved: status.observedGeneration === this.actor.generation } : {}),
    };
    this.actor.tellDependents(this.outbox, next);
  }

  /** Every wake-up, before a reconcile: subscribe again where a target was missing, tell dependents, run queued `flotilla helm rollback`s. */
  private async onWake(woke: 'first' | 'timer' | 'woken' | 'other'): Promise<void> {
    // Read while awake, before this reconcile: no wake-up needed.
    const asking = this.subscriptions.onWake(woke, (e) => { if (e.source === this.sourceId()) this.source = e; });
    if (asking) await asking;
    this.tellDependents();
    while (this.rollbacks.length > 0) {
      const req = this.rollbacks.shift();
      if (req?.toRevision !== undefined) await this.releases.manualRollback(req.cluster, req.toRevision);
      this.publishClusters(this.status.placed);
    }
  }

  /**
   * One reconcile, as helm-controller's reconcileRelease: access → source → dependencies →
   * placement → chart → clusters that left → rollout, or the release on every placed cluster.
   * A step that fails ends it with its own reason (done). The awaits stay here, in this order:
   * they are the workflow's commands, which recorded histories replay.
   */
  private async reconcile(): Promise<void> {
    const done = this.beginReconcile();
    // 1. Access: as helm-controller AllowsAccessTo() with --no-cross-namespace-refs (core/tenancy.ts).
    if (patched('flotilla-tenancy')) {
      this.tenancy = await tenancySettings();
      if (!this.accessAllowed(this.tenancy, done)) return;
    }
    // 2. Source: the chart's source has an artifact.
    if (!this.source) {
      this.noArtifact(done);
      return;
    }
    // 3. Dependencies (spec.dependsOn) are ready.
    if (!this.dependenciesReady(done)) return;
    // 4. Placement: which clusters the release goes to.
    const placement = this.placement(await listClusters());
    // 5. Chart: the version resolved from the index, or packaged from the GitRepository.
    let chart: PrepareChartResult;
    try {
      chart = await prepareChart(this.chartRequest());
    } catch (err) {
      this.chartFailed(err, done);
      return;
    }
    this.status = { ...this.status, lastAttemptedChartVersion: chart.chartVersion };
    // 6. Clusters that left the placement lose the release (those only unselected by the rollout's waves keep theirs).
    for (const cluster of [...this.releases.histories.keys()].filter((c) => !placement.selected.includes(c))) {
      if (this.installedOn(cluster)) await this.releases.uninstallOn(cluster, 'the cluster left the placement');
    }
    const placed = placement.placed;
    this.status = { ...this.status, placed };
    // Read in the same step as the renders below (no await in between), so the key names what they render.
    const desired: DesiredValues = { values: this.spec().values, valuesFrom: this.spec().valuesFrom };
    const target = targetKey(chart, desired);
    // 7. Rollout: with spec.rollout, a target the fleet does not run yet moves through it in waves.
    if (placement.strategy) {
      const decision = this.rollouts.decide(target, placed.filter((c) => !this.releases.atTarget(c, chart.chartVersion, target)).length);
      const tracked = this.rollouts.tracking;
      if (decision === 'failed' && tracked) {
        this.publishClusters(placed);
        done(false, Reason.RolloutFailed, failedRolloutMessage(tracked, this.actor.id, 'change the chart version or values'));
        return;
      }
      if (decision === 'rollout') {
        const revision = `${chart.chartName}@${chart.chartVersion}`;
        const { finished, outcomes } = await this.rollOut(placement.registered.filter((c) => placed.includes(c.name)), chart, target, desired);
        this.publishClusters(placed, outcomes);
        const verdict = rolloutVerdict(finished, revision, `${this.spec().releaseName} ${revision} rolled out`);
        done(verdict.ok, verdict.reason, verdict.message);
        return;
      }
    }
    // 8. Release: without a strategy, or once the fleet took this target, every placed cluster at once.
    const outcomes = await Promise.all(placed.map((cluster) => this.releaseCluster(cluster, chart, desired, target)));
    this.publishClusters(placed, outcomes);
    this.summarize(chart, placed, outcomes, done);
  }

  /** Reconciling, and (Flux) Ready Unknown while a reconcile, its waits included, is in progress; True only once all of it succeeded. */
  private beginReconcile(): Done {
    this.waitingOnDependencies = false;
    return beginReconcile(this.statusCell, this.actor.generation);
  }

  /** Step 1: the chart's sourceRef may be in another namespace only when the hub allows it. */
  private accessAllowed(tenancy: TenancySettings, done: Done): boolean {
    const d = this.actor.declaration;
    const refused = crossNamespaceRefusal({ kind: 'HelmRelease', namespace: d.namespace, name: d.name }, 'spec.chart.spec.sourceRef', this.spec().chart.sourceRef, tenancy);
    if (refused === undefined) return true;
    done(false, ACCESS_DENIED_REASON, refused, true);
    return false;
  }

  /** Step 2 failed: no artifact (yet) from the chart's source. */
  private noArtifact(done: Done): void {
    const ref = this.spec().chart.sourceRef;
    done(false, Reason.ArtifactFailed, `chart source ${ref.kind}/${ref.namespace}/${ref.name} ${this.subscriptions.missing.source ? 'does not exist' : 'has no artifact yet'}`);
  }

  /** Step 3: the dependencies are ready; otherwise waits for their news (a dependency status wakes the actor). */
  private dependenciesReady(done: Done): boolean {
    if (patched('flux-dependency-rule')) {
      // Flux's rule (core/dependencies.ts): Ready at its current generation; no revision rule
      // for HelmReleases. Placement is not known yet here: every placed cluster is checked
      // once the release knows them.
      const unmet = unmetDependencies(this.dependencyIds(), this.dependencies, { kind: 'HelmRelease', placed: [] });
      if (unmet.length === 0) return true;
      this.waitingOnDependencies = true;
      done(false, Reason.DependencyNotReady, unmet.join('; '));
      return false;
    }
    const blocking = this.dependencyIds().filter((id) => this.dependencies.get(id)?.ready !== true);
    if (blocking.length === 0) return true;
    this.waitingOnDependencies = true;
    done(false, Reason.DependencyNotReady, `dependencies not ready: ${blocking.map((b) => b.replace(/^helmrelease\//, '')).join(', ')}`);
    return false;
  }

  /** Step 4: the clusters the placement selects; with a rollout strategy, those its waves select. */
  private placement(registered: readonly ClusterInfo[]): Placement {
    const selected = placedClusters(this.spec().placement, registered);
    const strategy = this.spec().rollout;
    const placed = strategy
      ? planRollout(strategy.waves, registered.filter((c) => selected.includes(c.name))).waves.flatMap((w) => w.clusters)
      : selected;
    return { registered, selected, placed, strategy };
  }

  /** Step 5: what prepareChart resolves the chart from (the source's artifact as it is now). */
  private chartRequest(): Parameters<typeof prepareChart>[0] {
    const source = this.source;
    if (!source) throw new Error('chartRequest without a source artifact'); // step 2 saw one; a source is never taken back
    const ref = this.spec().chart.sourceRef;
    return {
      id: this.actor.id, chart: this.spec().chart.chart, version: this.spec().chart.version,
      source: ref.kind === 'HelmRepository'
        ? { kind: 'HelmRepository', repository: this.sourceId(), indexDigest: source.artifactDigest }
        : { kind: 'GitRepository', artifactDigest: source.artifactDigest },
    };
  }

  /** Step 5 failed: stalled when no retry can find the chart (no matching version, no chart, a bad range). */
  private chartFailed(err: unknown, done: Done): void {
    const f = activityFailure(err, Reason.ChartPullError);
    done(false, f.reason, f.message, f.kind === 'stalled');
  }

  /** Step 6: the release exists on the cluster (not uninstalled). */
  private installedOn(cluster: string): boolean {
    const latest = this.releases.histories.get(cluster)?.revisions.at(-1);
    return this.releases.histories.has(cluster) && latest?.status !== 'uninstalled';
  }

  /** Step 8 on one cluster: render, then install or upgrade. */
  private async releaseCluster(cluster: string, chart: PrepareChartResult, desired: DesiredValues, target: string): Promise<Outcome> {
    let render: RenderReleaseResult;
    try {
      render = await this.renderFor(cluster, chart, desired);
    } catch (err) {
      const f = activityFailure(err, Reason.RenderFailed);
      return { cluster, ok: false, reason: f.reason, message: f.message };
    }
    return this.releases.released(cluster, await this.releases.releaseOn(cluster, planOf(chart, render)), target);
  }

  /** Step 8's verdict: Ready when every cluster runs the release; stalled when no cluster can get further by retrying. */
  private summarize(chart: PrepareChartResult, placed: readonly string[], outcomes: readonly Outcome[], done: Done): void {
    const bad = outcomes.filter((o) => !o.ok);
    if (bad.length === 0) {
      done(true, Reason.ReconciliationSucceeded, `${this.spec().releaseName} ${chart.chartName}@${chart.chartVersion} ready on ${placed.length === 0 ? 'no cluster (none matches the placement)' : placed.join(', ')}`);
    } else {
      done(false, bad[0]?.reason ?? Reason.ReconciliationFailed, bad.map((o) => `${o.cluster}: ${o.message}`).join('; '), bad.every((o) => isStalled(o.reason)));
    }
  }

  /** Renders the release for one cluster (its Kubernetes version and API list). */
  private async renderFor(cluster: string, chart: PrepareChartResult, desired: DesiredValues): Promise<RenderReleaseResult> {
    const h = this.releases.histories.get(cluster);
    const spec = this.spec();
    return renderRelease({
      id: this.actor.id, namespace: this.actor.declaration.namespace, chartDigest: chart.chartDigest, releaseName: spec.releaseName,
      targetNamespace: spec.targetNamespace, values: desired.values, valuesFrom: desired.valuesFrom, cluster,
      isUpgrade: h !== undefined && lastDeployed(h) !== undefined,
      includeCrds: (h && lastDeployed(h) ? spec.upgrade.crds : spec.install.crds) !== 'Skip',
      createNamespace: spec.install.createNamespace,
    });
  }

  // Rollout --------------------------------------------------------------------------

  /** Runs a rollout of `target` (the chart with these values) over the placed clusters, carrying out its steps. */
  private async rollOut(
    placed: readonly ClusterInfo[], chart: PrepareChartResult, target: string, desired: DesiredValues,
  ): Promise<{ finished: RolloutFinished; outcomes: Outcome[] }> {
    const strategy = this.spec().rollout;
    if (!strategy) throw new Error('rollOut without a strategy');
    const revision = `${chart.chartName}@${chart.chartVersion}`;
    const names = placed.map((c) => c.name);
    const run: RolloutRun = {
      chart, target, desired, outcomes: new Map(),
      before: new Map(names.map((c) => {
        const h = this.releases.histories.get(c);
        return [c, h ? lastDeployed(h) : undefined] as const;
      })),
      targetsBefore: new Map(names.map((c) => [c, this.releases.targetOf(c)] as const)),
    };
    const sourceDigestAtStart = this.source?.artifactDigest;
    const d = this.actor.declaration;
    this.setCond({ type: 'Reconciling', status: 'True', reason: Reason.Progressing, message: `rolling out ${revision} (flotilla rollout status helmrelease/${d.namespace}/${d.name})` });
    const finished = await this.rollouts.run({
      ownerKind: 'HelmRelease', revision, target, strategy,
      clusters: placed.map((c) => ({ name: c.name, labels: c.labels })),
      atTarget: names.filter((c) => this.releases.atTarget(c, chart.chartVersion, target)),
      previous: Object.fromEntries(names.map((c) => [c, describe(run.before.get(c))])),
      defaultHealthTimeoutSeconds: this.spec().timeoutSeconds,
    }, {
      advance: (cluster, { attempt }) => this.stepOn(cluster, () => this.advance(run, cluster, attempt)),
      revert: (cluster) => this.stepOn(cluster, () => this.revert(run, cluster)),
      newer: () => (this.source && this.source.artifactDigest !== sourceDigestAtStart ? this.source.revision : this.actor.specChanged ? `generation ${this.actor.generation}` : undefined),
      deleted: () => this.actor.deleted,
    });
    return { finished, outcomes: [...run.outcomes.values()] };
  }

  /** A step on one cluster; its reports meanwhile belong to the step. */
  private async stepOn(cluster: string, act: () => Promise<StepAnswer>): Promise<StepAnswer> {
    this.stepping.add(cluster);
    try {
      return await act();
    } finally {
      this.stepping.delete(cluster);
    }
  }

  /** A rollout's advance on one cluster: render and release the target there, and answer with its health. */
  private async advance(run: RolloutRun, cluster: string, attempt: string): Promise<StepAnswer> {
    let render: RenderReleaseResult;
    try {
      render = await this.renderFor(cluster, run.chart, run.desired);
    } catch (err) {
      const f = activityFailure(err, Reason.RenderFailed);
      this.settle(run, { cluster, ok: false, reason: f.reason, message: f.message });
      return { ok: false, revision: this.running(cluster), message: f.message };
    }
    // Each step is a new attempt (a retried wave tries again): the spec's retries afresh, and
    // its deployments applied again under the step's attempt token (no stale report answers it).
    const h = this.releases.histories.get(cluster);
    if (h) this.releases.save(cluster, resetFailures(h));
    let outcome = await this.releases.releaseOn(cluster, planOf(run.chart, render), attempt);
    if (outcome.ok && outcome.reason === Reason.ReconciliationSucceeded) {
      // The release was there already (nothing to upgrade): apply it again for a health report of now.
      const upgrade = this.spec().upgrade;
      const check = await this.releases.deployAndWait(cluster, this.actor.id, render.artifactDigest, upgrade.disableWait ? 0 : upgrade.timeoutSeconds, attempt);
      if (!check.ok) outcome = { cluster, ok: false, reason: Reason.HealthCheckFailed, message: `${outcome.message}, but not healthy: ${check.message}` };
    }
    this.releases.released(cluster, outcome, run.target);
    this.settle(run, outcome);
    return { ok: outcome.ok, revision: this.running(cluster), message: outcome.message };
  }

  /** A rollout's revert on one cluster: back to the revision it ran before the rollout, or uninstalled when it ran none. */
  private async revert(run: RolloutRun, cluster: string): Promise<StepAnswer> {
    const previous = run.before.get(cluster);
    const h = this.releases.histories.get(cluster);
    if (!previous) {
      // Nothing ran here before the rollout: the release goes (the namespace it created stays, as in a remediation).
      if (h && (releaseExists(h) || this.releases.hasLeftovers(cluster))) await this.releases.uninstallOn(cluster, 'rollout rollback');
      this.releases.forgetTarget(cluster);
      const message = 'uninstalled (the cluster had no release before the rollout)';
      this.settle(run, { cluster, ok: true, reason: Reason.RolledBack, message });
      return { ok: true, revision: '', message };
    }
    const latest = this.releases.latest(cluster);
    if (latest?.status === 'deployed' && (latest.revision === previous.revision || latest.rolledBackTo === previous.revision)) {
      // The advance never changed it, or its remediation already rolled it back.
      this.releases.restoreTarget(cluster, run.targetsBefore.get(cluster));
      const message = `revision ${latest.revision} (${describe(previous)}) runs, as before the rollout`;
      this.settle(run, { cluster, ok: true, reason: Reason.RolledBack, message });
      return { ok: true, revision: this.running(cluster), message };
    }
    if (!h?.revisions.some((r) => r.revision === previous.revision)) {
      const message = `cannot roll back to revision ${previous.revision} (${describe(previous)}): no longer in the release history (maxHistory ${this.spec().maxHistory})`;
      this.settle(run, { cluster, ok: false, reason: Reason.RollbackFailed, message });
      return { ok: false, revision: this.running(cluster), message };
    }
    const after = current(await this.releases.rollbackOn(cluster, previous.revision, 'rollout rollback'));
    const ok = after?.status === 'deployed' && after.rolledBackTo === previous.revision;
    if (ok) this.releases.restoreTarget(cluster, run.targetsBefore.get(cluster));
    else this.releases.forgetTarget(cluster);
    const message = ok ? `revision ${after.revision}: rolled back to revision ${previous.revision} (${describe(previous)})` : after?.description ?? `rollback to revision ${previous.revision} failed`;
    this.settle(run, { cluster, ok, reason: ok ? Reason.RolledBack : Reason.RollbackFailed, message });
    return { ok, revision: this.running(cluster), message };
  }

  /** A cluster's step is over: its outcome goes into the status at once. */
  private settle(run: RolloutRun, outcome: Outcome): void {
    run.outcomes.set(outcome.cluster, outcome);
    this.publishClusters(this.status.placed, [...run.outcomes.values()]);
  }

  /** What the cluster runs now, for people ("podinfo@1.0.0 rev 3", with its status unless deployed). */
  private running(cluster: string): string {
    const latest = this.releases.latest(cluster);
    if (!latest) return '';
    return `${describe(latest)}${latest.status === 'deployed' ? '' : ` (${latest.status})`}`;
  }

  private publishClusters(placed: readonly string[], outcomes: readonly Outcome[] = []): void {
    this.status = { ...this.status, clusters: this.releases.clusterStatuses(placed, outcomes) };
  }

  /** The HelmRelease was deleted: uninstall it everywhere (created namespaces too), unsubscribe, tell dependents. */
  private async finalize(): Promise<void> {
    for (const cluster of this.releases.histories.keys()) await this.releases.uninstallOn(cluster, 'HelmRelease deleted', false);
    this.subscriptions.unsubscribe();
    for (const s of this.actor.subscribers) this.outbox.signal(s, dependencyStatusSignal, { id: this.actor.id, ready: false, readyClusters: [], revision: '', deleted: true });
    await condition(() => this.outbox.idle());
  }
}

function planOf(chart: PrepareChartResult, render: RenderReleaseResult): ReleasePlan {
  return { chartName: chart.chartName, chartVersion: chart.chartVersion, ...(chart.appVersion !== undefined ? { appVersion: chart.appVersion } : {}), render };
}

/**
 * What a rollout moves through the fleet: the chart version and the values asked for. Renders
 * differ per cluster (Kubernetes version, API list), so the rendered artifact cannot name it.
 * The content of valuesFrom ConfigMaps and Secrets is not part of it, only the references.
 */
function targetKey(chart: Pick<PrepareChartResult, 'chartName' | 'chartVersion'>, desired: DesiredValues): string {
  return `${chart.chartName}@${chart.chartVersion}+values.${sha256Hex(stableJson(desired)).slice(0, 16)}`;
}

/** JSON with object keys sorted (and undefined members left out), so equal values give equal text. */
function stableJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map((v) => stableJson(v)).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const o = value as Record<string, unknown>;
    const keys = Object.keys(o).filter((k) => o[k] !== undefined).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${stableJson(o[k])}`).join(',')}}`;
  }
  return value === undefined ? 'null' : JSON.stringify(value);
}
