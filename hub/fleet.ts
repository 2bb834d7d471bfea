// The gateway's view of the cluster actors, over Temporal: signals for what agents say,
// a query for what they should hold. signalWithStart makes the actor exist whenever a
// registered cluster's agent speaks, even if it was never started (or was lost).
import { WorkflowExecutionAlreadyStartedError, WorkflowNotFoundError, type Client } from '@temporalio/client';
import { clusterWorkflow } from '../workflows/cluster.js';
import {
  agentConnectedSignal, agentDisconnectedSignal, clusterWorkflowId, deploymentReportSignal, desiredStateQuery,
  type AgentConnected, type AgentDisconnected, type DesiredState, type ReportSummary,
} from '../workflows/messages.js';
import type { FleetHooks } from './gateway.js';
import type { RegistrationStore } from './registration.js';

export class TemporalFleet implements FleetHooks {
  private readonly started = new Set<string>();
  constructor(private readonly client: Client, private readonly taskQueue: string, private readonly registration: RegistrationStore) {}

  private startOptions(cluster: string): { taskQueue: string; workflowId: string; args: [{ name: string; labels: Record<string, string> }] } {
    const labels = this.registration.clusters().find((c) => c.name === cluster)?.labels ?? {};
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
      await this.client.workflow.start(clusterWorkflow, this.startOptions(cluster));
    } catch (err) {
      if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err; // started meanwhile: fine
    }
  }

  async connected(cluster: string, info: AgentConnected): Promise<void> {
    await this.client.workflow.signalWithStart(clusterWorkflow, { ...this.startOptions(cluster), signal: agentConnectedSignal, signalArgs: [info] });
  }

  async disconnected(cluster: string, info: AgentDisconnected): Promise<void> {
    await this.client.workflow.signalWithStart(clusterWorkflow, { ...this.startOptions(cluster), signal: agentDisconnectedSignal, signalArgs: [info] });
  }

  async report(cluster: string, report: ReportSummary): Promise<void> {
    await this.client.workflow.signalWithStart(clusterWorkflow, { ...this.startOptions(cluster), signal: deploymentReportSignal, signalArgs: [report] });
  }
}
