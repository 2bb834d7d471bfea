// The Kustomization's condition reasons, as Flux's kustomize-controller names them
// (fluxcd/pkg apis/meta and kustomize-controller api/v1 reasons), beside HelmReleaseReason in
// core/helm-release.ts. The strings are the ones Flotilla has always set: tests, the CLI and
// recorded statuses read them.

/** Reasons on a Kustomization's (and its clusters') Ready and Reconciling conditions. */
export const KustomizationReason = {
  Progressing: 'Progressing',
  ReconciliationSucceeded: 'ReconciliationSucceeded',
  ReconciliationFailed: 'ReconciliationFailed',
  ArtifactFailed: 'ArtifactFailed',
  DependencyNotReady: 'DependencyNotReady',
  BuildFailed: 'BuildFailed',
  HealthCheckFailed: 'HealthCheckFailed',
  /** No report from a cluster's agent for the deployment's generation (yet). */
  ClusterUnreachable: 'ClusterUnreachable',
  RolloutFailed: 'RolloutFailed',
} as const;
