// The Helm release of one HelmRelease on each of its clusters, for the HelmRelease actor
// (helm-release.ts): what Helm's actions do there, carried out through the agents. A release
// action is pre-<event> hooks, the release's objects (applied by the agent and waited for),
// post-<event> hooks; each cluster keeps a Helm release history (core/helm-release.ts), whose
// pure rules decide which action runs (nextReleaseAction) and what remediates a failure
// (remediation). Hooks are deployments of their own, one per (event, weight).
//
// Everything here is workflow code: each method issues its activities, timers and waits in a
// fixed order, which recorded histories replay (test/unit/replay.test.ts).
import { condition, proxyActivities } from '@temporalio/workflow';
import type { ClusterDeploymentActivities, ReportSummary } from '../api/cluster.js';
import type { HelmReleaseClusterStatus, HookStepPlan, RenderReleaseResult, RollbackRequest } from '../api/helm-release.js';
import type { HelmReleaseDeclaration } from '../core/declarations/types.js';
import {
  HelmReleaseReason as Reason, beginRevision, beginRollback, current, emptyHistory, finishRevision, lastDeployed, markUninstalled,
  nextReleaseAction, prune, remediation, resetFailures, type ReleaseDecision, type ReleaseHistory, type ReleaseHold, type ReleaseRevision,
} from '../core/helm-release.js';
import { quick } from './activity-profiles.js';
import { workflowNow as now } from './clock.js';
import { REPORT_GRACE_SECONDS, TERMINAL } from './reconcile.js';

const { setClusterDeployment, clearClusterDeployment } = proxyActivities<ClusterDeploymentActivities>(quick);

const DELETE_WAIT_SECONDS = 60;

/** What a release is rendered into for one cluster. */
export interface ReleasePlan {
  readonly chartName: string;
  readonly chartVersion: string;
  readonly appVersion?: string;
  readonly render: RenderReleaseResult;
}

/** How the release ended up on one cluster after a reconcile or a rollout step. */
export interface Outcome { readonly cluster: string; readonly ok: boolean; readonly reason: string; readonly message: string }

/** What the releases need from their HelmRelease actor. */
export interface ReleaseOwner {
  /** The actor's id: deployment names start with it. */
  readonly id: string;
  spec(): HelmReleaseDeclaration['spec'];
  /** Whom the agent applies the objects as (helm-release.ts impersonation()). */
  impersonation(): Promise<{ impersonate?: string }>;
}

/** What the releases carry over continue-as-new (their histories travel in the status). */
export interface ReleasesMemory {
  readonly reports: Readonly<Record<string, ReportSummary>>;
  readonly deployed: readonly string[];
  readonly hookPlans: Readonly<Record<string, Readonly<Record<string, readonly HookStepPlan[]>>>>;
  readonly holds: Readonly<Record<string, ReleaseHold>>;
  /** cluster → the rollout target (helm-release.ts targetKey) its current release was made for. */
  readonly rolledTargets?: Readonly<Record<string, string>>;
}

export class ClusterReleases {
  /** cluster → its Helm release history. */
  readonly histories: Map<string, ReleaseHistory>;
  /** `<cluster>|<deployment>` → the agent's latest report of that deployment. */
  private readonly reports: Map<string, ReportSummary>;
  /** `<cluster>|<deployment>` of every deployment set on an agent and not cleared since. */
  readonly deployed: Set<string>;
  /** hooksDigest → the hook steps of a render, so that a rollback runs the hooks of the revision it restores. */
  private readonly hookPlans: Map<string, Readonly<Record<string, readonly HookStepPlan[]>>>;
  /** cluster → the hold a `flotilla helm rollback` put on it. */
  private readonly holds: Map<string, ReleaseHold>;
  /** Set after a successful release; a cluster is at a rollout's target when this and its deployed chart version say so. */
  private readonly rolledTargets: Map<string, string>;

  constructor(private readonly owner: ReleaseOwner, histories: Readonly<Record<string, ReleaseHistory>>, memory: Partial<ReleasesMemory>) {
    this.histories = new Map(Object.entries(histories));
    this.reports = new Map(Object.entries(memory.reports ?? {}));
    this.deployed = new Set(memory.deployed ?? []);
    this.hookPlans = new Map(Object.entries(memory.hookPlans ?? {}));
    this.holds = new Map(Object.entries(memory.holds ?? {}));
    this.rolledTargets = new Map(Object.entries(memory.rolledTargets ?? {}));
  }

  memory(): ReleasesMemory {
    return {
      reports: Object.fromEntries(this.reports), deployed: [...this.deployed],
      hookPlans: Object.fromEntries(this.hookPlans), holds: Object.fromEntries(this.holds),
      ...(this.rolledTargets.size > 0 ? { rolledTargets: Object.fromEntries(this.rolledTargets) } : {}),
    };
  }

  private spec(): HelmReleaseDeclaration['spec'] {
    return this.owner.spec();
  }

  /** The cluster's history, empty when the release never ran there. */
  history(cluster: string): ReleaseHistory {
    return this.histories.get(cluster) ?? emptyHistory(this.spec().releaseName, this.spec().storageNamespace);
  }

  latest(cluster: string): ReleaseRevision | undefined {
    const h = this.histories.get(cluster);
    return h ? current(h) : undefined;
  }

  /** Keeps an agent's report; false when it is older than the one kept (a deletion report always counts). */
  report(cluster: string, report: ReportSummary): boolean {
    const key = reportKey(cluster, report.name);
    const previous = this.reports.get(key);
    if (report.phase !== 'DELETED' && previous && previous.phase !== 'DELETED' && previous.generation > report.generation) return false;
    this.reports.set(key, report);
    return true;
  }

  /** The revision `flotilla helm rollback` goes to: the one asked for, else the deployed one before the latest. Throws when there is none. */
  rollbackTarget(req: RollbackRequest): number {
    const releaseName = this.spec().releaseName;
    const h = this.histories.get(req.cluster);
    if (!h || h.revisions.length === 0) throw new Error(`release ${releaseName} has no history on cluster ${req.cluster}`);
    const latest = current(h);
    if (req.toRevision !== undefined) {
      const target = h.revisions.find((r) => r.revision === req.toRevision);
      if (!target) throw new Error(`revision ${req.toRevision} of ${releaseName} on ${req.cluster} does not exist (have ${h.revisions.map((r) => r.revision).join(', ')})`);
      if (target.status === 'failed' || target.status === 'uninstalled' || target.status.startsWith('pending')) throw new Error(`revision ${req.toRevision} is ${target.status}: roll back to a revision that was deployed`);
      return req.toRevision;
    }
    const previous = [...h.revisions].reverse().find((r) => r.revision !== latest?.revision && (r.status === 'superseded' || r.status === 'deployed'));
    if (!previous) throw new Error(`release ${releaseName} on ${req.cluster} has no earlier deployed revision to roll back to`);
    return previous.revision;
  }

  /**
   * Installs or upgrades the release on one cluster, remediating failures as the spec says.
   * `stepAttempt`: a rollout step's token, so that its deployments are applied again (see DesiredDeployment.attempt).
   */
  async releaseOn(cluster: string, plan: ReleasePlan, stepAttempt?: string): Promise<Outcome> {
    const r = plan.render;
    this.hookPlans.set(r.hooksDigest, r.hooks);
    const desired = { chartName: plan.chartName, chartVersion: plan.chartVersion, valuesDigest: r.valuesDigest, artifactDigest: r.artifactDigest };
    let h = this.history(cluster);
    // 1. Which action, if any (core/helm-release.ts nextReleaseAction: Flux's actionForState).
    const decision = nextReleaseAction(h, desired, { install: this.spec().install.remediation.retries, upgrade: this.spec().upgrade.remediation.retries }, this.holds.get(cluster));
    if (decision.kind === 'held') {
      return { cluster, ok: decision.deployed, reason: Reason.RolledBack, message: `held at revision ${decision.revision} by flotilla helm rollback until the chart or values change` };
    }
    this.holds.delete(cluster);
    if (decision.kind === 'in-sync') return { cluster, ok: true, reason: Reason.ReconciliationSucceeded, message: `revision ${decision.revision} deployed` };
    if (decision.kind === 'retries-exhausted') return { cluster, ok: false, reason: Reason.RetriesExceeded, message: retriesSpentMessage(plan, decision) };
    let action = decision.kind;
    if (decision.desiredChanged) h = this.save(cluster, resetFailures(h)); // a new desired state gets its retries afresh
    const remediationSpec = { install: this.spec().install.remediation, upgrade: this.spec().upgrade.remediation };
    // 2. helm --create-namespace: the namespace exists before any hook runs. Kept on a
    //    remediation uninstall; removed when the HelmRelease is deleted.
    if (r.namespaceDigest !== undefined) {
      const ns = await this.deployAndWait(cluster, `${this.owner.id}/namespace`, r.namespaceDigest, 0, stepAttempt);
      if (!ns.ok) return { cluster, ok: false, reason: Reason.InstallFailed, message: `cannot create namespace ${this.spec().targetNamespace}: ${ns.message}` };
    }
    // 3. The action as a new revision; a failure is remediated as remediation() says (Flux's
    //    AtomicRelease: the failed revision is rolled back or uninstalled, or left to look at).
    for (;;) {
      const begin = beginRevision(h, {
        action, chartName: plan.chartName, chartVersion: plan.chartVersion, ...(plan.appVersion !== undefined ? { appVersion: plan.appVersion } : {}),
        valuesDigest: r.valuesDigest, artifactDigest: r.artifactDigest, hooksDigest: r.hooksDigest,
      }, now());
      h = this.save(cluster, begin.history);
      const result = await this.runAction(cluster, action, r.artifactDigest, r.hooks, this.spec()[action].timeoutSeconds, !this.spec()[action].disableWait, stepAttempt);
      h = this.save(cluster, finishRevision(h, begin.revision, { ok: result.ok, description: result.ok ? `${action === 'install' ? 'Install' : 'Upgrade'} complete` : result.message }, now()));
      if (result.ok) {
        h = this.save(cluster, prune(h, this.spec().maxHistory));
        return { cluster, ok: true, reason: action === 'install' ? Reason.InstallSucceeded : Reason.UpgradeSucceeded, message: `revision ${begin.revision}: ${plan.chartName}@${plan.chartVersion}` };
      }
      const failed = `${action} to ${plan.chartName}@${plan.chartVersion} (revision ${begin.revision}) failed: ${result.message}`;
      const failedReason = action === 'install' ? Reason.InstallFailed : Reason.UpgradeFailed;
      const next = remediation(h, remediationSpec, action);
      if (next.kind === 'retry') {
        if (action === 'install' || this.spec().upgrade.remediation.strategy === 'uninstall') {
          h = await this.uninstallOn(cluster, `remediating: ${failed}`);
          action = 'install';
        } else {
          const target = lastDeployed(h);
          if (target) h = await this.rollbackOn(cluster, target.revision, 'remediation');
        }
        continue;
      }
      if (next.kind === 'rollback') {
        h = await this.rollbackOn(cluster, next.toRevision, 'remediation');
        return { cluster, ok: false, reason: Reason.UpgradeFailed, message: `${failed}; rolled back to revision ${next.toRevision}` };
      }
      if (next.kind === 'uninstall') {
        h = await this.uninstallOn(cluster, `remediating: ${failed}`);
        return { cluster, ok: false, reason: failedReason, message: `${failed}; uninstalled` };
      }
      return { cluster, ok: false, reason: next.kind === 'stalled' ? next.reason : failedReason, message: failed };
    }
  }

  /** pre-<event> hooks, the release's objects, post-<event> hooks. */
  private async runAction(
    cluster: string, event: 'install' | 'upgrade' | 'rollback', artifactDigest: string,
    hooks: Readonly<Record<string, readonly HookStepPlan[]>>, timeoutSeconds: number, wait: boolean, attempt?: string,
  ): Promise<{ ok: boolean; message: string }> {
    for (const step of hooks[`pre-${event}`] ?? []) {
      const r = await this.runHook(cluster, `pre-${event}`, step, timeoutSeconds, attempt);
      if (!r.ok) return r;
    }
    const main = await this.deployAndWait(cluster, this.owner.id, artifactDigest, wait ? timeoutSeconds : 0, attempt);
    if (!main.ok) return main;
    for (const step of hooks[`post-${event}`] ?? []) {
      const r = await this.runHook(cluster, `post-${event}`, step, timeoutSeconds, attempt);
      if (!r.ok) return r;
    }
    return { ok: true, message: main.message };
  }

  /** One weight of one hook event, with Helm's delete policies. */
  private async runHook(cluster: string, event: string, step: HookStepPlan, timeoutSeconds: number, attempt?: string): Promise<{ ok: boolean; message: string }> {
    const name = `${this.owner.id}/hooks/${event}/${step.weight}`;
    if (step.deletePolicies.includes('before-hook-creation')) await this.clearAndWait(cluster, name);
    const r = await this.deployAndWait(cluster, name, step.artifactDigest, timeoutSeconds, attempt);
    if ((r.ok && step.deletePolicies.includes('hook-succeeded')) || (!r.ok && step.deletePolicies.includes('hook-failed'))) {
      await this.clearAndWait(cluster, name);
    }
    return r.ok ? r : { ok: false, message: `${event} hook ${step.objects.join(', ')} failed: ${r.message}` };
  }

  /** Sets a deployment on the cluster's agent and waits for its report of that generation. */
  async deployAndWait(
    cluster: string, name: string, artifactDigest: string, healthTimeoutSeconds: number, attempt?: string,
  ): Promise<{ ok: boolean; message: string }> {
    const key = reportKey(cluster, name);
    const set = await setClusterDeployment({
      cluster, name, owner: this.owner.id, artifactDigest,
      options: { prune: true, force: false, correctDrift: true, defaultNamespace: this.spec().targetNamespace, healthTimeoutSeconds, ...await this.owner.impersonation() },
      ...(attempt !== undefined ? { attempt } : {}),
    });
    this.deployed.add(key);
    const settled = (): boolean => {
      const r = this.reports.get(key);
      return r !== undefined && r.phase !== 'DELETED' && r.generation >= set.generation && TERMINAL.has(r.phase);
    };
    const seconds = (healthTimeoutSeconds > 0 ? healthTimeoutSeconds : 60) + REPORT_GRACE_SECONDS;
    if (!await condition(settled, seconds * 1000)) return { ok: false, message: `no report from cluster ${cluster} within ${seconds}s (agent disconnected?)` };
    const r = this.reports.get(key);
    return { ok: r?.phase === 'READY', message: r?.message ?? '' };
  }

  private async clearAndWait(cluster: string, name: string): Promise<void> {
    const key = reportKey(cluster, name);
    if (!this.deployed.has(key)) return;
    this.reports.delete(key);
    await clearClusterDeployment({ cluster, name });
    this.deployed.delete(key);
    await condition(() => this.reports.get(key)?.phase === 'DELETED', DELETE_WAIT_SECONDS * 1000);
  }

  /** A new revision restoring an earlier one's exact artifact (no re-render), with its rollback hooks. */
  async rollbackOn(cluster: string, toRevision: number, why: string): Promise<ReleaseHistory> {
    let h = this.history(cluster);
    const target = h.revisions.find((r) => r.revision === toRevision);
    if (!target) return h;
    const begin = beginRollback(h, toRevision, now());
    h = this.save(cluster, begin.history);
    const hooks = (target.hooksDigest !== undefined ? this.hookPlans.get(target.hooksDigest) : undefined) ?? {};
    const result = await this.runAction(cluster, 'rollback', target.artifactDigest, hooks, this.spec().rollback.timeoutSeconds, true);
    return this.save(cluster, finishRevision(h, begin.revision, { ok: result.ok, description: result.ok ? `Rollback to ${toRevision} (${why})` : `rollback to ${toRevision} failed: ${result.message}` }, now()));
  }

  /** `flotilla helm rollback`: the rollback, then a hold on it until the desired chart or values change. */
  async manualRollback(cluster: string, toRevision: number): Promise<void> {
    const h = await this.rollbackOn(cluster, toRevision, 'flotilla helm rollback');
    this.rolledTargets.delete(cluster); // it runs an earlier revision now, whatever target that was
    const r = current(h);
    // Hold against what the next reconcile would re-apply (the latest install/upgrade), so the
    // rollback stays until the desired chart or values change.
    const wanted = [...h.revisions].reverse().find((x) => x.action !== 'rollback');
    if (r?.status === 'deployed' && wanted) {
      this.holds.set(cluster, { chartVersion: wanted.chartVersion, valuesDigest: wanted.valuesDigest, artifactDigest: wanted.artifactDigest, revision: r.revision });
    }
  }

  /** Clears the release's deployments from the cluster (the created namespace too unless `keepNamespace`) and records the uninstall. */
  async uninstallOn(cluster: string, why: string, keepNamespace = true): Promise<ReleaseHistory> {
    for (const key of [...this.deployed].filter((k) => k.startsWith(`${cluster}|`))) {
      const name = key.slice(cluster.length + 1);
      if (keepNamespace && name === `${this.owner.id}/namespace`) continue;
      await this.clearAndWait(cluster, name);
    }
    const h = this.history(cluster);
    this.rolledTargets.delete(cluster);
    return this.save(cluster, markUninstalled(h, now(), `Uninstallation complete (${why})`, { keepHistory: true }));
  }

  /** Whether a deployment of the release other than its namespace is left on the cluster. */
  hasLeftovers(cluster: string): boolean {
    return [...this.deployed].some((k) => k.startsWith(`${cluster}|`) && k !== reportKey(cluster, `${this.owner.id}/namespace`));
  }

  save(cluster: string, h: ReleaseHistory): ReleaseHistory {
    this.histories.set(cluster, h);
    return h;
  }

  // Rollout targets --------------------------------------------------------------------

  /** Notes the target a successful release brought the cluster to (a hold keeps an older revision: not at the target). */
  released(cluster: string, outcome: Outcome, target: string): Outcome {
    if (outcome.ok && outcome.reason !== Reason.RolledBack) this.rolledTargets.set(cluster, target);
    return outcome;
  }

  /** The cluster runs the target: its current revision is deployed, of that chart version, and was released for that target. */
  atTarget(cluster: string, chartVersion: string, target: string): boolean {
    const latest = this.latest(cluster);
    return latest?.status === 'deployed' && latest.chartVersion === chartVersion && this.rolledTargets.get(cluster) === target;
  }

  targetOf(cluster: string): string | undefined {
    return this.rolledTargets.get(cluster);
  }

  restoreTarget(cluster: string, target: string | undefined): void {
    if (target === undefined) this.rolledTargets.delete(cluster);
    else this.rolledTargets.set(cluster, target);
  }

  forgetTarget(cluster: string): void {
    this.rolledTargets.delete(cluster);
  }

  /** Each placed cluster's status: the outcome of this reconcile where there is one, else what its history says. */
  clusterStatuses(placed: readonly string[], outcomes: readonly Outcome[]): HelmReleaseClusterStatus[] {
    return placed.map((cluster): HelmReleaseClusterStatus => {
      const latest = this.latest(cluster);
      const o = outcomes.find((x) => x.cluster === cluster);
      const ready = o ? o.ok : latest?.status === 'deployed';
      return {
        cluster, ready: ready ? 'True' : 'False', reason: o?.reason ?? latest?.status ?? Reason.NotInstalled, message: o?.message ?? latest?.description ?? '',
        revision: latest?.revision ?? 0, chartVersion: latest?.chartVersion ?? '', releaseStatus: latest?.status ?? '', updatedAt: now(),
      };
    });
  }
}

export function reportKey(cluster: string, deployment: string): string {
  return `${cluster}|${deployment}`;
}

/** "podinfo@6.5.0 rev 3" (for people), "" for none. */
export function describe(r: ReleaseRevision | undefined): string {
  return r ? `${r.chartName}@${r.chartVersion} rev ${r.revision}` : '';
}

function retriesSpentMessage(plan: ReleasePlan, d: Extract<ReleaseDecision, { kind: 'retries-exhausted' }>): string {
  const running = d.running
    ? `; revision ${d.running.revision}${d.running.rolledBackTo !== undefined ? ` (rolled back to revision ${d.running.rolledBackTo})` : ''} keeps running`
    : '';
  return `${d.action} to ${plan.chartName}@${plan.chartVersion} (revision ${d.attempt.revision}) failed and its retries are spent${running}: ${d.attempt.description}`;
}
