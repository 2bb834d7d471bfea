// Original file: proto/flotilla/agent/v1/agent.proto


export interface ObjectStatus {
  'id'?: (string);
  'action'?: (string);
  'health'?: (string);
  'reason'?: (string);
  'message'?: (string);
  'drift'?: (string)[];
}

export interface ObjectStatus__Output {
  'id': (string);
  'action': (string);
  'health': (string);
  'reason': (string);
  'message': (string);
  'drift': (string)[];
}
