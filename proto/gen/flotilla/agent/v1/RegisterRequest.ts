// Original file: proto/flotilla/agent/v1/agent.proto


export interface RegisterRequest {
  'token'?: (string);
  'cluster'?: (string);
  'agent_version'?: (string);
  'labels'?: ({[key: string]: string});
}

export interface RegisterRequest__Output {
  'token': (string);
  'cluster': (string);
  'agent_version': (string);
  'labels': ({[key: string]: string});
}
