// Original file: proto/flotilla/agent/v1/agent.proto


export interface InventorySummary {
  'objects'?: (number);
  'created'?: (number);
  'configured'?: (number);
  'unchanged'?: (number);
  'pruned'?: (number);
  'drifted'?: (number);
}

export interface InventorySummary__Output {
  'objects': (number);
  'created': (number);
  'configured': (number);
  'unchanged': (number);
  'pruned': (number);
  'drifted': (number);
}
