// The gateway's view of the cluster actors, over Temporal: signals for what agents say,
// a query for what they should hold. signalWithStart makes the actor exist whenever a
// registered cluster's agent speaks, even if it was never started (or was lost).
// With an event sink, what agents say also becomes events for notifications: connection
// changes on the Cluster, and reports that failed or changed something on the deployment's
// owner (its revision read from the owner's status), never delaying the gateway.
import { WorkflowExecutionAlreadyStartedError, WorkflowNotFoundError, type Client } from '@temporalio/client';
import {
  agentConnectedSignal, agentDisconnectedSignal, agentHoldSignal, CLUSTER_WORKFLOW_TYPE, clusterWorkflowId, deploymentReportSignal,
  desiredStateQuery, type AgentConnected, type ClusterWorkflow, type AgentDisconnected, type AgentHold, type DesiredState, type ReportSummary,
} from '../api/cluster.js';
import { helmReleaseStatusQuery } from '../api/helm-release.js';
import { kustomizationStatusQuery } from '../api/kustomization.js';
import { connectionEvent, objectOfId, reportEvent, reportOutcome } from '../core/notifications/hub-events.js';
import type { EventSink } from './events.js';
import type { FleetHooks } from './gateway.js';
import type { RegistrationStore } from './registration.js';

/** How long an owner's status query may take before its report's event goes without a revision. */
const REVISION_QUERY_MS = 5_000;
/** Reports remembered per cluster and deployment, so that copies re-sent after a reconnect make no second event. */
const MAX_REMEMBERED_REPORTS = 10_000;

/** The task queue only this hub polls, for pushes to the agents connected to it. */
export function hubQueue(taskQueue: string, hubId: string): string {
  return `${taskQueue}/hub/${hubId}`;
}

export class TemporalFleet implements FleetHooks {
  private readonly started = new Set<string>();
  private readonly reported = new Map<string, string>();
  constructor(
    private readonly client: Client, private readonly taskQueue: string, private readonly registration: RegistrationStore,
    private readonly events?: EventSink,
    /** This hub's own task queue (hubQueue()), told to the cluster actors with connection changes. */
    private readonly hub?: string,
  ) {}

  private async startOptions(cluster: string): Promise<{ taskQueue: string; workflowId: string; args: [{ name: string; labels: Record<string, string> }] }> {
    const labels = (await this.registration.clusters()).find((c) => c.name === cluster)?.labels ?? {};
    return { taskQueue: this.taskQueue, workflowId: clusterWorkflowId(cluster), args: [{ name: cluster, labels }] };
  }

  async desiredState(cluster: string): Promise<DesiredState> {
    const handle = this.client.workflow.getHandle(clusterWorkflowId(cluster));
    try {
      return await handle.query(desiredStateQuery);
    } catch (err) {
      if (!(err instanceof WorkflowNotFoundError)) throw err;
    }
    await this.start(cluster);
    return handle.query(desiredStateQuery);
  }

  /** Starts the cluster's actor unless it runs (a placed cluster whose agent never connected). */
  async ensureStarted(cluster: string): Promise<void> {
    // Started once per hub process per cluster; a finished actor would be restarted by the gateway.
    if (this.started.has(cluster)) return;
    await this.start(cluster);
    this.started.add(cluster);
  }

  private async start(cluster: string): Promise<void> {
    try {
      await this.client.workflow.start<ClusterWorkflow>(CLUSTER_WORKFLOW_TYPE, await this.startOptions(cluster));
    } catch (err) {
      if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err; // started meanwhile: fine
    }
  }

  async connected(cluster: string, info: AgentConnected): Promise<void> {
    await this.client.workflow.signalWithStart<ClusterWorkflow, [AgentConnected]>(CLUSTER_WORKFLOW_TYPE, { ...(await this.startOptions(cluster)), signal: agentConnectedSignal, signalArgs: [{ ...info, ...this.via() }] });
    this.events?.record(connectionEvent(cluster, { state: 'Connected', agentVersion: info.agentVersion, kubernetesVersion: info.kubernetesVersion }, info.at));
  }

  async disconnected(cluster: string, info: AgentDisconnected): Promise<void> {
    await this.client.workflow.signalWithStart<ClusterWorkflow, [AgentDisconnected]>(CLUSTER_WORKFLOW_TYPE, { ...(await this.startOptions(cluster)), signal: agentDisconnectedSignal, signalArgs: [{ ...info, ...this.via() }] });
    this.events?.record(connectionEvent(cluster, { state: info.unreachable ? 'Unreachable' : 'Disconnected' }, info.at));
  }

  async hold(cluster: string, info: AgentHold): Promise<void> {
    await this.client.workflow.signalWithStart<ClusterWorkflow, [AgentHold]>(CLUSTER_WORKFLOW_TYPE, { ...(await this.startOptions(cluster)), signal: agentHoldSignal, signalArgs: [info] });
  }

  private via(): { hub?: string } {
    return this.hub === undefined ? {} : { hub: this.hub };
  }

  async report(cluster: string, report: ReportSummary): Promise<void> {
    await this.client.workflow.signalWithStart<ClusterWorkflow, [ReportSummary]>(CLUSTER_WORKFLOW_TYPE, { ...(await this.startOptions(cluster)), signal: deploymentReportSignal, signalArgs: [report] });
    if (this.events && reportOutcome(report) !== undefined && this.firstTime(cluster, report)) void this.recordReport(this.events, cluster, report);
  }

  /** False for a report seen before (agents send their last reports again when they reconnect). */
  private firstTime(cluster: string, report: ReportSummary): boolean {
    const key = `${cluster}\u0000${report.name}`;
    const identity = `${report.generation}@${report.finishedAt}@${report.phase}@${report.message}`;
    if (this.reported.get(key) === identity) return false;
    this.reported.delete(key);
    this.reported.set(key, identity);
    if (this.reported.size > MAX_REMEMBERED_REPORTS) {
      const oldest = this.reported.keys().next();
      if (oldest.done !== true) this.reported.delete(oldest.value);
    }
    return true;
  }

  private async recordReport(events: EventSink, cluster: string, report: ReportSummary): Promise<void> {
    const revision = await this.revisionOf(cluster, report).catch(() => undefined);
    const event = reportEvent(cluster, report, revision, Date.now());
    if (event) events.record(event);
  }

  /**
   * The revision a report is about, from its owner's status: the Kustomization's revision on
   * that cluster at the report's generation (else the revision it last attempted), the
   * HelmRelease's chart version.
   */
  private async revisionOf(cluster: string, report: ReportSummary): Promise<string | undefined> {
    const object = objectOfId(report.name);
    if (object === undefined) return undefined;
    const owner = report.name.split('/').slice(0, 3).join('/');
    const handle = this.client.workflow.getHandle(owner);
    const within = <T>(p: Promise<T>): Promise<T | undefined> => Promise.race([
      p, new Promise<undefined>((resolve) => { setTimeout(() => { resolve(undefined); }, REVISION_QUERY_MS).unref(); }),
    ]);
    if (object.kind === 'Kustomization') {
      const s = await within(handle.query(kustomizationStatusQuery));
      if (!s) return undefined;
      const c = s.clusters.find((x) => x.cluster === cluster);
      return c && c.generation === report.generation && c.revision !== '' ? c.revision : s.lastAttemptedRevision;
    }
    if (object.kind === 'HelmRelease') {
      const s = await within(handle.query(helmReleaseStatusQuery));
      if (!s) return undefined;
      return s.clusters.find((x) => x.cluster === cluster)?.chartVersion || s.lastAttemptedChartVersion || undefined;
    }
    return undefined;
  }
}
