// Original file: proto/flotilla/agent/v1/agent.proto

import type { Long } from '@grpc/proto-loader';

export interface ArtifactChunk {
  'data'?: (Buffer | Uint8Array | string);
  'total_size'?: (number | string | Long);
}

export interface ArtifactChunk__Output {
  'data': (Buffer);
  'total_size': (string);
}
