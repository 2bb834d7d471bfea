// A small actor that proves the wiring end to end: the hub's worker runs it, and its one
// activity asks each cluster's API server for its version and nodes.
import { proxyActivities } from '@temporalio/workflow';
import type * as probes from '../activities/kubernetes-probe.js';
import type { ClusterProbe, ClusterTarget } from '../activities/kubernetes-probe.js';
import { quick } from './activity-profiles.js';

const { probeKubernetes } = proxyActivities<typeof probes>(quick);

export interface EnvironmentCheckResult {
  readonly clusters: readonly ClusterProbe[];
  readonly allReady: boolean;
}

export async function environmentCheckWorkflow(targets: readonly ClusterTarget[]): Promise<EnvironmentCheckResult> {
  const clusters = await Promise.all(targets.map((t) => probeKubernetes(t)));
  return { clusters, allReady: clusters.every((c) => c.readyNodes > 0 && c.readyNodes === c.nodes) };
}
