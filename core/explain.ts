// `flotilla explain <kind>/<name> --cluster c`: why a cluster is (or is not) at the latest
// revision of a Kustomization or HelmRelease, in one sentence with the evidence it rests on.
// Pure: it reads statuses the CLI (or the dashboard) fetched; the order of the checks is the
// order in which the causes block delivery (registration, placement, suspension,
// dependencies, the build, the rollout, the agent, health).
import { formatDuration } from './declarations/duration.js';
import type { LabelSelector, Placement } from './declarations/types.js';
import { shortRevision } from './revision.js';

export type ExplainVerdict =
  | 'UpToDate' | 'Unhealthy' | 'NotRegistered' | 'NotPlaced' | 'Suspended' | 'DependencyNotReady' | 'BuildFailed'
  | 'HeldInRollout' | 'WaitingApproval' | 'RolloutFailed' | 'NotInRollout' | 'AgentUnreachable' | 'Delivering' | 'NoRevision'
  | 'Removed';

export interface Explanation {
  readonly verdict: ExplainVerdict;
  readonly sentence: string;
  readonly evidence: readonly string[];
}

/** What explain needs of the declaration, whichever kind it is. */
export interface ExplainSubject {
  readonly id: string;
  readonly kind: 'Kustomization' | 'HelmRelease';
  readonly placement: Placement;
  readonly suspended: boolean;
  readonly suspendedBySpec: boolean;
  readonly ready?: { readonly status: string; readonly reason: string; readonly message: string };
  /** The newest revision the declaration knows (source revision, or chart version). */
  readonly latest: string;
  /** Whether `latest` is what its last reconcile built/released (false: it failed before delivery). */
  readonly latestAttempted: boolean;
  readonly placed: readonly string[];
  /**
   * The owner's summary of the cluster (its status.clusters entry). It says what the owner last
   * delivered and outlives a removal (a deleted HelmRelease keeps its last entries): it is never
   * taken as evidence of what runs now; `desired`, `report` and `release` are.
   */
  readonly cluster?: { readonly revision: string; readonly ready: string; readonly reason: string; readonly message: string; readonly updatedAt: number };
  /**
   * The hub's record of the cluster (ClusterStatus.desired): the generation of this deployment
   * the cluster is to run now, and whether the agent checks its health (spec.wait, health
   * checks: the agent waits for every object to be Current). Absent: the cluster's desired
   * state has no such deployment (never given, or removed).
   */
  readonly desired?: { readonly generation: number; readonly healthChecks: boolean };
  /** The agent's last report on this deployment (ClusterStatus.reports); absent: none. */
  readonly report?: ExplainReport;
  /** HelmRelease: the release's latest revision on the cluster (its Helm history); absent: never released there. */
  readonly release?: {
    readonly revision: number;
    readonly chartVersion: string;
    /** Helm's status: deployed, failed, pending-install, uninstalled, … */
    readonly status: string;
    readonly description: string;
    /** ms since epoch it finished (or started, while pending). */
    readonly at: number;
  };
  readonly rollout?: {
    readonly phase: string;
    readonly revision: string;
    readonly failed: boolean;
    readonly message: string;
    readonly clusterPhase?: string;
    readonly wave?: string;
    readonly waveIndex?: number;
    readonly waves: number;
    readonly currentWave?: { readonly name: string; readonly phase: string };
    readonly unselected: boolean;
  };
}

export interface ExplainReport {
  readonly generation: number;
  /** READY, UNHEALTHY, INVALID, FAILED, APPLYING or DELETED. */
  readonly phase: string;
  readonly message: string;
  /** ms since epoch */
  readonly finishedAt: number;
}

export interface ExplainCluster {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly connection: string;
  readonly connectionSince: number;
}

function labelsText(labels: Readonly<Record<string, string>>): string {
  const parts = Object.entries(labels).map(([k, v]) => `${k}=${v}`);
  return parts.length ? parts.join(',') : 'no labels';
}

function selectorText(s: LabelSelector): string {
  const parts = [
    ...Object.entries(s.matchLabels).map(([k, v]) => `${k}=${v}`),
    ...s.matchExpressions.map((e) => `${e.key} ${e.operator}${e.values.length ? ` (${e.values.join(',')})` : ''}`),
  ];
  return parts.join(', ') || 'everything';
}

function placementText(p: Placement): string {
  if (p.hub) return 'the hub itself (placement.hub)';
  if (p.clusters.length === 0 && p.clusterSelector === undefined) return 'every registered cluster';
  return [
    ...(p.clusters.length ? [`clusters ${p.clusters.join(', ')}`] : []),
    ...(p.clusterSelector ? [`clusters matching ${selectorText(p.clusterSelector)}`] : []),
  ].join(' or ');
}

const BAD_PHASES = new Set(['UNHEALTHY', 'INVALID', 'FAILED']);

function at(ms: number, now: number): string {
  return `${new Date(ms).toISOString()} (${formatDuration(now - ms)} ago)`;
}

/** "generation 3, READY, 2026-…Z (5m ago)" */
export function reportText(r: ExplainReport, now: number): string {
  return `generation ${r.generation}, ${r.phase}, ${at(r.finishedAt, now)}`;
}

/**
 * What runs on the cluster now, from current evidence only: the cluster's desired state, the
 * agent's last report on it and (HelmRelease) the release's history. The owner's summary
 * (`s.cluster`) only tells that something was delivered once.
 */
export type Live =
  /** Nothing of it runs there any more (uninstalled, removed, pruned). */
  | { readonly state: 'gone'; readonly sentence: string }
  /** The agent reported the generation the hub wants READY. */
  | { readonly state: 'ready'; readonly report: ExplainReport; readonly generation: number; readonly healthChecks: boolean }
  /** The generation the hub wants failed (UNHEALTHY, INVALID, FAILED), or the release did. */
  | { readonly state: 'failed'; readonly sentence: string; readonly phase: string; readonly message: string; readonly report?: ExplainReport }
  /** No outcome for the generation the hub wants yet: `why` says what is known. */
  | { readonly state: 'pending'; readonly why: string };

export function liveState(s: ExplainSubject, clusterName: string, now: number): Live {
  const d = s.desired;
  const r = s.report;
  const rel = s.release;
  if (rel?.status === 'uninstalled') {
    return { state: 'gone', sentence: `${s.id} was uninstalled from ${clusterName} at ${at(rel.at, now)}${rel.description ? ` (${rel.description})` : ''}; nothing runs there.` };
  }
  const nothing = s.kind === 'HelmRelease' ? 'nothing runs there' : 'nothing of it is managed there (its objects were pruned, or left unmanaged with prune: false)';
  if (!d) {
    if (r?.phase === 'DELETED') {
      return { state: 'gone', sentence: `${s.id} was removed from ${clusterName} at ${at(r.finishedAt, now)} (the agent reported it deleted); ${nothing}.` };
    }
    if (r || s.cluster?.revision || rel) {
      return {
        state: 'gone',
        sentence: `${s.id} is no longer in ${clusterName}'s desired state: the hub removed it${r ? ` (the agent's last report, ${reportText(r, now)}, is about what ran before)` : ''}; ${nothing}.`,
      };
    }
    return { state: 'pending', why: `nothing of ${s.id} has been given to ${clusterName} yet (its desired state has no such deployment)` };
  }
  const current = r !== undefined && r.phase !== 'DELETED' && r.generation === d.generation ? r : undefined;
  if (current && BAD_PHASES.has(current.phase)) {
    const what = current.phase === 'UNHEALTHY' ? 'it is not available' : `it failed to apply (${current.phase})`;
    return { state: 'failed', phase: current.phase, message: current.message, report: current, sentence: `${what}: ${shortRevision(current.message)} (the agent's last report, ${reportText(current, now)})` };
  }
  if (rel && rel.status !== 'deployed') {
    if (rel.status === 'failed') {
      return { state: 'failed', phase: 'failed', message: rel.description, sentence: `release revision ${rel.revision} (${rel.chartVersion}) failed: ${rel.description}` };
    }
    return { state: 'pending', why: `release revision ${rel.revision} (${rel.chartVersion}) is ${rel.status} since ${at(rel.at, now)}` };
  }
  if (s.kind === 'HelmRelease' && !rel) return { state: 'pending', why: `its history has no release on ${clusterName}` };
  if (current?.phase === 'READY') return { state: 'ready', report: current, generation: d.generation, healthChecks: d.healthChecks };
  if (current) return { state: 'pending', why: `the agent reports generation ${d.generation} ${current.phase} (${at(current.finishedAt, now)})` };
  const last = r === undefined ? 'none'
    : r.phase === 'DELETED' ? `it deleted an earlier one, ${at(r.finishedAt, now)}`
    : r.generation > d.generation ? `${reportText(r, now)}, about an earlier deployment of the same name`
    : reportText(r, now);
  return { state: 'pending', why: `the agent has not reported generation ${d.generation} yet (its last report: ${last})` };
}

/** "healthy at the agent's last report (generation 3, …)" or why health is not known; never "healthy" without a READY report with health checks. */
function readyText(l: Extract<Live, { state: 'ready' }>, now: number): string {
  return l.healthChecks
    ? `it was healthy at the agent's last report (${reportText(l.report, now)}, health checks on)`
    : `the agent applied it (${reportText(l.report, now)}), but without health checks (no wait), so whether its workloads are available is not known`;
}

/**
 * Why `clusterName` is (not) at `s`'s latest revision. `withEvidence: false` skips the
 * evidence lines (the dashboard explains thousands of cells and shows only the sentence).
 */
function pushEvidence(s: ExplainSubject, clusterName: string, cluster: ExplainCluster | undefined, now: number, evidence: string[]): void {
  if (s.ready) evidence.push(`${s.id}: Ready=${s.ready.status} ${s.ready.reason}: ${shortRevision(s.ready.message)}`);
  if (s.latest) evidence.push(`latest revision: ${shortRevision(s.latest)}`);
  const c = s.cluster;
  if (c) evidence.push(`on ${clusterName} (the owner's record): ${c.revision ? shortRevision(c.revision) : 'nothing yet'}, Ready=${c.ready} ${c.reason}${c.message ? `: ${shortRevision(c.message)}` : ''}`);
  if (cluster) {
    evidence.push(`cluster ${clusterName}: agent ${cluster.connection} for ${formatDuration(now - cluster.connectionSince)}, ${labelsText(cluster.labels)}`);
    evidence.push(s.desired
      ? `desired on ${clusterName}: generation ${s.desired.generation}, health checks ${s.desired.healthChecks ? 'on' : 'off'}`
      : `desired on ${clusterName}: none (the cluster's desired state has no ${s.id})`);
    evidence.push(`agent's last report: ${s.report ? `${reportText(s.report, now)}${s.report.message ? `: ${shortRevision(s.report.message)}` : ''}` : 'none'}`);
  }
  const rel = s.release;
  if (rel) evidence.push(`release on ${clusterName}: revision ${rel.revision}, chart ${rel.chartVersion || '-'}, ${rel.status}${rel.description ? ` (${rel.description})` : ''}, ${at(rel.at, now)}`);
}

export function explain(s: ExplainSubject, clusterName: string, cluster: ExplainCluster | undefined, now: number, withEvidence = true): Explanation {
  const ref = s.id; // the id form (kustomization/<ns>/<name>) every flotilla command accepts
  const evidence: string[] = [];
  if (withEvidence) pushEvidence(s, clusterName, cluster, now, evidence);
  const latest = shortRevision(s.latest);
  const c = s.cluster;
  const out = (verdict: ExplainVerdict, sentence: string): Explanation => ({ verdict, sentence, evidence });


  if (!cluster) return out('NotRegistered', `${clusterName} is not a registered cluster: no agent has registered under that name (see flotilla get clusters; register one with flotilla cluster token create).`);
  if (!s.placed.includes(clusterName)) {
    if (withEvidence) evidence.push(`placement: ${placementText(s.placement)}`);
    return out('NotPlaced', `${s.id} is not placed on ${clusterName}: its placement selects ${placementText(s.placement)}, and ${clusterName} has ${labelsText(cluster.labels)}.`);
  }
  if (s.suspended) {
    return out('Suspended', `${s.id} is suspended (${s.suspendedBySpec ? 'spec.suspend: true' : 'flotilla suspend'}), so nothing new reaches ${clusterName} until it is resumed${s.suspendedBySpec ? ' in its declaration' : ` (flotilla resume ${ref})`}.`);
  }
  if (!s.latest) return out('NoRevision', `${s.id} has no revision yet: its source has not produced an artifact (see flotilla get sources).`);
  const atLatest = c !== undefined && c.revision === s.latest;
  if (s.ready?.reason === 'DependencyNotReady' && !atLatest) {
    return out('DependencyNotReady', `${clusterName} waits on ${s.id}'s dependsOn: ${s.ready.message}.`);
  }
  if (!s.latestAttempted && !atLatest && s.ready?.status === 'False') {
    return out('BuildFailed', `${latest} never reached ${clusterName}: ${s.kind === 'Kustomization' ? 'its build' : 'its chart or render'} failed (${s.ready.reason}): ${shortRevision(s.ready.message)}.`);
  }
  const live = liveState(s, clusterName, now);
  const unreachable = cluster.connection !== 'Connected' ? `its agent is ${cluster.connection} since ${formatDuration(now - cluster.connectionSince)} ago` : undefined;
  if (atLatest) {
    // The owner delivered the latest revision once; what runs now is the cluster's evidence.
    if (live.state === 'gone') return out('Removed', live.sentence);
    if (unreachable) {
      const last = live.state === 'ready' ? `the agent last reported it READY (${reportText(live.report, now)})`
        : live.state === 'failed' ? live.sentence : live.why;
      return out('AgentUnreachable', `${clusterName} was given ${latest}, but ${unreachable}, so what runs there now is unknown (${last}).`);
    }
    if (live.state === 'ready') return out('UpToDate', `${clusterName} runs the latest revision ${latest} and ${readyText(live, now)}.`);
    if (live.state === 'failed') return out('Unhealthy', `${clusterName} was given the latest revision ${latest}, but ${live.sentence}.`);
    return out('Delivering', `${clusterName} was given ${latest}, but ${live.why}.`);
  }
  const r = s.rollout;
  if (r) {
    if (withEvidence) evidence.push(`rollout of ${shortRevision(r.revision)}: ${r.phase}${r.message ? `: ${shortRevision(r.message)}` : ''}`);
    if (r.failed) {
      return out('RolloutFailed', `the rollout of ${shortRevision(r.revision)} failed and was rolled back, so ${clusterName} stays at ${c?.revision ? shortRevision(c.revision) : 'what it had'} until \`flotilla rollout retry ${ref}\` or a newer revision.`);
    }
    if (r.unselected) {
      return out('NotInRollout', `no wave of ${s.id}'s rollout selects ${clusterName}, so rollouts leave it alone; add it to a wave (spec.rollout.waves).`);
    }
    if (r.phase === 'WaitingApproval' && r.currentWave) {
      return out('WaitingApproval', `${clusterName} is in wave ${r.wave ?? '?'}; the rollout waits for approval of wave ${r.currentWave.name} (flotilla rollout approve ${ref}).`);
    }
    if (!['Succeeded', 'RolledBack', 'Failed', 'Aborted', 'Superseded'].includes(r.phase) && (r.clusterPhase === 'Pending' || r.clusterPhase === undefined)) {
      const where = r.currentWave ? `; wave ${r.currentWave.name} is ${r.currentWave.phase}` : '';
      return out('HeldInRollout', `${clusterName} is held in rollout wave ${r.wave ?? '?'} (${(r.waveIndex ?? 0) + 1} of ${r.waves})${where}: it gets ${shortRevision(r.revision)} when its wave starts.`);
    }
  }
  if (live.state === 'gone') return out('Removed', live.sentence);
  if (unreachable) {
    return out('AgentUnreachable', `${clusterName}'s agent is ${cluster.connection} since ${formatDuration(now - cluster.connectionSince)} ago: the hub will deliver ${latest} when it reconnects.`);
  }
  if (c && c.ready === 'False') {
    return out('Unhealthy', `${clusterName} did not take ${latest}: ${c.reason}: ${shortRevision(c.message)}.`);
  }
  return out('Delivering', `${latest} is on its way to ${clusterName} (being applied or awaiting the agent's report).`);
}

/**
 * `flotilla trace`'s health line for the deployment on the cluster, or for one object it
 * delivers (`object`: "Deployment/apps/web", as the agent names objects). From the agent's
 * last report only: it reports per deployment, so an object's health is what that report says
 * of it (an UNHEALTHY report names the objects that were not Current).
 */
export function healthLine(s: ExplainSubject, clusterName: string, cluster: ExplainCluster | undefined, now: number, object?: string): string {
  const live = liveState(s, clusterName, now);
  const stale = cluster && cluster.connection !== 'Connected' ? `; its agent is ${cluster.connection} since ${formatDuration(now - cluster.connectionSince)} ago, so this may be out of date` : '';
  if (live.state === 'gone') return `gone: ${live.sentence}`;
  if (live.state === 'pending') return `unknown: no current report: ${live.why}${stale}`;
  if (live.state === 'failed') {
    if (object !== undefined && live.phase === 'UNHEALTHY' && live.report) {
      const mine = live.message.split('; ').filter((m) => m.startsWith(`${object}:`));
      if (mine.length > 0) return `not available: ${mine.join('; ')} (the deployment's last report, ${reportText(live.report, now)})${stale}`;
      return `unknown: the deployment's last report is UNHEALTHY about other objects (${shortRevision(live.message)}); it does not name ${object}${stale}`;
    }
    return `not ready: ${live.sentence}${stale}`;
  }
  const of = object ? `${object}: ` : '';
  return live.healthChecks
    ? `${of}healthy at the deployment's last report (${reportText(live.report, now)}, health checks on: every object was Current)${stale}`
    : `${of}unknown: the deployment's last report (${reportText(live.report, now)}) applied it without health checks (no wait), so its availability is not reported${stale}`;
}
