// Original file: proto/flotilla/agent/v1/agent.proto


export interface ApiResource {
  'group_version'?: (string);
  'kind'?: (string);
  'namespaced'?: (boolean);
}

export interface ApiResource__Output {
  'group_version': (string);
  'kind': (string);
  'namespaced': (boolean);
}
