// Delivery of desired state to connected agents. The hub process creates these activities
// around its agent gateway (in-memory streams), so they run in the process that holds the
// agents' connections.
import type { DesiredState } from '../workflows/messages.js';

export interface PushDesiredStateInput {
  readonly cluster: string;
  readonly desired: DesiredState;
}

export interface AgentStreams {
  /** Sends to the cluster's agent; false when it is not connected (it gets it on Hello). */
  sendDesiredState(cluster: string, desired: DesiredState): boolean;
}

export interface DeliveryActivities {
  pushDesiredState(input: PushDesiredStateInput): Promise<boolean>;
}

export function createDeliveryActivities(streams: AgentStreams): DeliveryActivities {
  return {
    pushDesiredState: (input) => Promise.resolve(streams.sendDesiredState(input.cluster, input.desired)),
  };
}
