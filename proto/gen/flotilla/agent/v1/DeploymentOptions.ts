// Original file: proto/flotilla/agent/v1/agent.proto


export interface DeploymentOptions {
  'prune'?: (boolean);
  'force'?: (boolean);
  'disable_drift_correction'?: (boolean);
  'default_namespace'?: (string);
  'health_timeout_seconds'?: (number);
  'allow_empty'?: (boolean);
  'max_prune_percent'?: (number);
  'impersonate_service_account'?: (string);
}

export interface DeploymentOptions__Output {
  'prune': (boolean);
  'force': (boolean);
  'disable_drift_correction': (boolean);
  'default_namespace': (string);
  'health_timeout_seconds': (number);
  'allow_empty': (boolean);
  'max_prune_percent': (number);
  'impersonate_service_account': (string);
}
