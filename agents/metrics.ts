// The agent's Prometheus metrics, in a registry of its own: whether its stream to the hub is
// up, what its applies did and how long they took, and every request it sent to its cluster's
// API server. Served on /metrics by `flotilla-agent --http`.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

const DURATION_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];

export interface AgentMetricsOptions {
  /** Node.js process metrics (default true). */
  readonly defaultMetrics?: boolean;
}

export class AgentMetrics {
  readonly registry = new Registry();
  private readonly hubConnectedGauge: Gauge<'cluster'>;
  private readonly applyObjects: Counter<'cluster' | 'action'>;
  private readonly applyDuration: Histogram<'cluster' | 'result'>;
  private readonly kubeRequests: Counter<'cluster' | 'verb' | 'code'>;

  constructor(readonly cluster: string, opts: AgentMetricsOptions = {}) {
    const registers = [this.registry];
    // Process metrics keep their usual names (process_*, nodejs_*): dashboards expect them.
    if (opts.defaultMetrics ?? true) collectDefaultMetrics({ register: this.registry });
    this.hubConnectedGauge = new Gauge({
      name: 'flotilla_agent_hub_connected', help: '1 while the agent holds its stream to the hub.', labelNames: ['cluster'], registers,
    });
    this.hubConnectedGauge.set({ cluster }, 0);
    this.applyObjects = new Counter({
      name: 'flotilla_apply_objects_total', help: 'Objects the agent applied or pruned, by action (created, configured, unchanged, skipped, pruned).',
      labelNames: ['cluster', 'action'], registers,
    });
    this.applyDuration = new Histogram({
      name: 'flotilla_apply_duration_seconds', help: 'Duration of one deployment\'s apply (dry-run, apply and prune; not the health wait), by result.',
      labelNames: ['cluster', 'result'], buckets: DURATION_BUCKETS, registers,
    });
    this.kubeRequests = new Counter({
      name: 'flotilla_kube_api_requests_total', help: 'Requests the agent sent to its cluster\'s API server, by verb (HTTP method, or WATCH) and HTTP status code ("error": no response).',
      labelNames: ['cluster', 'verb', 'code'], registers,
    });
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  metrics(): Promise<string> {
    return this.registry.metrics();
  }

  hubConnected(connected: boolean): void {
    this.hubConnectedGauge.set({ cluster: this.cluster }, connected ? 1 : 0);
  }

  /** One apply (or delete) of a deployment: its duration, result and the objects per action. */
  applied(seconds: number, ok: boolean, counts: Readonly<Record<string, number>> = {}): void {
    this.applyDuration.observe({ cluster: this.cluster, result: ok ? 'success' : 'failure' }, seconds);
    for (const [action, n] of Object.entries(counts)) if (n > 0) this.applyObjects.inc({ cluster: this.cluster, action }, n);
  }

  kubeRequest(verb: string, code: string): void {
    this.kubeRequests.inc({ cluster: this.cluster, verb, code });
  }
}
