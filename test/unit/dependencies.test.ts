// dependsOn as Flux decides it (core/dependencies.ts). The cases are those of Flux's
// checkDependencies: kustomize-controller internal/controller/kustomization_controller.go and
// helm-controller internal/controller/helmrelease_controller.go, plus Flotilla's per-cluster rule.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { unmetDependencies, type DependencyStatus, type Dependent } from '../../core/dependencies.js';

const SOURCE = 'gitrepository/flux-system/fleet';
const dep = (over: Partial<DependencyStatus> = {}): DependencyStatus => ({
  id: 'kustomization/flux-system/infra', ready: true, readyClusters: ['a', 'b'], revision: 'main@sha1:2222', deleted: false,
  sourceId: SOURCE, generationObserved: true, ...over,
});
const kustomization: Dependent = { kind: 'Kustomization', sourceId: SOURCE, revision: 'main@sha1:2222', placed: ['a', 'b'] };
const helmRelease: Dependent = { kind: 'HelmRelease', placed: [] };

describe('unmetDependencies (Flux checkDependencies)', () => {
  const cases: { name: string; status?: DependencyStatus; me: Dependent; want: string[] }[] = [
    { name: 'met: Ready, current generation, same source at the same revision', status: dep(), me: kustomization, want: [] },
    { name: 'not found', me: kustomization, want: ["dependency 'flux-system/infra' not found"] },
    { name: 'deleted', status: dep({ deleted: true }), me: kustomization, want: ["dependency 'flux-system/infra' not found"] },
    { name: 'not Ready', status: dep({ ready: false }), me: kustomization, want: ["dependency 'flux-system/infra' is not ready"] },
    { name: 'Ready, but about an older generation of its spec', status: dep({ generationObserved: false }), me: kustomization, want: ["dependency 'flux-system/infra' is not ready"] },
    {
      name: 'same source, an older revision applied: not up to date', status: dep({ revision: 'main@sha1:1111' }), me: kustomization,
      want: ["dependency 'flux-system/infra' revision is not up to date (it applied main@sha1:1111, this is main@sha1:2222)"],
    },
    {
      name: 'same source, nothing applied yet', status: dep({ revision: '' }), me: kustomization,
      want: ["dependency 'flux-system/infra' revision is not up to date (it applied nothing yet, this is main@sha1:2222)"],
    },
    { name: 'another source: its revision is not compared', status: dep({ revision: 'main@sha1:9999', sourceId: 'gitrepository/flux-system/other' }), me: kustomization, want: [] },
    { name: 'a dependency from before the rule (no sourceId): not compared', status: dep({ revision: 'main@sha1:1111', sourceId: undefined }), me: kustomization, want: [] },
    { name: 'not Ready wins over the revision', status: dep({ ready: false, revision: 'main@sha1:1111' }), me: kustomization, want: ["dependency 'flux-system/infra' is not ready"] },
    { name: 'Flotilla: not Ready on a placed cluster', status: dep({ readyClusters: ['a'] }), me: kustomization, want: ["dependency 'flux-system/infra' is not ready on b"] },
    { name: 'HelmRelease: no revision rule', status: dep({ id: 'helmrelease/apps/db', revision: '1.0.0' }), me: helmRelease, want: [] },
    { name: 'HelmRelease: Ready at an older generation', status: dep({ id: 'helmrelease/apps/db', generationObserved: false }), me: helmRelease, want: ["dependency 'flux-system/infra' is not ready"] },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const known = new Map(c.status ? [['kustomization/flux-system/infra', c.status]] : []);
      assert.deepEqual(unmetDependencies(['kustomization/flux-system/infra'], known, c.me), c.want);
    });
  }

  it('lists every unmet dependency, in order (Flux stops at the first)', () => {
    const known = new Map([
      ['kustomization/flux-system/a', dep({ id: 'kustomization/flux-system/a', ready: false })],
      ['kustomization/flux-system/b', dep({ id: 'kustomization/flux-system/b' })],
    ]);
    assert.deepEqual(unmetDependencies(['kustomization/flux-system/a', 'kustomization/flux-system/b', 'kustomization/flux-system/c'], known, kustomization),
      ["dependency 'flux-system/a' is not ready", "dependency 'flux-system/c' not found"]);
  });
});
