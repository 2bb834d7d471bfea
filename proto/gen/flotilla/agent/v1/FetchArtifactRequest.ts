// Original file: proto/flotilla/agent/v1/agent.proto


export interface FetchArtifactRequest {
  'digest'?: (string);
}

export interface FetchArtifactRequest__Output {
  'digest': (string);
}
