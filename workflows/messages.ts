// Every signal, update and query of the actors, declared in one place.
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';

export interface DeploymentOptions {
  readonly prune: boolean;
  readonly force: boolean;
  readonly correctDrift: boolean;
  readonly defaultNamespace: string;
  readonly healthTimeoutSeconds: number;
}

/** One entry of a cluster's desired state. Manifests travel by digest, never inline. */
export interface DesiredDeployment {
  readonly name: string;
  readonly generation: number;
  readonly artifactDigest: string;
  readonly options: DeploymentOptions;
}

export interface DesiredState {
  readonly version: number;
  readonly deployments: readonly DesiredDeployment[];
}

export type ConnectionState = 'NeverConnected' | 'Connected' | 'Unreachable' | 'Disconnected';

export interface AgentConnected {
  readonly at: number;
  readonly agentVersion: string;
  readonly kubernetesVersion: string;
  readonly apiResources: number;
}

export interface AgentDisconnected {
  readonly at: number;
  /** True when the agent went silent (missed heartbeats) rather than closing its stream. */
  readonly unreachable: boolean;
}

export interface ReportSummary {
  readonly name: string;
  readonly generation: number;
  readonly phase: string;
  readonly message: string;
  readonly counts: Readonly<Record<string, number>>;
  readonly finishedAt: number;
}

export interface ClusterStatus {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly connection: ConnectionState;
  /** When the connection state last changed (ms since epoch). */
  readonly connectionSince: number;
  readonly agentVersion: string;
  readonly kubernetesVersion: string;
  readonly apiResources: number;
  readonly desired: DesiredState;
  readonly reports: readonly ReportSummary[];
}

export const agentConnectedSignal = defineSignal<[AgentConnected]>('agentConnected');
export const agentDisconnectedSignal = defineSignal<[AgentDisconnected]>('agentDisconnected');
export const deploymentReportSignal = defineSignal<[ReportSummary]>('deploymentReport');

export const setDeploymentUpdate = defineUpdate<DesiredState, [DesiredDeployment]>('setDeployment');
export const clearDeploymentUpdate = defineUpdate<DesiredState, [string]>('clearDeployment');

export const clusterStatusQuery = defineQuery<ClusterStatus>('status');
export const desiredStateQuery = defineQuery<DesiredState>('desiredState');

export function clusterWorkflowId(name: string): string {
  return `cluster/${name}`;
}
