// Original file: proto/flotilla/agent/v1/agent.proto

import type { Long } from '@grpc/proto-loader';

export interface Heartbeat {
  'sequence'?: (number | string | Long);
  'sent_at_unix_ms'?: (number | string | Long);
}

export interface Heartbeat__Output {
  'sequence': (string);
  'sent_at_unix_ms': (string);
}
