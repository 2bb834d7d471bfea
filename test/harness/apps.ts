// A small app for fleet tests: a Namespace and a 1-replica podinfo Deployment named after it,
// whose pods never start when `broken` (kwok's sim.flotilla.dev/fail annotation), so health
// checks fail and rollouts roll back.
export function appObjects(name: string, version: string, broken = false): Record<string, unknown>[] {
  return [
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name } },
    {
      apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name, namespace: name },
      spec: {
        replicas: 1, selector: { matchLabels: { app: name } },
        template: {
          metadata: { labels: { app: name }, annotations: { version, ...(broken ? { 'sim.flotilla.dev/fail': 'ErrImagePull' } : {}) } },
          spec: { containers: [{ name, image: `ghcr.io/stefanprodan/podinfo:${version}` }] },
        },
      },
    },
  ];
}

/** The GitRepository `fleet` (branch main) the tests' Kustomizations read from. */
export function fleetSource(url: string): Record<string, unknown> {
  return { apiVersion: 'source.toolkit.fluxcd.io/v1', kind: 'GitRepository', metadata: { name: 'fleet', namespace: 'flux-system' }, spec: { url, interval: '10m', ref: { branch: 'main' } } };
}

/** A Kustomization of ./<name> from `fleet`, rolled out dev → prod, prod behind an approval gate. */
export function devProdRollout(name: string, devBake: string): Record<string, unknown> {
  return {
    apiVersion: 'kustomize.toolkit.fluxcd.io/v1', kind: 'Kustomization', metadata: { name, namespace: 'flux-system' },
    spec: {
      interval: '10m', prune: true, sourceRef: { kind: 'GitRepository', name: 'fleet' }, path: `./${name}`, timeout: '30s',
      rollout: { onFailure: 'rollback', waves: [
        { name: 'dev', clusterSelector: { matchLabels: { env: 'dev' } }, bakeTime: devBake, healthTimeout: '30s' },
        { name: 'prod', clusterSelector: { matchLabels: { env: 'prod' } }, bakeTime: '1s', healthTimeout: '30s', approval: true },
      ] },
    },
  };
}
