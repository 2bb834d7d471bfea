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
  | 'HeldInRollout' | 'WaitingApproval' | 'RolloutFailed' | 'NotInRollout' | 'AgentUnreachable' | 'Delivering' | 'NoRevision';

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
  readonly cluster?: { readonly revision: string; readonly ready: string; readonly reason: string; readonly message: string; readonly updatedAt: number };
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

/**
 * Why `clusterName` is (not) at `s`'s latest revision. `withEvidence: false` skips the
 * evidence lines (the dashboard explains thousands of cells and shows only the sentence).
 */
function pushEvidence(s: ExplainSubject, clusterName: string, cluster: ExplainCluster | undefined, now: number, evidence: string[]): void {
  if (s.ready) evidence.push(`${s.id}: Ready=${s.ready.status} ${s.ready.reason}: ${shortRevision(s.ready.message)}`);
  if (s.latest) evidence.push(`latest revision: ${shortRevision(s.latest)}`);
  const c = s.cluster;
  if (c) evidence.push(`on ${clusterName}: ${c.revision ? shortRevision(c.revision) : 'nothing yet'}, Ready=${c.ready} ${c.reason}${c.message ? `: ${shortRevision(c.message)}` : ''}`);
  if (cluster) evidence.push(`cluster ${clusterName}: agent ${cluster.connection} for ${formatDuration(now - cluster.connectionSince)}, ${labelsText(cluster.labels)}`);
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
  if (atLatest) {
    if (c.ready === 'True') return out('UpToDate', `${clusterName} runs the latest revision ${latest} and it is healthy.`);
    if (cluster.connection !== 'Connected') {
      return out('AgentUnreachable', `${clusterName} was given ${latest}, but its agent is ${cluster.connection} since ${formatDuration(now - cluster.connectionSince)} ago, so its health is unknown.`);
    }
    return out('Unhealthy', `${clusterName} runs the latest revision ${latest}, but it is not healthy (${c.reason}): ${shortRevision(c.message)}.`);
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
  if (cluster.connection !== 'Connected') {
    return out('AgentUnreachable', `${clusterName}'s agent is ${cluster.connection} since ${formatDuration(now - cluster.connectionSince)} ago: the hub will deliver ${latest} when it reconnects.`);
  }
  if (c && c.ready === 'False') {
    return out('Unhealthy', `${clusterName} did not take ${latest}: ${c.reason}: ${shortRevision(c.message)}.`);
  }
  return out('Delivering', `${latest} is on its way to ${clusterName} (being applied or awaiting the agent's report).`);
}
