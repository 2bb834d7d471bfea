import type { DeliveryActivities, DesiredState } from '../api/cluster.js';
// Delivery of desired state to connected agents. The hub process creates these activities
// around its agent gateway (in-memory streams), so they run in the process that holds the
// agents' connections.

export interface AgentStreams {
  /** Sends to the cluster's agent; false when it is not connected (it gets it on Hello). */
  sendDesiredState(cluster: string, desired: DesiredState): boolean;
}

export function createDeliveryActivities(streams: AgentStreams): DeliveryActivities {
  return {
    pushDesiredState: (input) => Promise.resolve(streams.sendDesiredState(input.cluster, input.desired)),
  };
}
