// Loads the agent protocol at run time with the same options scripts/gen-proto.sh uses for
// the types, so generated types and loaded messages agree. agent.proto is found from this
// file: proto/flotilla/… next to it in the sources, two levels up from dist/proto/ once
// compiled (the package ships proto/flotilla/ beside dist/).
import { loadPackageDefinition } from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { ProtoGrpcType } from './gen/agent.js';

const PROTO_FILE = 'flotilla/agent/v1/agent.proto';

let loaded: ProtoGrpcType | undefined;

function protoPath(): string {
  const candidates = [new URL(`./${PROTO_FILE}`, import.meta.url), new URL(`../../proto/${PROTO_FILE}`, import.meta.url)].map((u) => fileURLToPath(u));
  const found = candidates.find((p) => existsSync(p));
  if (found === undefined) throw new Error(`cannot find the agent protocol: none of ${candidates.join(', ')} exists`);
  return found;
}

export function agentProto(): ProtoGrpcType['flotilla']['agent']['v1'] {
  loaded ??= loadPackageDefinition(loadSync(protoPath(), {
    keepCase: true, longs: String, enums: String, defaults: true, oneofs: true,
  })) as unknown as ProtoGrpcType;
  return loaded.flotilla.agent.v1;
}

export const CLUSTER_METADATA = 'x-flotilla-cluster';
