// Original file: proto/flotilla/agent/v1/agent.proto

import type { ApiResource as _flotilla_agent_v1_ApiResource, ApiResource__Output as _flotilla_agent_v1_ApiResource__Output } from '../../../flotilla/agent/v1/ApiResource.js';
import type { Long } from '@grpc/proto-loader';

export interface Hello {
  'cluster'?: (string);
  'agent_version'?: (string);
  'kubernetes_version'?: (string);
  'api_resources'?: (_flotilla_agent_v1_ApiResource)[];
  'desired_state_version'?: (number | string | Long);
  'desired_state_epoch'?: (string);
}

export interface Hello__Output {
  'cluster': (string);
  'agent_version': (string);
  'kubernetes_version': (string);
  'api_resources': (_flotilla_agent_v1_ApiResource__Output)[];
  'desired_state_version': (string);
  'desired_state_epoch': (string);
}
