// Original file: proto/flotilla/agent/v1/agent.proto

import type { Hello as _flotilla_agent_v1_Hello, Hello__Output as _flotilla_agent_v1_Hello__Output } from '../../../flotilla/agent/v1/Hello.js';
import type { Heartbeat as _flotilla_agent_v1_Heartbeat, Heartbeat__Output as _flotilla_agent_v1_Heartbeat__Output } from '../../../flotilla/agent/v1/Heartbeat.js';
import type { DeploymentReport as _flotilla_agent_v1_DeploymentReport, DeploymentReport__Output as _flotilla_agent_v1_DeploymentReport__Output } from '../../../flotilla/agent/v1/DeploymentReport.js';
import type { Ack as _flotilla_agent_v1_Ack, Ack__Output as _flotilla_agent_v1_Ack__Output } from '../../../flotilla/agent/v1/Ack.js';

export interface AgentMessage {
  'hello'?: (_flotilla_agent_v1_Hello | null);
  'heartbeat'?: (_flotilla_agent_v1_Heartbeat | null);
  'report'?: (_flotilla_agent_v1_DeploymentReport | null);
  'ack'?: (_flotilla_agent_v1_Ack | null);
  'body'?: "hello"|"heartbeat"|"report"|"ack";
}

export interface AgentMessage__Output {
  'hello'?: (_flotilla_agent_v1_Hello__Output | null);
  'heartbeat'?: (_flotilla_agent_v1_Heartbeat__Output | null);
  'report'?: (_flotilla_agent_v1_DeploymentReport__Output | null);
  'ack'?: (_flotilla_agent_v1_Ack__Output | null);
  'body'?: "hello"|"heartbeat"|"report"|"ack";
}
