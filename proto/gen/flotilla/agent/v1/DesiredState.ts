// Original file: proto/flotilla/agent/v1/agent.proto

import type { Deployment as _flotilla_agent_v1_Deployment, Deployment__Output as _flotilla_agent_v1_Deployment__Output } from '../../../flotilla/agent/v1/Deployment.js';
import type { Long } from '@grpc/proto-loader';

export interface DesiredState {
  'version'?: (number | string | Long);
  'deployments'?: (_flotilla_agent_v1_Deployment)[];
  'epoch'?: (string);
  'adopt_epoch'?: (string);
  'adopt_prune_missing'?: (boolean);
}

export interface DesiredState__Output {
  'version': (string);
  'deployments': (_flotilla_agent_v1_Deployment__Output)[];
  'epoch': (string);
  'adopt_epoch': (string);
  'adopt_prune_missing': (boolean);
}
