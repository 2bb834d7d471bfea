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
