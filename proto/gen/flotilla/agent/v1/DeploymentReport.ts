// Original file: proto/flotilla/agent/v1/agent.proto

import type { Phase as _flotilla_agent_v1_Phase, Phase__Output as _flotilla_agent_v1_Phase__Output } from '../../../flotilla/agent/v1/Phase.js';
import type { ObjectStatus as _flotilla_agent_v1_ObjectStatus, ObjectStatus__Output as _flotilla_agent_v1_ObjectStatus__Output } from '../../../flotilla/agent/v1/ObjectStatus.js';
import type { InventorySummary as _flotilla_agent_v1_InventorySummary, InventorySummary__Output as _flotilla_agent_v1_InventorySummary__Output } from '../../../flotilla/agent/v1/InventorySummary.js';
import type { Long } from '@grpc/proto-loader';

export interface DeploymentReport {
  'name'?: (string);
  'generation'?: (number | string | Long);
  'phase'?: (_flotilla_agent_v1_Phase);
  'message'?: (string);
  'objects'?: (_flotilla_agent_v1_ObjectStatus)[];
  'inventory'?: (_flotilla_agent_v1_InventorySummary | null);
  'finished_at_unix_ms'?: (number | string | Long);
  'epoch'?: (string);
}

export interface DeploymentReport__Output {
  'name': (string);
  'generation': (string);
  'phase': (_flotilla_agent_v1_Phase__Output);
  'message': (string);
  'objects': (_flotilla_agent_v1_ObjectStatus__Output)[];
  'inventory': (_flotilla_agent_v1_InventorySummary__Output | null);
  'finished_at_unix_ms': (string);
  'epoch': (string);
}
