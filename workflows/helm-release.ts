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
import type {
  ClusterInfo, HelmActivities, HookStepPlan, HubActivities, PrepareChartResult, RenderReleaseResult,
} from '../activities/hub-types.js';
import { isReady as isReadyCondition, setCondition, type Condition } from '../core/conditions.js';
import type { HelmReleaseDeclaration } from '../core/declarations/types.js';
import {
  beginRevision, beginRollback, current, emptyHistory, finishRevision, lastDeployed, markUninstalled, needsUpgrade, prune,
  releaseExists, remediation, resetFailures, retriesExhausted, sha256Hex, type ReleaseHistory, type ReleaseRevision,
} from '../core/helm-release.js';
import { unmetDependencies } from '../core/dependencies.js';
import { placedClusters } from '../core/placement.js';
import { planRollout } from '../core/rollout-plan.js';
import { ACCESS_DENIED_REASON, crossNamespaceRefusal, impersonationFor, type TenancySettings } from '../core/tenancy.js';
import type { TenancyActivities } from '../activities/tenancy.js';
import { DeclarationActor, type ActorMemory } from './actor.js';
import { quick } from './activity-profiles.js';
import { workflowNow } from './clock.js';
import { activityFailure } from './failures.js';
import {
  clusterReportSignal, dependencyStatusSignal, helmReleaseStatusQuery, helmRollbackUpdate,
  sourceArtifactSignal, subscribeSignal, unsubscribeSignal,
  type DependencyStatus, type HelmReleaseClusterStatus, type HelmReleaseStatus, type ReportSummary, type RollbackRequest,
  type RolloutFinished, type SourceArtifactEvent,
} from './messages.js';
import { Outbox } from './outbox.js';
import { failedRolloutMessage, RolloutDriver, rolloutVerdict, type StepAnswer } from './rollout-driver.js';

/** What a release is rendered into for one cluster. */
interface ReleasePlan {
  readonly chartName: string;
  readonly chartVersion: string;
  readonly appVersion?: string;
  readonly render: RenderReleaseResult;
}

/** A release held at a revision by `flotilla helm rollback`, until the desired chart or values change. */
interface Hold {
  readonly chartVersion: string;
  readonly valuesDigest: string;
  readonly artifactDigest: string;
  readonly revision: number;
}

export interface HelmReleaseInput extends ActorMemory<HelmReleaseDeclaration> {
  readonly status?: HelmReleaseStatus;
  readonly source?: SourceArtifactEvent;
  readonly dependencies?: Readonly<Record<string, DependencyStatus>>;
  readonly reports?: Readonly<Record<string, ReportSummary>>;
  readonly deployed?: readonly string[];
  readonly hookPlans?: Readonly<Record<string, Readonly<Record<string, readonly HookStepPlan[]>>>>;
  readonly holds?: Readonly<Record<string, Hold>>;
  readonly rollbacks?: readonly RollbackRequest[];
  /** cluster → the rollout target (see targetKey) its current release was made for. */
  readonly rolledTargets?: Readonly<Record<string, string>>;
}

/** The inputs of a render that the rollout target covers. */
interface DesiredValues {
  readonly values: HelmReleaseDeclaration['spec']['values'];
  readonly valuesFrom: HelmReleaseDeclaration['spec']['valuesFrom'];
}

const { listClusters, setClusterDeployment, clearClusterDeployment } = proxyActivities<HubActivities>(quick);
const { tenancySettings } = proxyActivities<TenancyActivities>(quick);
const { prepareChart, renderRelease } = proxyActivities<HelmActivities>({
  startToCloseTimeout: '5 minutes',
  retry: {
    initialInterval: '2 seconds', maximumAttempts: 3,
    nonRetryableErrorTypes: ['ChartNotFound', 'NoMatchingVersion', 'InvalidRange', 'RenderFailed', 'ValuesError', 'AuthenticationFailed'],
  },
});

const TERMINAL = new Set(['READY', 'UNHEALTHY', 'INVALID', 'FAILED']);
const REPORT_GRACE_SECONDS = 60;
const DELETE_WAIT_SECONDS = 60;

export async function helmReleaseWorkflow(input: HelmReleaseInput): Promise<void> {
  const actor = new DeclarationActor(input, 'HelmRelease');
  const now = workflowNow;
  const spec = (): HelmReleaseDeclaration['spec'] => actor.declaration.spec;
  const sourceId = (): string => {
    const ref = spec().chart.sourceRef;
    return `${ref.kind.toLowerCase()}/${ref.namespace}/${ref.name}`;
  };
  const dependencyIds = (): string[] => spec().dependsOn.map((d) => `helmrelease/${d.namespace}/${d.name}`);
  /** The hub's tenancy settings as last read in this run (core/tenancy.ts); read at each reconcile. */
  let tenancy: TenancySettings | undefined;
  /**
   * Whom the agent applies the release's (and its hooks') objects as, as helm-controller
   * impersonates for the whole release: spec.serviceAccountName, else tenancy.defaultServiceAccount,
   * in the HelmRelease's own namespace. Older histories predate it (patched).
   */
  async function impersonation(): Promise<{ impersonate?: string }> {
    if (!patched('flotilla-tenancy')) return {};
    tenancy ??= await tenancySettings();
    const impersonate = impersonationFor({ namespace: actor.declaration.namespace, serviceAccountName: spec().serviceAccountName }, tenancy);
    return impersonate !== undefined ? { impersonate } : {};
  }

  let status: HelmReleaseStatus = input.status ?? {
    id: actor.id, generation: actor.generation, observedGeneration: 0, conditions: [], suspended: false, suspendedByCli: false,
    lastHandledReconcileAt: '', lastReconciledAt: 0, source: sourceId(), sourceRevision: '', releaseName: spec().releaseName,
    chartName: spec().chart.chart, lastAttemptedChartVersion: '', placed: [], clusters: [], histories: {},
  };
  let source = input.source;
  const histories = new Map(Object.entries(status.histories));
  const dependencies = new Map(Object.entries(input.dependencies ?? {}));
  const reports = new Map(Object.entries(input.reports ?? {}));
  const deployed = new Set(input.deployed ?? []);
  const hookPlans = new Map(Object.entries(input.hookPlans ?? {}));
  const holds = new Map(Object.entries(input.holds ?? {}));
  const rollbacks: RollbackRequest[] = [...(input.rollbacks ?? [])];
  /** Set after a successful release; a cluster is at a rollout's target when this and its deployed chart version say so. */
  const rolledTargets = new Map(Object.entries(input.rolledTargets ?? {}));
  const missing = { source: false, dependency: false };
  let waitingOnDependencies = false;

  const outbox = new Outbox((target) => {
    if (target === sourceId()) missing.source = true;
    // A dependency declared after us: subscribe again on the next wake.
    if (dependencyIds().includes(target)) missing.dependency = true;
    actor.subscribers.delete(target);
  });
  void outbox.run();
  const rollouts = new RolloutDriver(actor.id, outbox, {
    ...(status.rollout ? { tracking: status.rollout } : {}),
    onTracking: (rollout) => { status = { ...status, rollout }; },
    wake: () => { actor.wake(); },
  });
  /** Clusters a rollout step acts on now: their reports answer the step, they are not health news for the rollout. */
  const stepping = new Set<string>();

  const snapshot = (): HelmReleaseStatus => ({
    ...status, generation: actor.generation, suspended: actor.suspended, suspendedByCli: actor.suspendedByCli, source: sourceId(),
    sourceRevision: source?.revision ?? '', releaseName: spec().releaseName, chartName: spec().chart.chart,
    histories: Object.fromEntries(histories),
  });
  const setCond = (c: Omit<Condition, 'lastTransitionTime'>): void => {
    status = { ...status, conditions: setCondition(status.conditions, c, now()) };
  };
  const isReady = (): boolean => isReadyCondition(status.conditions);
  const tellDependents = (): void => {
    const next: DependencyStatus = {
      id: actor.id, ready: isReady(), readyClusters: status.clusters.filter((c) => c.ready === 'True').map((c) => c.cluster),
      revision: status.lastAttemptedChartVersion, deleted: false,
      ...(patched('flux-dependency-rule') ? { generationObserved: status.observedGeneration === actor.generation } : {}),
    };
    actor.tellDependents(outbox, next);
  };
  const subscribe = (): void => {
    missing.source = false;
    missing.dependency = false;
    outbox.signal(sourceId(), subscribeSignal, { subscriber: actor.id });
    for (const d of dependencyIds()) outbox.signal(d, subscribeSignal, { subscriber: actor.id });
  };

  setHandler(helmReleaseStatusQuery, () => actor.withWarnings(snapshot()));
  setHandler(sourceArtifactSignal, (e) => {
    if (e.source !== sourceId()) return;
    const changed = e.revision !== source?.revision;
    source = e;
    if (changed) actor.wake();
  });
  setHandler(dependencyStatusSignal, (d) => {
    dependencies.set(d.id, d);
    if (waitingOnDependencies) actor.wake();
  });
  setHandler(clusterReportSignal, ({ cluster, report }) => {
    const key = reportKey(cluster, report.name);
    const previous = reports.get(key);
    // A deletion report (generation 0) always counts; otherwise keep the newest generation.
    if (report.phase !== 'DELETED' && previous && previous.phase !== 'DELETED' && previous.generation > report.generation) return;
    reports.set(key, report);
    // A cluster the rollout changed turned unhealthy after its step: the rollout decides what that means.
    if (rollouts.running && report.name === actor.id && !stepping.has(cluster) && TERMINAL.has(report.phase) && report.phase !== 'READY') {
      rollouts.health(cluster, false, report.message);
    }
  });
  setHandler(helmRollbackUpdate, (req) => {
    const toRevision = rollbackTarget(req);
    rollbacks.push({ cluster: req.cluster, toRevision });
    actor.wake();
    return { toRevision };
  }, { validator: (req: RollbackRequest) => { rollbackTarget(req); } });

  function rollbackTarget(req: RollbackRequest): number {
    const h = histories.get(req.cluster);
    if (!h || h.revisions.length === 0) throw new Error(`release ${spec().releaseName} has no history on cluster ${req.cluster}`);
    const latest = current(h);
    if (req.toRevision !== undefined) {
      const target = h.revisions.find((r) => r.revision === req.toRevision);
      if (!target) throw new Error(`revision ${req.toRevision} of ${spec().releaseName} on ${req.cluster} does not exist (have ${h.revisions.map((r) => r.revision).join(', ')})`);
      if (target.status === 'failed' || target.status === 'uninstalled' || target.status.startsWith('pending')) throw new Error(`revision ${req.toRevision} is ${target.status}: roll back to a revision that was deployed`);
      return req.toRevision;
    }
    const previous = [...h.revisions].reverse().find((r) => r.revision !== latest?.revision && (r.status === 'superseded' || r.status === 'deployed'));
    if (!previous) throw new Error(`release ${spec().releaseName} on ${req.cluster} has no earlier deployed revision to roll back to`);
    return previous.revision;
  }

  return actor.runDeploymentLoop({
    interval: nextInterval, subscribe, reconcile, finalize, tellDependents,
    onWake: async () => {
      if (missing.source || missing.dependency) subscribe();
      tellDependents();
      while (rollbacks.length > 0) {
        const req = rollbacks.shift();
        if (req?.toRevision !== undefined) await manualRollback(req.cluster, req.toRevision);
        publishClusters(status.placed);
      }
    },
    handled: (token) => { status = { ...status, lastHandledReconcileAt: token }; },
    continueAsNew: () => continueAsNew<typeof helmReleaseWorkflow>({
      ...actor.memory(), status: snapshot(), ...(source ? { source } : {}),
      dependencies: Object.fromEntries(dependencies), reports: Object.fromEntries(reports), deployed: [...deployed],
      hookPlans: Object.fromEntries(hookPlans), holds: Object.fromEntries(holds), rollbacks,
      ...(rolledTargets.size > 0 ? { rolledTargets: Object.fromEntries(rolledTargets) } : {}),
    }),
  }, outbox);

  function nextInterval(): number {
    return spec().intervalSeconds;
  }

  async function reconcile(): Promise<void> {
    const generation = actor.generation;
    setCond({ type: 'Reconciling', status: 'True', reason: 'Progressing', message: 'reconciliation in progress' });
    // As Flux (kustomize-controller kustomization_controller.go reconcile(), helm-controller
    // atomic release): Ready is Unknown while a reconcile, its waits included, is in progress;
    // True only once all of it succeeded.
    if (patched('flux-dependency-rule')) setCond({ type: 'Ready', status: 'Unknown', reason: 'Progressing', message: 'Reconciliation in progress' });
    const done = (ok: boolean, reason: string, message: string, stalled = false): void => {
      setCond({ type: 'Ready', status: ok ? 'True' : 'False', reason, message });
      setCond({ type: 'Reconciling', status: 'False', reason, message: ok ? 'reconciled' : `retrying in ${spec().intervalSeconds}s` });
      setCond({ type: 'Stalled', status: stalled ? 'True' : 'False', reason, message: stalled ? message : '' });
      status = { ...status, observedGeneration: generation, lastReconciledAt: now() };
    };
    waitingOnDependencies = false;
    if (patched('flotilla-tenancy')) {
      // As helm-controller AllowsAccessTo() with --no-cross-namespace-refs (core/tenancy.ts).
      tenancy = await tenancySettings();
      const d = actor.declaration;
      const refused = crossNamespaceRefusal({ kind: 'HelmRelease', namespace: d.namespace, name: d.name }, 'spec.chart.spec.sourceRef', spec().chart.sourceRef, tenancy);
      if (refused !== undefined) {
        done(false, ACCESS_DENIED_REASON, refused, true);
        return;
      }
    }
    if (!source) {
      const ref = spec().chart.sourceRef;
      done(false, 'ArtifactFailed', `chart source ${ref.kind}/${ref.namespace}/${ref.name} ${missing.source ? 'does not exist' : 'has no artifact yet'}`);
      return;
    }
    if (patched('flux-dependency-rule')) {
      // Flux's rule (core/dependencies.ts): Ready at its current generation; no revision rule
      // for HelmReleases. Placement is not known yet here: every placed cluster is checked
      // once the release knows them.
      const unmet = unmetDependencies(dependencyIds(), dependencies, { kind: 'HelmRelease', placed: [] });
      if (unmet.length > 0) {
        waitingOnDependencies = true;
        done(false, 'DependencyNotReady', unmet.join('; '));
        return;
      }
    } else {
      const blocking = dependencyIds().filter((id) => dependencies.get(id)?.ready !== true);
      if (blocking.length > 0) {
        waitingOnDependencies = true;
        done(false, 'DependencyNotReady', `dependencies not ready: ${blocking.map((b) => b.replace(/^helmrelease\//, '')).join(', ')}`);
        return;
      }
    }
    const registered = await listClusters();
    const selected = placedClusters(spec().placement, registered);
    const strategy = spec().rollout;
    // With a rollout strategy, the clusters no wave selects are left alone (the rollout status lists them).
    const placed = strategy
      ? planRollout(strategy.waves, registered.filter((c) => selected.includes(c.name))).waves.flatMap((w) => w.clusters)
      : selected;

    let chart: PrepareChartResult;
    try {
      const ref = spec().chart.sourceRef;
      chart = await prepareChart({
        id: actor.id, chart: spec().chart.chart, version: spec().chart.version,
        source: ref.kind === 'HelmRepository'
          ? { kind: 'HelmRepository', repository: sourceId(), indexDigest: source.artifactDigest }
          : { kind: 'GitRepository', artifactDigest: source.artifactDigest },
      });
    } catch (err) {
      const f = activityFailure(err, 'ChartPullError');
      done(false, f.reason, f.message, f.reason === 'NoMatchingVersion' || f.reason === 'ChartNotFound' || f.reason === 'InvalidRange');
      return;
    }
    status = { ...status, lastAttemptedChartVersion: chart.chartVersion };

    // Clusters that left the placement lose the release (those only unselected by the rollout's waves keep theirs).
    for (const cluster of [...histories.keys()].filter((c) => !selected.includes(c))) {
      const h = histories.get(cluster);
      if (h && current(h)?.status !== 'uninstalled') await uninstallOn(cluster, 'the cluster left the placement');
    }
    status = { ...status, placed };
    // Read in the same step as the renders below (no await in between), so the key names what they render.
    const desired: DesiredValues = { values: spec().values, valuesFrom: spec().valuesFrom };
    const target = targetKey(chart, desired);
    if (strategy) {
      const decision = rollouts.decide(target, placed.filter((c) => !atTarget(c, chart.chartVersion, target)).length);
      const tracked = rollouts.tracking;
      if (decision === 'failed' && tracked) {
        publishClusters(placed);
        done(false, 'RolloutFailed', failedRolloutMessage(tracked, actor.id, 'change the chart version or values'));
        return;
      }
      if (decision === 'rollout') {
        const revision = `${chart.chartName}@${chart.chartVersion}`;
        const { finished, outcomes } = await rollOut(registered.filter((c) => placed.includes(c.name)), chart, target, desired);
        publishClusters(placed, outcomes);
        const verdict = rolloutVerdict(finished, revision, `${spec().releaseName} ${revision} rolled out`);
        done(verdict.ok, verdict.reason, verdict.message);
        return;
      }
    }
    // Without a strategy, or once the fleet took this target: every placed cluster at once.
    const outcomes = await Promise.all(placed.map(async (cluster) => {
      let render: RenderReleaseResult;
      try {
        render = await renderFor(cluster, chart, desired);
      } catch (err) {
        const f = activityFailure(err, 'RenderFailed');
        return { cluster, ok: false, reason: f.reason, message: f.message };
      }
      return released(cluster, await releaseOn(cluster, planOf(chart, render)), target);
    }));
    publishClusters(placed, outcomes);
    const bad = outcomes.filter((o) => !o.ok);
    if (bad.length === 0) {
      done(true, 'ReconciliationSucceeded', `${spec().releaseName} ${chart.chartName}@${chart.chartVersion} ready on ${placed.length === 0 ? 'no cluster (none matches the placement)' : placed.join(', ')}`);
    } else {
      done(false, bad[0]?.reason ?? 'ReconciliationFailed', bad.map((o) => `${o.cluster}: ${o.message}`).join('; '), bad.every((o) => o.reason === 'RetriesExceeded' || o.reason === 'RenderFailed' || o.reason === 'ValuesError'));
    }
  }

  interface Outcome { readonly cluster: string; readonly ok: boolean; readonly reason: string; readonly message: string }

  /** Renders the release for one cluster (its Kubernetes version and API list). */
  async function renderFor(cluster: string, chart: PrepareChartResult, desired: DesiredValues): Promise<RenderReleaseResult> {
    const h = histories.get(cluster);
    return renderRelease({
      id: actor.id, namespace: actor.declaration.namespace, chartDigest: chart.chartDigest, releaseName: spec().releaseName,
      targetNamespace: spec().targetNamespace, values: desired.values, valuesFrom: desired.valuesFrom, cluster,
      isUpgrade: h !== undefined && lastDeployed(h) !== undefined,
      includeCrds: (h && lastDeployed(h) ? spec().upgrade.crds : spec().install.crds) !== 'Skip',
      createNamespace: spec().install.createNamespace,
    });
  }

  function planOf(chart: PrepareChartResult, render: RenderReleaseResult): ReleasePlan {
    return { chartName: chart.chartName, chartVersion: chart.chartVersion, ...(chart.appVersion !== undefined ? { appVersion: chart.appVersion } : {}), render };
  }

  /** Notes the target a successful release brought the cluster to (a hold keeps an older revision: not at the target). */
  function released(cluster: string, outcome: Outcome, target: string): Outcome {
    if (outcome.ok && outcome.reason !== 'RolledBack') rolledTargets.set(cluster, target);
    return outcome;
  }

  /** The cluster runs the target: its current revision is deployed, of that chart version, and was released for that target. */
  function atTarget(cluster: string, chartVersion: string, target: string): boolean {
    const h = histories.get(cluster);
    const latest = h ? current(h) : undefined;
    return latest?.status === 'deployed' && latest.chartVersion === chartVersion && rolledTargets.get(cluster) === target;
  }

  /** Runs a rollout of `target` (the chart with these values) over the placed clusters, carrying out its steps. */
  async function rollOut(
    placed: readonly ClusterInfo[], chart: PrepareChartResult, target: string, desired: DesiredValues,
  ): Promise<{ finished: RolloutFinished; outcomes: Outcome[] }> {
    const strategy = spec().rollout;
    if (!strategy) throw new Error('rollOut without a strategy');
    const revision = `${chart.chartName}@${chart.chartVersion}`;
    const names = placed.map((c) => c.name);
    // What each cluster ran before the rollout: the rollback target of a revert.
    const before = new Map(names.map((c) => {
      const h = histories.get(c);
      return [c, h ? lastDeployed(h) : undefined] as const;
    }));
    const targetsBefore = new Map(names.map((c) => [c, rolledTargets.get(c)] as const));
    const sourceDigestAtStart = source?.artifactDigest;
    const outcomes = new Map<string, Outcome>();
    const settle = (cluster: string, outcome: Outcome): void => {
      outcomes.set(cluster, outcome);
      publishClusters(status.placed, [...outcomes.values()]);
    };
    const running = (cluster: string): string => {
      const h = histories.get(cluster);
      const latest = h ? current(h) : undefined;
      if (!latest) return '';
      return `${describe(latest)}${latest.status === 'deployed' ? '' : ` (${latest.status})`}`;
    };
    /** A step on one cluster; its reports meanwhile belong to the step. */
    const stepOn = async (cluster: string, act: () => Promise<StepAnswer>): Promise<StepAnswer> => {
      stepping.add(cluster);
      try {
        return await act();
      } finally {
        stepping.delete(cluster);
      }
    };
    setCond({ type: 'Reconciling', status: 'True', reason: 'Progressing', message: `rolling out ${revision} (flotilla rollout status helmrelease/${actor.declaration.namespace}/${actor.declaration.name})` });
    const finished = await rollouts.run({
      ownerKind: 'HelmRelease', revision, target, strategy,
      clusters: placed.map((c) => ({ name: c.name, labels: c.labels })),
      atTarget: names.filter((c) => atTarget(c, chart.chartVersion, target)),
      previous: Object.fromEntries(names.map((c) => [c, describe(before.get(c))])),
      defaultHealthTimeoutSeconds: spec().timeoutSeconds,
    }, {
      advance: (cluster, { attempt }) => stepOn(cluster, async () => {
        let render: RenderReleaseResult;
        try {
          render = await renderFor(cluster, chart, desired);
        } catch (err) {
          const f = activityFailure(err, 'RenderFailed');
          settle(cluster, { cluster, ok: false, reason: f.reason, message: f.message });
          return { ok: false, revision: running(cluster), message: f.message };
        }
        // Each step is a new attempt (a retried wave tries again): the spec's retries afresh, and
        // its deployments applied again under the step's attempt token (no stale report answers it).
        const h = histories.get(cluster);
        if (h) save(cluster, resetFailures(h));
        let outcome = await releaseOn(cluster, planOf(chart, render), attempt);
        if (outcome.ok && outcome.reason === 'ReconciliationSucceeded') {
          // The release was there already (nothing to upgrade): apply it again for a health report of now.
          const check = await deployAndWait(cluster, actor.id, render.artifactDigest, spec().upgrade.disableWait ? 0 : spec().upgrade.timeoutSeconds, attempt);
          if (!check.ok) outcome = { cluster, ok: false, reason: 'HealthCheckFailed', message: `${outcome.message}, but not healthy: ${check.message}` };
        }
        released(cluster, outcome, target);
        settle(cluster, outcome);
        return { ok: outcome.ok, revision: running(cluster), message: outcome.message };
      }),
      revert: (cluster) => stepOn(cluster, async () => {
        const previous = before.get(cluster);
        const h = histories.get(cluster);
        if (!previous) {
          // Nothing ran here before the rollout: the release goes (the namespace it created stays, as in a remediation).
          const leftovers = [...deployed].some((k) => k.startsWith(`${cluster}|`) && k !== reportKey(cluster, `${actor.id}/namespace`));
          if (h && (releaseExists(h) || leftovers)) await uninstallOn(cluster, 'rollout rollback');
          rolledTargets.delete(cluster);
          const message = 'uninstalled (the cluster had no release before the rollout)';
          settle(cluster, { cluster, ok: true, reason: 'RolledBack', message });
          return { ok: true, revision: '', message };
        }
        const latest = h ? current(h) : undefined;
        if (latest?.status === 'deployed' && (latest.revision === previous.revision || latest.rolledBackTo === previous.revision)) {
          // The advance never changed it, or its remediation already rolled it back.
          restoreTarget(cluster, targetsBefore.get(cluster));
          const message = `revision ${latest.revision} (${describe(previous)}) runs, as before the rollout`;
          settle(cluster, { cluster, ok: true, reason: 'RolledBack', message });
          return { ok: true, revision: running(cluster), message };
        }
        if (!h?.revisions.some((r) => r.revision === previous.revision)) {
          const message = `cannot roll back to revision ${previous.revision} (${describe(previous)}): no longer in the release history (maxHistory ${spec().maxHistory})`;
          settle(cluster, { cluster, ok: false, reason: 'RollbackFailed', message });
          return { ok: false, revision: running(cluster), message };
        }
        const after = current(await rollbackOn(cluster, previous.revision, 'rollout rollback'));
        const ok = after?.status === 'deployed' && after.rolledBackTo === previous.revision;
        if (ok) restoreTarget(cluster, targetsBefore.get(cluster));
        else rolledTargets.delete(cluster);
        const message = ok ? `revision ${after.revision}: rolled back to revision ${previous.revision} (${describe(previous)})` : after?.description ?? `rollback to revision ${previous.revision} failed`;
        settle(cluster, { cluster, ok, reason: ok ? 'RolledBack' : 'RollbackFailed', message });
        return { ok, revision: running(cluster), message };
      }),
      newer: () => (source && source.artifactDigest !== sourceDigestAtStart ? source.revision : actor.specChanged ? `generation ${actor.generation}` : undefined),
      deleted: () => actor.deleted,
    });
    return { finished, outcomes: [...outcomes.values()] };
  }

  function restoreTarget(cluster: string, target: string | undefined): void {
    if (target === undefined) rolledTargets.delete(cluster);
    else rolledTargets.set(cluster, target);
  }

  /**
   * Installs or upgrades the release on one cluster, remediating failures as the spec says.
   * `stepAttempt`: a rollout step's token, so that its deployments are applied again (see DesiredDeployment.attempt).
   */
  async function releaseOn(cluster: string, plan: ReleasePlan, stepAttempt?: string): Promise<Outcome> {
    const r = plan.render;
    hookPlans.set(r.hooksDigest, r.hooks);
    const desired = { chartName: plan.chartName, chartVersion: plan.chartVersion, valuesDigest: r.valuesDigest, artifactDigest: r.artifactDigest };
    let h = histories.get(cluster) ?? emptyHistory(spec().releaseName, spec().storageNamespace);
    const hold = holds.get(cluster);
    if (hold && hold.chartVersion === desired.chartVersion && hold.valuesDigest === desired.valuesDigest && hold.artifactDigest === desired.artifactDigest) {
      return { cluster, ok: current(h)?.status === 'deployed', reason: 'RolledBack', message: `held at revision ${hold.revision} by flotilla helm rollback until the chart or values change` };
    }
    holds.delete(cluster);
    const latest = current(h);
    if (!needsUpgrade(h, desired) && latest?.status === 'deployed') {
      return { cluster, ok: true, reason: 'ReconciliationSucceeded', message: `revision ${latest.revision} deployed` };
    }
    let action: 'install' | 'upgrade' = lastDeployed(h) ? 'upgrade' : 'install';
    // The last install/upgrade attempt, whatever remediation followed it.
    const attempt = [...h.revisions].reverse().find((x) => x.action === 'install' || x.action === 'upgrade');
    const sameDesired = attempt !== undefined && attempt.artifactDigest === desired.artifactDigest && attempt.valuesDigest === desired.valuesDigest;
    if (!sameDesired) h = save(cluster, resetFailures(h)); // a new desired state gets its retries afresh
    // The same desired state failed before and its retries are spent: stay put until it changes.
    if (attempt?.status === 'failed' && sameDesired && retriesExhausted(h.failures[action], spec()[action].remediation.retries)) {
      const running = latest && latest.status === 'deployed'
        ? `; revision ${latest.revision}${latest.rolledBackTo !== undefined ? ` (rolled back to revision ${latest.rolledBackTo})` : ''} keeps running`
        : '';
      return { cluster, ok: false, reason: 'RetriesExceeded', message: `${action} to ${plan.chartName}@${plan.chartVersion} (revision ${attempt.revision}) failed and its retries are spent${running}: ${attempt.description}` };
    }
    const remediationSpec = { install: spec().install.remediation, upgrade: spec().upgrade.remediation };
    if (r.namespaceDigest !== undefined) {
      // helm --create-namespace: the namespace exists before any hook runs. Kept on a
      // remediation uninstall; removed when the HelmRelease is deleted.
      const ns = await deployAndWait(cluster, `${actor.id}/namespace`, r.namespaceDigest, 0, stepAttempt);
      if (!ns.ok) return { cluster, ok: false, reason: 'InstallFailed', message: `cannot create namespace ${spec().targetNamespace}: ${ns.message}` };
    }
    for (;;) {
      const begin = beginRevision(h, {
        action, chartName: plan.chartName, chartVersion: plan.chartVersion, ...(plan.appVersion !== undefined ? { appVersion: plan.appVersion } : {}),
        valuesDigest: r.valuesDigest, artifactDigest: r.artifactDigest, hooksDigest: r.hooksDigest,
      }, now());
      h = save(cluster, begin.history);
      const result = await runAction(cluster, action, r.artifactDigest, r.hooks, spec()[action].timeoutSeconds, !spec()[action].disableWait, stepAttempt);
      h = save(cluster, finishRevision(h, begin.revision, { ok: result.ok, description: result.ok ? `${action === 'install' ? 'Install' : 'Upgrade'} complete` : result.message }, now()));
      if (result.ok) {
        h = save(cluster, prune(h, spec().maxHistory));
        return { cluster, ok: true, reason: action === 'install' ? 'InstallSucceeded' : 'UpgradeSucceeded', message: `revision ${begin.revision}: ${plan.chartName}@${plan.chartVersion}` };
      }
      const failed = `${action} to ${plan.chartName}@${plan.chartVersion} (revision ${begin.revision}) failed: ${result.message}`;
      const next = remediation(h, remediationSpec, action);
      if (next.kind === 'retry') {
        if (action === 'install' || spec().upgrade.remediation.strategy === 'uninstall') {
          h = await uninstallOn(cluster, `remediating: ${failed}`);
          action = 'install';
        } else {
          const target = lastDeployed(h);
          if (target) h = await rollbackOn(cluster, target.revision, 'remediation');
        }
        continue;
      }
      if (next.kind === 'rollback') {
        h = await rollbackOn(cluster, next.toRevision, 'remediation');
        return { cluster, ok: false, reason: 'UpgradeFailed', message: `${failed}; rolled back to revision ${next.toRevision}` };
      }
      if (next.kind === 'uninstall') {
        h = await uninstallOn(cluster, `remediating: ${failed}`);
        return { cluster, ok: false, reason: action === 'install' ? 'InstallFailed' : 'UpgradeFailed', message: `${failed}; uninstalled` };
      }
      return { cluster, ok: false, reason: next.kind === 'stalled' ? next.reason : action === 'install' ? 'InstallFailed' : 'UpgradeFailed', message: failed };
    }
  }

  /** pre-<event> hooks, the release's objects, post-<event> hooks. */
  async function runAction(
    cluster: string, event: 'install' | 'upgrade' | 'rollback', artifactDigest: string,
    hooks: Readonly<Record<string, readonly HookStepPlan[]>>, timeoutSeconds: number, wait: boolean, attempt?: string,
  ): Promise<{ ok: boolean; message: string }> {
    for (const step of hooks[`pre-${event}`] ?? []) {
      const r = await runHook(cluster, `pre-${event}`, step, timeoutSeconds, attempt);
      if (!r.ok) return r;
    }
    const main = await deployAndWait(cluster, actor.id, artifactDigest, wait ? timeoutSeconds : 0, attempt);
    if (!main.ok) return main;
    for (const step of hooks[`post-${event}`] ?? []) {
      const r = await runHook(cluster, `post-${event}`, step, timeoutSeconds, attempt);
      if (!r.ok) return r;
    }
    return { ok: true, message: main.message };
  }

  /** One weight of one hook event, with Helm's delete policies. */
  async function runHook(cluster: string, event: string, step: HookStepPlan, timeoutSeconds: number, attempt?: string): Promise<{ ok: boolean; message: string }> {
    const name = `${actor.id}/hooks/${event}/${step.weight}`;
    if (step.deletePolicies.includes('before-hook-creation')) await clearAndWait(cluster, name);
    const r = await deployAndWait(cluster, name, step.artifactDigest, timeoutSeconds, attempt);
    if ((r.ok && step.deletePolicies.includes('hook-succeeded')) || (!r.ok && step.deletePolicies.includes('hook-failed'))) {
      await clearAndWait(cluster, name);
    }
    return r.ok ? r : { ok: false, message: `${event} hook ${step.objects.join(', ')} failed: ${r.message}` };
  }

  async function deployAndWait(
    cluster: string, name: string, artifactDigest: string, healthTimeoutSeconds: number, attempt?: string,
  ): Promise<{ ok: boolean; message: string }> {
    const key = reportKey(cluster, name);
    const set = await setClusterDeployment({
      cluster, name, owner: actor.id, artifactDigest,
      options: { prune: true, force: false, correctDrift: true, defaultNamespace: spec().targetNamespace, healthTimeoutSeconds, ...await impersonation() },
      ...(attempt !== undefined ? { attempt } : {}),
    });
    deployed.add(key);
    const settled = (): boolean => {
      const r = reports.get(key);
      return r !== undefined && r.phase !== 'DELETED' && r.generation >= set.generation && TERMINAL.has(r.phase);
    };
    const seconds = (healthTimeoutSeconds > 0 ? healthTimeoutSeconds : 60) + REPORT_GRACE_SECONDS;
    if (!await condition(settled, seconds * 1000)) return { ok: false, message: `no report from cluster ${cluster} within ${seconds}s (agent disconnected?)` };
    const r = reports.get(key);
    return { ok: r?.phase === 'READY', message: r?.message ?? '' };
  }

  async function clearAndWait(cluster: string, name: string): Promise<void> {
    const key = reportKey(cluster, name);
    if (!deployed.has(key)) return;
    reports.delete(key);
    await clearClusterDeployment({ cluster, name });
    deployed.delete(key);
    await condition(() => reports.get(key)?.phase === 'DELETED', DELETE_WAIT_SECONDS * 1000);
  }

  /** A new revision restoring an earlier one's exact artifact (no re-render), with its rollback hooks. */
  async function rollbackOn(cluster: string, toRevision: number, why: string): Promise<ReleaseHistory> {
    let h = histories.get(cluster) ?? emptyHistory(spec().releaseName, spec().storageNamespace);
    const target = h.revisions.find((r) => r.revision === toRevision);
    if (!target) return h;
    const begin = beginRollback(h, toRevision, now());
    h = save(cluster, begin.history);
    const hooks = (target.hooksDigest !== undefined ? hookPlans.get(target.hooksDigest) : undefined) ?? {};
    const result = await runAction(cluster, 'rollback', target.artifactDigest, hooks, spec().rollback.timeoutSeconds, true);
    return save(cluster, finishRevision(h, begin.revision, { ok: result.ok, description: result.ok ? `Rollback to ${toRevision} (${why})` : `rollback to ${toRevision} failed: ${result.message}` }, now()));
  }

  async function manualRollback(cluster: string, toRevision: number): Promise<void> {
    const h = await rollbackOn(cluster, toRevision, 'flotilla helm rollback');
    rolledTargets.delete(cluster); // it runs an earlier revision now, whatever target that was
    const r = current(h);
    // Hold against what the next reconcile would re-apply (the latest install/upgrade), so the
    // rollback stays until the desired chart or values change.
    const wanted = [...h.revisions].reverse().find((x) => x.action !== 'rollback');
    if (r?.status === 'deployed' && wanted) {
      holds.set(cluster, { chartVersion: wanted.chartVersion, valuesDigest: wanted.valuesDigest, artifactDigest: wanted.artifactDigest, revision: r.revision });
    }
  }

  async function uninstallOn(cluster: string, why: string, keepNamespace = true): Promise<ReleaseHistory> {
    for (const key of [...deployed].filter((k) => k.startsWith(`${cluster}|`))) {
      const name = key.slice(cluster.length + 1);
      if (keepNamespace && name === `${actor.id}/namespace`) continue;
      await clearAndWait(cluster, name);
    }
    const h = histories.get(cluster) ?? emptyHistory(spec().releaseName, spec().storageNamespace);
    rolledTargets.delete(cluster);
    return save(cluster, markUninstalled(h, now(), `Uninstallation complete (${why})`, { keepHistory: true }));
  }

  function save(cluster: string, h: ReleaseHistory): ReleaseHistory {
    histories.set(cluster, h);
    return h;
  }

  function publishClusters(placed: readonly string[], outcomes: readonly Outcome[] = []): void {
    const clusters = placed.map((cluster): HelmReleaseClusterStatus => {
      const h = histories.get(cluster);
      const latest = h ? current(h) : undefined;
      const o = outcomes.find((x) => x.cluster === cluster);
      const ready = o ? o.ok : latest?.status === 'deployed';
      return {
        cluster, ready: ready ? 'True' : 'False', reason: o?.reason ?? latest?.status ?? 'NotInstalled', message: o?.message ?? latest?.description ?? '',
        revision: latest?.revision ?? 0, chartVersion: latest?.chartVersion ?? '', releaseStatus: latest?.status ?? '', updatedAt: now(),
      };
    });
    status = { ...status, clusters };
  }

  async function finalize(): Promise<void> {
    for (const cluster of histories.keys()) await uninstallOn(cluster, 'HelmRelease deleted', false);
    outbox.signal(sourceId(), unsubscribeSignal, { subscriber: actor.id });
    for (const d of dependencyIds()) outbox.signal(d, unsubscribeSignal, { subscriber: actor.id });
    for (const s of actor.subscribers) outbox.signal(s, dependencyStatusSignal, { id: actor.id, ready: false, readyClusters: [], revision: '', deleted: true });
    await condition(() => outbox.idle());
  }
}

function reportKey(cluster: string, deployment: string): string {
  return `${cluster}|${deployment}`;
}

/** "podinfo@6.5.0 rev 3" (for people), "" for none. */
function describe(r: ReleaseRevision | undefined): string {
  return r ? `${r.chartName}@${r.chartVersion} rev ${r.revision}` : '';
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
