// Flux's multi-tenancy rules as Flotilla applies them (core/tenancy.ts), one table per rule,
// each row citing where Flux decides it:
//   fluxcd/pkg runtime/client/impersonator.go (setImpersonationConfig, GetClient),
//   fluxcd/helm-controller internal/kube/impersonate.go (SetImpersonationConfig),
//   fluxcd/kustomize-controller internal/controller/kustomization_controller.go (getSource),
//   fluxcd/helm-controller internal/acl/acl.go (AllowsAccessTo).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  crossNamespaceRefusal, defaultNamespaceFor, forbiddenMessage, impersonationFor, parseImpersonation, serviceAccountUser,
} from '../../core/tenancy.js';

describe('tenancy, Flux\'s way', () => {
  it('the identity: spec.serviceAccountName, else --default-service-account, else the controller\'s own; always in the declaration\'s namespace', () => {
    const rows: [string, { namespace: string; serviceAccountName?: string }, { defaultServiceAccount?: string }, string | undefined][] = [
      ['no SA, no default: the agent itself (impersonator.go GetClient default case)', { namespace: 'apps' }, {}, undefined],
      ['spec.serviceAccountName', { namespace: 'apps', serviceAccountName: 'dev-team' }, {}, 'apps/dev-team'],
      ['the default SA when none is named', { namespace: 'apps' }, { defaultServiceAccount: 'default' }, 'apps/default'],
      ['spec.serviceAccountName beats the default (setImpersonationConfig)', { namespace: 'apps', serviceAccountName: 'dev-team' }, { defaultServiceAccount: 'default' }, 'apps/dev-team'],
      ['an empty name counts as unset', { namespace: 'apps', serviceAccountName: '' }, { defaultServiceAccount: 'default' }, 'apps/default'],
      ['a scoped hub namespace: the cluster\'s namespace', { namespace: 'apps@staging', serviceAccountName: 'dev-team' }, {}, 'apps/dev-team'],
    ];
    for (const [what, decl, settings, want] of rows) {
      assert.equal(impersonationFor(decl, { noCrossNamespaceRefs: false, ...settings }), want, what);
    }
  });

  it('the user impersonated is system:serviceaccount:<namespace>:<name>; malformed options are refused', () => {
    assert.equal(serviceAccountUser('apps', 'dev-team'), 'system:serviceaccount:apps:dev-team');
    assert.deepEqual(parseImpersonation('apps/dev-team'), { namespace: 'apps', name: 'dev-team', user: 'system:serviceaccount:apps:dev-team' });
    for (const bad of ['', 'apps', '/x', 'apps/', 'Apps/x', 'apps/x/y', 'apps/x:y', `${'a'.repeat(64)}/x`]) {
      assert.equal(parseImpersonation(bad), undefined, bad);
    }
  });

  it('namespaced objects naming no namespace: the targetNamespace, else the declaration\'s (Flux fails "namespace not specified"; Flotilla never uses default)', () => {
    assert.equal(defaultNamespaceFor({ namespace: 'apps', targetNamespace: 'web' }), 'web');
    assert.equal(defaultNamespaceFor({ namespace: 'apps' }), 'apps');
    assert.equal(defaultNamespaceFor({ namespace: 'apps@staging' }), 'apps');
  });

  it('--no-cross-namespace-refs: which references are refused, with Flux\'s words', () => {
    const on = { noCrossNamespaceRefs: true };
    const off = { noCrossNamespaceRefs: false };
    const ks = { kind: 'Kustomization' as const, namespace: 'tenant-a', name: 'app' };
    const hr = { kind: 'HelmRelease' as const, namespace: 'tenant-a', name: 'web' };
    const b = { kind: 'GitRepository', namespace: 'tenant-b', name: 'repo' };
    const own = { kind: 'GitRepository', namespace: 'tenant-a', name: 'repo' };
    assert.equal(crossNamespaceRefusal(ks, 'spec.sourceRef', b, off), undefined, 'flag off: allowed');
    assert.equal(crossNamespaceRefusal(ks, 'spec.sourceRef', own, on), undefined, 'same namespace: allowed');
    assert.equal(crossNamespaceRefusal(ks, 'spec.sourceRef', b, on),
      "can't access 'GitRepository/tenant-b/repo', cross-namespace references have been blocked (Kustomization tenant-a/app spec.sourceRef; "
      + 'the hub runs with tenancy.noCrossNamespaceRefs: declare the GitRepository in namespace tenant-a, or ask the platform team)');
    assert.match(crossNamespaceRefusal(hr, 'spec.chart.spec.sourceRef', { kind: 'HelmRepository', namespace: 'flux-system', name: 'charts' }, on) ?? '',
      /^cross-namespace references are not allowed: cannot access HelmRepository flux-system\/charts \(HelmRelease tenant-a\/web spec\.chart\.spec\.sourceRef;/);
    // Scoped hub namespaces compare whole and are printed as the cluster knows them.
    assert.equal(crossNamespaceRefusal({ ...ks, namespace: 'tenant-a@dev' }, 'spec.sourceRef', { ...own, namespace: 'tenant-a@dev' }, on), undefined);
    assert.match(crossNamespaceRefusal({ ...ks, namespace: 'tenant-a@dev' }, 'spec.sourceRef', { ...b, namespace: 'tenant-b@dev' }, on) ?? '', /'GitRepository\/tenant-b\/repo'/);
  });

  it('a 403 met while impersonating names the account', () => {
    assert.equal(forbiddenMessage('system:serviceaccount:a:a', 'configmaps "x" is forbidden'), 'forbidden for system:serviceaccount:a:a: configmaps "x" is forbidden');
  });
});
