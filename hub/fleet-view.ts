// The fleet as one value: every cluster actor's status, every declaration's status and the
// latest rollout of each deployment, read together. The dashboard renders it, the metrics
// export it, and `explainSubject` turns one deployment × cluster of it into the facts
// core/explain.ts weighs (the CLI's `explain` and the dashboard give the same answer).
import type { ClusterStatus, DesiredDeployment, ReportSummary } from '../api/cluster.js';
import type { RolloutStatus } from '../api/rollout.js';
import { mapLimited } from '../core/concurrency.js';
import type { ExplainSubject } from '../core/explain.js';
import { current } from '../core/helm-release.js';
import { NotFoundError, type ActorKind, type ActorStatus, type DeclarationClient } from './declarations.js';
import type { ObjectInfoRow, RolloutPhaseRow } from './metrics.js';

/** A Kustomization or HelmRelease: what is placed on clusters. */
export type Placed = Extract<ActorStatus, { kind: 'Kustomization' | 'HelmRelease' }>;

export function isPlaced(s: ActorStatus): s is Placed {
  return s.kind === 'Kustomization' || s.kind === 'HelmRelease';
}

export interface FleetSnapshot {
  /** ms since epoch when the reading started. */
  readonly takenAt: number;
  /** How long the reading took (ms). */
  readonly tookMs: number;
  readonly clusters: readonly ClusterStatus[];
  /** Sources first, then deployments; each kind sorted by id. */
  readonly declarations: readonly ActorStatus[];
  /** The latest rollout of each deployment that has had one, by the deployment's id. */
  readonly rollouts: ReadonlyMap<string, RolloutStatus>;
}

const SNAPSHOT_KINDS: readonly ActorKind[] = ['GitRepository', 'HelmRepository', 'Kustomization', 'HelmRelease'];

/** Reads the whole fleet, `parallel` queries at a time. Declarations deleted meanwhile are left out. */
export async function takeSnapshot(client: DeclarationClient, parallel = 16): Promise<FleetSnapshot> {
  const takenAt = Date.now();
  const [clusters, ids] = await Promise.all([
    client.clusters(),
    Promise.all(SNAPSHOT_KINDS.map((k) => client.list(k))).then((lists) => lists.flat()),
  ]);
  const statuses = await mapLimited(ids, parallel, async (id) => {
    try {
      return await client.status(id);
    } catch (err) {
      if (err instanceof NotFoundError) return undefined;
      throw err;
    }
  });
  const declarations = statuses.filter((s): s is ActorStatus => s !== undefined);
  const withRollouts = declarations.filter(isPlaced).filter((s) => s.status.rollout !== undefined);
  const rollouts = new Map<string, RolloutStatus>();
  await mapLimited(withRollouts, parallel, async (s) => {
    const r = await client.rolloutStatus(s.status.id);
    if (r) rollouts.set(s.status.id, r);
  });
  return { takenAt, tookMs: Date.now() - takenAt, clusters, declarations, rollouts };
}

/**
 * One reading shared by every request within `maxAgeMs`: a page view, a metrics scrape and the
 * live views' polls do not each query every actor. Concurrent callers wait for one reading.
 */
export class SnapshotCache {
  private last: FleetSnapshot | undefined;
  private pending: Promise<FleetSnapshot> | undefined;

  constructor(private readonly take: () => Promise<FleetSnapshot>, private readonly maxAgeMs = 1_000) {}

  async get(): Promise<FleetSnapshot> {
    if (this.last && Date.now() - this.last.takenAt - this.last.tookMs < this.maxAgeMs) return this.last;
    this.pending ??= this.take().then((s) => { this.last = s; return s; }).finally(() => { this.pending = undefined; });
    return this.pending;
  }
}

/** One cluster's record on the hub, by deployment name: what it is to run and what its agent last reported. */
export interface ClusterFacts {
  readonly desired: ReadonlyMap<string, DesiredDeployment>;
  readonly reports: ReadonlyMap<string, ReportSummary>;
}

/** Indexes the clusters' desired states and reports once (the dashboard explains every cell). */
export function clusterFacts(clusters: readonly ClusterStatus[]): ReadonlyMap<string, ClusterFacts> {
  return new Map(clusters.map((c) => [c.name, {
    desired: new Map(c.desired.deployments.map((d) => [d.name, d])),
    reports: new Map(c.reports.map((r) => [r.name, r])),
  }]));
}

/**
 * The facts explain() weighs, gathered from the actor, its rollout and the cluster's record on
 * the hub (`clusterStatus`: its desired state and the agent's reports, the evidence of what
 * runs there now; without it nothing is known to run there).
 */
export function explainSubject(s: Placed, cluster: string, rollout: RolloutStatus | undefined, clusterStatus?: ClusterStatus): ExplainSubject {
  return explainSubjects(s, rollout, clusterFacts(clusterStatus ? [clusterStatus] : []))(cluster);
}

/**
 * explainSubject for many clusters of one deployment: what does not depend on the cluster is
 * worked out once, and the per-cluster statuses are looked up by name (the dashboard asks for
 * every cluster of the fleet).
 */
export function explainSubjects(s: Placed, rollout: RolloutStatus | undefined, facts: ReadonlyMap<string, ClusterFacts> = new Map()): (cluster: string) => ExplainSubject {
  const ready = s.status.conditions.find((c) => c.type === 'Ready');
  const base = {
    id: s.status.id, placement: s.declaration.kind === 'Kustomization' || s.declaration.kind === 'HelmRelease' ? s.declaration.spec.placement : { clusters: [], hub: false },
    suspended: s.status.suspended, suspendedBySpec: s.declaration.spec.suspend,
    ...(ready ? { ready: { status: ready.status, reason: ready.reason, message: ready.message } } : {}),
    placed: s.status.placed,
  };
  const tracking = s.status.rollout;
  const rolloutClusters = new Map((rollout?.clusters ?? []).map((c) => [c.cluster, c]));
  const unselected = new Set(rollout?.unselected ?? []);
  const rolloutFacts = rollout ? (cluster: string) => {
    const rc = rolloutClusters.get(cluster);
    const waveIndex = rc ? rollout.waves.findIndex((w) => w.name === rc.wave) : -1;
    const current = rollout.waves[rollout.currentWave];
    return {
      phase: rollout.phase, revision: rollout.revision, message: rollout.message, waves: rollout.waves.length,
      failed: tracking?.failed !== undefined && tracking.failed === rollout.target && rollout.finishedAt !== undefined,
      unselected: unselected.has(cluster),
      ...(rc ? { clusterPhase: rc.phase, wave: rc.wave } : {}),
      ...(waveIndex >= 0 ? { waveIndex } : {}),
      ...(current ? { currentWave: { name: current.name, phase: current.phase } } : {}),
    };
  } : undefined;
  // One object per cell: the cluster's facts are set on a copy of what all cells share (the
  // dashboard makes thousands of these; conditional spreads made each one slow).
  const id = s.status.id;
  const perCluster = (fixed: ExplainSubject, summary: (cluster: string) => ExplainSubject['cluster'], showRollout: boolean) => (cluster: string): ExplainSubject => {
    const subject: { -readonly [K in keyof ExplainSubject]: ExplainSubject[K] } = { ...fixed };
    const c = summary(cluster);
    if (c) subject.cluster = c;
    // What runs there now: the deployment named after its owner in the cluster's record.
    const f = facts.get(cluster);
    const d = f?.desired.get(id);
    if (d) subject.desired = { generation: d.generation, healthChecks: d.options.healthTimeoutSeconds > 0 };
    const r = f?.reports.get(id);
    if (r) subject.report = { generation: r.generation, phase: r.phase, message: r.message, finishedAt: r.finishedAt };
    if (s.kind === 'HelmRelease') {
      const h = s.status.histories[cluster];
      const latest = h ? current(h) : undefined;
      if (latest) subject.release = { revision: latest.revision, chartVersion: latest.chartVersion, status: latest.status, description: latest.description, at: latest.finishedAt ?? latest.startedAt };
    }
    if (showRollout && rolloutFacts) subject.rollout = rolloutFacts(cluster);
    return subject;
  };
  if (s.kind === 'Kustomization') {
    const byCluster = new Map(s.status.clusters.map((c) => [c.cluster, c]));
    const latest = s.status.sourceRevision;
    return perCluster({ ...base, kind: 'Kustomization', latest, latestAttempted: s.status.lastBuild?.revision === latest }, (cluster) => {
      const c = byCluster.get(cluster);
      return c ? { revision: c.revision, ready: c.ready, reason: c.reason, message: c.message, updatedAt: c.updatedAt } : undefined;
    }, rollout !== undefined && (rollout.finishedAt === undefined || rollout.revision === latest));
  }
  const byCluster = new Map(s.status.clusters.map((c) => [c.cluster, c]));
  const latest = s.status.lastAttemptedChartVersion;
  return perCluster({ ...base, kind: 'HelmRelease', latest, latestAttempted: latest !== '' }, (cluster) => {
    const c = byCluster.get(cluster);
    return c ? { revision: c.chartVersion, ready: c.ready, reason: c.reason, message: c.message, updatedAt: c.updatedAt } : undefined;
  }, rollout !== undefined && (rollout.finishedAt === undefined || rollout.revision.includes(latest)));
}

/** `flotilla_object_info` rows: a source once (cluster ""), a deployment once per cluster it reports from. */
export function objectInfoRows(snap: FleetSnapshot): ObjectInfoRow[] {
  return snap.declarations.flatMap((s): ObjectInfoRow[] => {
    const ready = s.status.conditions.find((c) => c.type === 'Ready')?.status ?? 'Unknown';
    const base = { kind: s.kind, name: s.declaration.name, namespace: s.declaration.namespace, suspended: s.status.suspended };
    switch (s.kind) {
      case 'GitRepository': case 'HelmRepository':
        return [{ ...base, cluster: '', ready, revision: s.status.artifact?.revision ?? '' }];
      case 'Kustomization':
        if (s.status.clusters.length === 0) return [{ ...base, cluster: '', ready, revision: s.status.lastAppliedRevision }];
        return s.status.clusters.map((c) => ({ ...base, cluster: c.cluster, ready: c.ready, revision: c.revision }));
      case 'HelmRelease':
        if (s.status.clusters.length === 0) return [{ ...base, cluster: '', ready, revision: s.status.lastAttemptedChartVersion }];
        return s.status.clusters.map((c) => ({ ...base, cluster: c.cluster, ready: c.ready, revision: c.chartVersion }));
      case 'ImageRepository':
        return [{ ...base, cluster: '', ready, revision: s.status.lastScan?.tagsDigest ?? '' }];
      case 'ImagePolicy':
        return [{ ...base, cluster: '', ready, revision: s.status.latestImage ?? '' }];
      case 'ImageUpdateAutomation':
        return [{ ...base, cluster: '', ready, revision: s.status.lastPushCommit ?? '' }];
    }
  });
}

/** `flotilla_rollout_phase` rows: each deployment's latest rollout. */
export function rolloutPhaseRows(snap: FleetSnapshot): RolloutPhaseRow[] {
  return [...snap.rollouts.values()].map((r) => {
    const [, namespace = '', name = ''] = r.owner.split('/');
    return { kind: r.ownerKind, name, namespace, phase: r.phase };
  });
}
