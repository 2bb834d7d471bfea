// Loads the agent protocol at run time with the same options scripts/gen-proto.sh uses for
// the types, so generated types and loaded messages agree.
import { loadPackageDefinition } from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { join } from 'node:path';
import { repoRoot } from '../deploy/dev/binaries.js';
import type { ProtoGrpcType } from './gen/agent.js';

let loaded: ProtoGrpcType | undefined;

export function agentProto(): ProtoGrpcType['flotilla']['agent']['v1'] {
  loaded ??= loadPackageDefinition(loadSync(join(repoRoot, 'proto', 'flotilla', 'agent', 'v1', 'agent.proto'), {
    keepCase: true, longs: String, enums: String, defaults: true, oneofs: true,
  })) as unknown as ProtoGrpcType;
  return loaded.flotilla.agent.v1;
}

export const CLUSTER_METADATA = 'x-flotilla-cluster';
