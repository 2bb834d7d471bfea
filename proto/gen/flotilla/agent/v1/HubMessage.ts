// Original file: proto/flotilla/agent/v1/agent.proto

import type { Welcome as _flotilla_agent_v1_Welcome, Welcome__Output as _flotilla_agent_v1_Welcome__Output } from '../../../flotilla/agent/v1/Welcome.js';
import type { DesiredState as _flotilla_agent_v1_DesiredState, DesiredState__Output as _flotilla_agent_v1_DesiredState__Output } from '../../../flotilla/agent/v1/DesiredState.js';
import type { Heartbeat as _flotilla_agent_v1_Heartbeat, Heartbeat__Output as _flotilla_agent_v1_Heartbeat__Output } from '../../../flotilla/agent/v1/Heartbeat.js';

export interface HubMessage {
  'welcome'?: (_flotilla_agent_v1_Welcome | null);
  'desired_state'?: (_flotilla_agent_v1_DesiredState | null);
  'heartbeat'?: (_flotilla_agent_v1_Heartbeat | null);
  'body'?: "welcome"|"desired_state"|"heartbeat";
}

export interface HubMessage__Output {
  'welcome'?: (_flotilla_agent_v1_Welcome__Output | null);
  'desired_state'?: (_flotilla_agent_v1_DesiredState__Output | null);
  'heartbeat'?: (_flotilla_agent_v1_Heartbeat__Output | null);
  'body'?: "welcome"|"desired_state"|"heartbeat";
}
