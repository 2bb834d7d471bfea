// The gateway's view of the cluster actors, over Temporal: signals for what agents say,
// a query for what they should hold. signalWithStart makes the actor exist whenever a
// registered cluster's agent speaks, even if it was never started (or was lost).
import type { Client } from '@temporalio/client';
import { clusterWorkflow } from '../workflows/cluster.js';
import {
  agentConnectedSignal, agentDisconnectedSignal, clusterWorkflowId, deploymentReportSignal, desiredStateQuery,
  type AgentConnected, type AgentDisconnected, type DesiredState, type ReportSummary,
} from '../workflows/messages.js';
import type { FleetHooks } from './gateway.js';
import type { RegistrationStore } from './registration.js';

export class TemporalFleet implements FleetHooks {
  constructor(private readonly client: Client, private readonly taskQueue: string, private readonly registration: RegistrationStore) {}

  async ensureCluster(cluster: string): Promise<void> {
    const labels = this.registration.clusters().find((c) => c.name === cluster)?.labels ?? {};
    try {
      await this.client.workflow.start(clusterWorkflow, { taskQueue: this.taskQueue, workflowId: clusterWorkflowId(cluster), args: [{ name: cluster, labels }] });
    } catch (err) {
      if (!(err instanceof Error && err.name === 'WorkflowExecutionAlreadyStartedError')) throw err;
    }
  }

  async desiredState(cluster: string): Promise<DesiredState> {
    await this.ensureCluster(cluster);
    return this.client.workflow.getHandle(clusterWorkflowId(cluster)).query(desiredStateQuery);
  }

  async connected(cluster: string, info: AgentConnected): Promise<void> {
    await this.signal(cluster, (h) => h.signal(agentConnectedSignal, info));
  }

  async disconnected(cluster: string, info: AgentDisconnected): Promise<void> {
    await this.signal(cluster, (h) => h.signal(agentDisconnectedSignal, info));
  }

  async report(cluster: string, report: ReportSummary): Promise<void> {
    await this.signal(cluster, (h) => h.signal(deploymentReportSignal, report));
  }

  private async signal(cluster: string, send: (h: ReturnType<Client['workflow']['getHandle']>) => Promise<void>): Promise<void> {
    await this.ensureCluster(cluster);
    await send(this.client.workflow.getHandle(clusterWorkflowId(cluster)));
  }
}
