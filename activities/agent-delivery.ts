import type { DeliveryActivities, DesiredState } from '../api/cluster.js';
// Delivery of desired state to connected agents. The hub process creates these activities
// around its agent gateway (in-memory streams), so they run in the process that holds the
// agents' connections.

export interface AgentStreams {
  /** Sends to the cluster's agent; false when it is not connected (it gets it on Hello). */
  sendDesiredState(cluster: string, desired: DesiredState): boolean;
}

/** The cluster actor's current desired state (what a push without one sends): a query of the actor. */
export type DesiredStateReader = (cluster: string) => Promise<DesiredState>;

export function createDeliveryActivities(streams: AgentStreams, current: DesiredStateReader): DeliveryActivities {
  return {
    pushDesiredState: async (input) => streams.sendDesiredState(input.cluster, input.desired ?? await current(input.cluster)),
  };
}
