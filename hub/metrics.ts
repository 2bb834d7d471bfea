// The hub's Prometheus metrics, in a registry of its own (never prom-client's global one):
// reconcile and activity durations (from a Temporal activity interceptor), agents' connections,
// messages and reported apply counts (from the gateway), the worker's health (read on scrape),
// and per-object and per-rollout info gauges fed from the actors' statuses.
import type { ActivityInterceptorsFactory } from '@temporalio/worker';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { PollerAnswer } from './health.js';

/** The activities that are a declaration's reconcile work, and the kind each reconciles. */
export const RECONCILE_ACTIVITIES: Readonly<Record<string, string>> = {
  fetchGitSource: 'GitRepository',
  buildKustomization: 'Kustomization',
  fetchHelmRepository: 'HelmRepository',
  prepareChart: 'HelmRelease',
  renderRelease: 'HelmRelease',
};

const DURATION_BUCKETS = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];
const REVISION_LENGTH = 12;

export type ApplyAction = 'created' | 'configured' | 'unchanged' | 'pruned';

export interface ObjectInfoRow {
  readonly kind: string;
  readonly name: string;
  readonly namespace: string;
  readonly cluster: string;
  /** The Ready condition's status ("True", "False", "Unknown"); booleans become "True"/"False". */
  readonly ready: string | boolean;
  readonly suspended: boolean;
  readonly revision: string;
}

export interface RolloutPhaseRow {
  readonly kind: string;
  readonly name: string;
  readonly namespace: string;
  readonly phase: string;
}

/** What the worker-health gauges read on each scrape. */
export interface TemporalSource {
  workerState(): string;
  pollers(): Promise<PollerAnswer>;
}

export interface HubMetricsOptions {
  /** Series of flotilla_object_info at most (default 20000); the rest are dropped and counted. */
  readonly maxObjectSeries?: number;
  /** Node.js process metrics (default true). */
  readonly defaultMetrics?: boolean;
}

export class HubMetrics {
  readonly registry = new Registry();
  private readonly maxObjectSeries: number;
  private readonly reconcileDuration: Histogram<'kind' | 'result'>;
  private readonly activityDuration: Histogram<'activity' | 'result'>;
  private readonly agentConnectedGauge: Gauge<'cluster'>;
  private readonly gatewayMessages: Counter<'cluster' | 'type'>;
  private readonly agentApplyObjects: Counter<'cluster' | 'action'>;
  private readonly objectInfo: Gauge<'kind' | 'name' | 'namespace' | 'cluster' | 'ready' | 'suspended' | 'revision'>;
  private readonly objectInfoDropped: Gauge;
  private readonly rolloutPhase: Gauge<'kind' | 'name' | 'namespace' | 'phase'>;
  private temporal: TemporalSource | undefined;
  /** The last report counted per cluster and deployment: agents re-send reports after a reconnect. */
  private readonly countedReports = new Map<string, string>();

  constructor(opts: HubMetricsOptions = {}) {
    const registers = [this.registry];
    this.maxObjectSeries = opts.maxObjectSeries ?? 20_000;
    // Process metrics keep their usual names (process_*, nodejs_*): dashboards expect them.
    if (opts.defaultMetrics ?? true) collectDefaultMetrics({ register: this.registry });
    this.reconcileDuration = new Histogram({
      name: 'flotilla_reconcile_duration_seconds', help: 'Duration of a declaration\'s reconcile work (its fetch, build or render activity), by kind and result.',
      labelNames: ['kind', 'result'], buckets: DURATION_BUCKETS, registers,
    });
    this.activityDuration = new Histogram({
      name: 'flotilla_activity_duration_seconds', help: 'Duration of every Temporal activity the hub runs, by activity type and result.',
      labelNames: ['activity', 'result'], buckets: DURATION_BUCKETS, registers,
    });
    this.agentConnectedGauge = new Gauge({
      name: 'flotilla_agent_connected', help: '1 while the cluster\'s agent holds a live stream to this hub, 0 once it disconnected or went silent.',
      labelNames: ['cluster'], registers,
    });
    this.gatewayMessages = new Counter({
      name: 'flotilla_gateway_messages_total', help: 'Requests and stream messages received from each cluster\'s agent, by type.',
      labelNames: ['cluster', 'type'], registers,
    });
    this.agentApplyObjects = new Counter({
      name: 'flotilla_agent_apply_objects_total', help: 'Objects in the apply reports agents sent, by cluster and action.',
      labelNames: ['cluster', 'action'], registers,
    });
    const workerUp: Gauge = new Gauge({
      name: 'flotilla_temporal_worker_up', help: '1 when the hub\'s Temporal worker is RUNNING.', registers,
      collect: () => { workerUp.set(this.temporal?.workerState() === 'RUNNING' ? 1 : 0); },
    });
    const pollers: Gauge<'type'> = new Gauge({
      name: 'flotilla_temporal_pollers', help: 'Pollers on the hub\'s task queue, by task queue type (0 also when Temporal cannot be reached).',
      labelNames: ['type'], registers,
      collect: async () => {
        const p = await this.temporal?.pollers();
        pollers.set({ type: 'workflow' }, p?.ok ? p.workflow : 0);
        pollers.set({ type: 'activity' }, p?.ok ? p.activity : 0);
      },
    });
    this.objectInfo = new Gauge({
      name: 'flotilla_object_info', help: 'One series (value 1) per declaration and cluster, labelled with its readiness, suspension and revision.',
      labelNames: ['kind', 'name', 'namespace', 'cluster', 'ready', 'suspended', 'revision'], registers,
    });
    this.objectInfoDropped = new Gauge({
      name: 'flotilla_object_info_dropped', help: 'Rows left out of flotilla_object_info because it reached its series limit.', registers,
    });
    this.rolloutPhase = new Gauge({
      name: 'flotilla_rollout_phase', help: '1 for the current phase of each declaration\'s rollout.',
      labelNames: ['kind', 'name', 'namespace', 'phase'], registers,
    });
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /** The exposition text of every metric. */
  metrics(): Promise<string> {
    return this.registry.metrics();
  }

  /** The worker and task queue the worker-health gauges read on each scrape. */
  observeTemporal(source: TemporalSource): void {
    this.temporal = source;
  }

  activityFinished(activity: string, seconds: number, ok: boolean): void {
    const result = ok ? 'success' : 'failure';
    this.activityDuration.observe({ activity, result }, seconds);
    const kind = RECONCILE_ACTIVITIES[activity];
    if (kind !== undefined) this.reconcileDuration.observe({ kind, result }, seconds);
  }

  agentConnected(cluster: string, connected: boolean): void {
    this.agentConnectedGauge.set({ cluster }, connected ? 1 : 0);
  }

  gatewayMessage(cluster: string, type: string): void {
    this.gatewayMessages.inc({ cluster, type });
  }

  /**
   * Counts an agent's apply report once: `report` identifies it (deployment, generation and
   * finish time), so the copies an agent sends again after reconnecting are not counted twice.
   */
  applyReported(cluster: string, deployment: string, report: string, counts: Readonly<Record<ApplyAction, number>>): void {
    const key = `${cluster}\u0000${deployment}`;
    if (this.countedReports.get(key) === report) return;
    this.countedReports.set(key, report);
    for (const action of ['created', 'configured', 'unchanged', 'pruned'] as const) {
      if (counts[action] > 0) this.agentApplyObjects.inc({ cluster, action }, counts[action]);
    }
  }

  /**
   * Replaces flotilla_object_info with these rows (objects that vanished disappear). At most
   * maxObjectSeries series are kept; the number left out is flotilla_object_info_dropped.
   */
  setObjectInfo(rows: readonly ObjectInfoRow[]): void {
    this.objectInfo.reset();
    const kept = new Set<string>();
    let dropped = 0;
    for (const r of rows) {
      const labels = {
        kind: r.kind, name: r.name, namespace: r.namespace, cluster: r.cluster,
        ready: typeof r.ready === 'boolean' ? (r.ready ? 'True' : 'False') : r.ready,
        suspended: String(r.suspended), revision: r.revision.slice(0, REVISION_LENGTH),
      };
      const key = JSON.stringify(labels);
      if (!kept.has(key)) {
        if (kept.size >= this.maxObjectSeries) { dropped++; continue; }
        kept.add(key);
      }
      this.objectInfo.set(labels, 1);
    }
    this.objectInfoDropped.set(dropped);
  }

  /** Replaces flotilla_rollout_phase: 1 for each rollout's current phase, nothing for the others. */
  setRolloutPhases(rows: readonly RolloutPhaseRow[]): void {
    this.rolloutPhase.reset();
    for (const r of rows) this.rolloutPhase.set({ kind: r.kind, name: r.name, namespace: r.namespace, phase: r.phase }, 1);
  }
}

/** A worker activity interceptor that times every activity into `metrics`. */
export function activityMetricsInterceptor(metrics: HubMetrics): ActivityInterceptorsFactory {
  return (ctx) => ({
    inbound: {
      async execute(input, next) {
        const started = performance.now();
        const done = (ok: boolean): void => { metrics.activityFinished(ctx.info.activityType, (performance.now() - started) / 1000, ok); };
        try {
          const result = await next(input);
          done(true);
          return result;
        } catch (err) {
          done(false);
          throw err;
        }
      },
    },
  });
}
