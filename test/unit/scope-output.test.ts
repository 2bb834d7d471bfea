// Scoped declarations in the CLI's output (issue #30 point 4): which namespaces a listing
// takes (-n, --scope, -A), the rest of a scope a one-namespace listing leaves out, the scoped
// namesakes a not-found id is told about, and the cluster events name for scoped objects.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { namespaceSelected, scopedCandidates } from '../../core/declarations/scope.js';
import type { DeclarationClient } from '../../hub/declarations.js';
import { otherNamespacesOfScope, scopeHint, selectionOf, selects, type GlobalOptions } from '../../cli/gitops.js';
import { eventCluster } from '../../cli/inspect.js';

const IDS = [
  'kustomization/flux-system@production/apps',
  'kustomization/flux-system@staging/apps',
  'kustomization/flux-system@staging/flux-system',
  'kustomization/flux-system/other',
  'helmrelease/podinfo@staging/podinfo',
  'helmrelease/podinfo@production/podinfo',
  'helmrelease/flux-system@staging/apps',
];

type Selection = Pick<GlobalOptions, 'namespace' | 'allNamespaces' | 'scope' | 'namespaceGiven'>;
const sel = (s: Partial<Selection>): Selection => ({ namespace: 'flux-system', allNamespaces: false, ...s });
const selected = (s: Selection): string[] => IDS.filter((id) => selects(id.split('/')[1] ?? '', s));

describe('which namespaces a listing takes', () => {
  it('-n flux-system: every scope\'s flux-system and the unscoped one', () => {
    assert.deepEqual(selected(sel({})), IDS.filter((id) => id.split('/')[1]?.startsWith('flux-system')));
  });

  it('-n flux-system@staging: that namespace of that scope only', () => {
    assert.deepEqual(selected(sel({ namespace: 'flux-system@staging', namespaceGiven: true })), [
      'kustomization/flux-system@staging/apps', 'kustomization/flux-system@staging/flux-system', 'helmrelease/flux-system@staging/apps',
    ]);
  });

  it('--scope staging (or -n *@staging, or --scope with -A): every namespace of the scope', () => {
    const whole = IDS.filter((id) => id.split('/')[1]?.endsWith('@staging'));
    assert.deepEqual(selected(sel({ namespace: 'flux-system@staging', scope: 'staging' })), whole);
    assert.deepEqual(selected(sel({ namespace: '*@staging', namespaceGiven: true })), whole);
    assert.deepEqual(selected(sel({ namespace: 'flux-system@staging', scope: 'staging', namespaceGiven: true, allNamespaces: true })), whole);
    assert.equal(selectionOf(sel({ namespace: 'flux-system@staging', scope: 'staging' })), 'scope staging');
  });

  it('--scope staging -n podinfo: podinfo@staging', () => {
    assert.deepEqual(selected(sel({ namespace: 'podinfo@staging', scope: 'staging', namespaceGiven: true })), ['helmrelease/podinfo@staging/podinfo']);
    assert.equal(selectionOf(sel({ namespace: 'podinfo@staging', scope: 'staging', namespaceGiven: true })), 'namespace podinfo@staging');
  });

  it('-A: everything', () => {
    assert.deepEqual(selected(sel({ allNamespaces: true })), IDS);
  });

  it('namespaceSelected', () => {
    assert.equal(namespaceSelected('flux-system@staging', 'flux-system'), true);
    assert.equal(namespaceSelected('flux-system@staging', 'flux-system@production'), false);
    assert.equal(namespaceSelected('podinfo@staging', '*@staging'), true);
    assert.equal(namespaceSelected('podinfo', '*@staging'), false);
    assert.equal(namespaceSelected('podinfo@stagingx', '*@staging'), false);
  });
});

describe('the rest of a scope, for a listing of one of its namespaces', () => {
  it('-n flux-system@staging leaves out podinfo@staging', () => {
    assert.deepEqual(otherNamespacesOfScope(IDS, sel({ namespace: 'flux-system@staging', namespaceGiven: true })), ['podinfo@staging']);
  });

  it('-n flux-system (every scope\'s flux-system) leaves out podinfo@production and podinfo@staging', () => {
    assert.deepEqual(otherNamespacesOfScope(IDS, sel({})), ['podinfo@production', 'podinfo@staging']);
  });

  it('nothing to say for an unscoped fleet, a whole scope or -A', () => {
    assert.deepEqual(otherNamespacesOfScope(['kustomization/flux-system/a', 'helmrelease/podinfo/podinfo'], sel({})), []);
    assert.deepEqual(otherNamespacesOfScope(IDS, sel({ namespace: '*@staging', namespaceGiven: true })), []);
    assert.deepEqual(otherNamespacesOfScope(IDS, sel({ namespace: 'flux-system@staging', scope: 'staging' })), []);
    assert.deepEqual(otherNamespacesOfScope(IDS, sel({ namespace: 'flux-system@staging', namespaceGiven: true, allNamespaces: true })), []);
  });
});

describe('scoped candidates of an id that does not exist', () => {
  it('the same kind and name in the same cluster namespace, in every scope', () => {
    assert.deepEqual(scopedCandidates('kustomization/flux-system/apps', IDS), [
      'kustomization/flux-system@production/apps', 'kustomization/flux-system@staging/apps',
    ]);
  });

  it('the preferred scope first (explain --cluster staging)', () => {
    assert.deepEqual(scopedCandidates('kustomization/flux-system/apps', IDS, 'staging'), [
      'kustomization/flux-system@staging/apps', 'kustomization/flux-system@production/apps',
    ]);
  });

  it('another scope, or the unscoped one, for a scoped id', () => {
    assert.deepEqual(scopedCandidates('kustomization/flux-system@dev/apps', IDS), [
      'kustomization/flux-system@production/apps', 'kustomization/flux-system@staging/apps',
    ]);
    assert.deepEqual(scopedCandidates('kustomization/flux-system@staging/other', IDS), ['kustomization/flux-system/other']);
  });

  it('never another kind, name or namespace', () => {
    assert.deepEqual(scopedCandidates('kustomization/podinfo/podinfo', IDS), []);
    assert.deepEqual(scopedCandidates('kustomization/flux-system/nothing', IDS), []);
    assert.deepEqual(scopedCandidates('kustomization/flux-system@staging/apps', IDS), ['kustomization/flux-system@production/apps']);
  });

  it('the message names them, and how to name one', async () => {
    const client = { list: (kind: string) => Promise.resolve(IDS.filter((id) => id.startsWith(`${kind.toLowerCase()}/`))) } as unknown as DeclarationClient;
    assert.equal(await scopeHint(client, 'kustomization/flux-system/apps', 'staging'),
      'no kustomization flux-system/apps; did you mean flux-system@staging/apps or flux-system@production/apps? '
      + '(declarations of a Flux repository are scoped per cluster: name it kustomization/flux-system@staging/apps, or add --scope staging)');
    assert.equal(await scopeHint(client, 'helmrelease/podinfo/podinfo'),
      'no helmrelease podinfo/podinfo; did you mean podinfo@production/podinfo or podinfo@staging/podinfo? '
      + '(declarations of a Flux repository are scoped per cluster: name it helmrelease/podinfo@production/podinfo, or add --scope production)');
    assert.equal(await scopeHint(client, 'kustomization/flux-system/nothing'), undefined);
    assert.equal(await scopeHint(client, 'cluster/staging'), undefined);
  });
});

describe('the cluster of an event', () => {
  const clusters = new Map<string, readonly string[]>([['staging', ['staging']], ['prod', ['prod-a', 'prod-b']], ['empty', []]]);
  it('its own when it has one', () => {
    assert.equal(eventCluster({ cluster: 'staging' }, 'kustomization/flux-system@prod/apps', clusters), 'staging');
  });
  it('for a scoped object, its scope\'s clusters', () => {
    assert.equal(eventCluster({}, 'kustomization/flux-system@staging/apps', clusters), 'staging');
    assert.equal(eventCluster({}, 'gitrepository/flux-system@prod/flux-system', clusters), 'prod-a,prod-b');
    assert.equal(eventCluster({}, 'kustomization/flux-system@empty/apps', clusters), '@empty');
    assert.equal(eventCluster({}, 'kustomization/flux-system@unknown/apps', clusters), '@unknown');
  });
  it('- for an unscoped object', () => {
    assert.equal(eventCluster({}, 'kustomization/flux-system/app', clusters), '-');
  });
});
