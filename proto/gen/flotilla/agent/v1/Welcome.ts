// Original file: proto/flotilla/agent/v1/agent.proto


export interface Welcome {
  'cluster'?: (string);
  'heartbeat_interval_seconds'?: (number);
}

export interface Welcome__Output {
  'cluster': (string);
  'heartbeat_interval_seconds': (number);
}
