// Original file: proto/flotilla/agent/v1/agent.proto


export interface RegisterResponse {
  'cluster'?: (string);
  'credential'?: (string);
  'labels'?: ({[key: string]: string});
}

export interface RegisterResponse__Output {
  'cluster': (string);
  'credential': (string);
  'labels': ({[key: string]: string});
}
