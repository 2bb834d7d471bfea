// Original file: proto/flotilla/agent/v1/agent.proto

import type { Long } from '@grpc/proto-loader';

export interface Ack {
  'desired_state_version'?: (number | string | Long);
  'refused'?: (string);
  'held_epoch'?: (string);
  'held_version'?: (number | string | Long);
}

export interface Ack__Output {
  'desired_state_version': (string);
  'refused': (string);
  'held_epoch': (string);
  'held_version': (string);
}
