// What a cluster actor (workflows/cluster.ts) was told, read back from Temporal: its status
// keeps only the newest report of each deployment, but every report the gateway forwarded is
// a `deploymentReport` signal in the actor's history, in the order the server received them,
// with the server's time.
import { defaultPayloadConverter } from '@temporalio/common';
import type { Client } from '@temporalio/client';
import { clusterWorkflowId, deploymentReportSignal, type ReportSummary } from '../../api/cluster.js';

export interface ReceivedReport {
  readonly report: ReportSummary;
  /** When the Temporal server recorded the signal (ms since epoch). */
  readonly at: number;
}

/** Every deployment report `cluster`'s actor received in its current run, oldest first. */
export async function reportsReceived(client: Client, cluster: string): Promise<ReceivedReport[]> {
  const history = await client.workflow.getHandle(clusterWorkflowId(cluster)).fetchHistory();
  return (history.events ?? []).flatMap((e) => {
    const a = e.workflowExecutionSignaledEventAttributes;
    const payload = a?.signalName === deploymentReportSignal.name ? a.input?.payloads?.[0] : undefined;
    if (!payload) return [];
    const at = Number(e.eventTime?.seconds ?? 0) * 1000 + Math.floor((e.eventTime?.nanos ?? 0) / 1e6);
    return [{ report: defaultPayloadConverter.fromPayload<ReportSummary>(payload), at }];
  });
}
