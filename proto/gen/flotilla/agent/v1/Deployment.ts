// Original file: proto/flotilla/agent/v1/agent.proto

import type { DeploymentOptions as _flotilla_agent_v1_DeploymentOptions, DeploymentOptions__Output as _flotilla_agent_v1_DeploymentOptions__Output } from '../../../flotilla/agent/v1/DeploymentOptions.js';
import type { Long } from '@grpc/proto-loader';

export interface Deployment {
  'name'?: (string);
  'generation'?: (number | string | Long);
  'artifact_digest'?: (string);
  'options'?: (_flotilla_agent_v1_DeploymentOptions | null);
}

export interface Deployment__Output {
  'name': (string);
  'generation': (string);
  'artifact_digest': (string);
  'options': (_flotilla_agent_v1_DeploymentOptions__Output | null);
}
