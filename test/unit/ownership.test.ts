// The pure rules of ownership (agents/apply/ownership.ts): field manager names, the
// ignore-fields syntax, holding fields, moving ownership between managers, fights.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  FightTracker, MAX_FIELD_MANAGER_LENGTH, changedByOthers, crdReplicasPath, fieldManagerFor, formatPath, holdFields, hpaTargets,
  isUnder, parseIgnoreFields, transferOwnership, type ManagedFieldsEntry,
} from '../../agents/apply/ownership.js';
import type { KubeObject } from '../../core/objects.js';

describe('fieldManagerFor', () => {
  const long = `kustomization/apps/${'x'.repeat(200)}`;
  const cases: [string, string, RegExp | string][] = [
    ['a Kustomization', 'kustomization/apps/podinfo', 'flotilla:kustomization/apps/podinfo'],
    ['a HelmRelease scoped to a cluster', 'helmrelease/flux-system/redis@staging', 'flotilla:helmrelease/flux-system/redis@staging'],
    ['exactly at the limit', 'd'.repeat(MAX_FIELD_MANAGER_LENGTH - 9), `flotilla:${'d'.repeat(119)}`],
    ['one over the limit: truncated with a hash', 'd'.repeat(MAX_FIELD_MANAGER_LENGTH - 8), /^flotilla:d{108}~[0-9a-f]{10}$/],
    ['long', long, /^flotilla:kustomization\/apps\/x+~[0-9a-f]{10}$/],
    ['a space', 'my app', /^flotilla:my_app~[0-9a-f]{10}$/],
    ['not ASCII', 'kustomization/apps/café', /^flotilla:kustomization\/apps\/caf_~[0-9a-f]{10}$/],
    ['a control character', 'a\nb', /^flotilla:a_b~[0-9a-f]{10}$/],
  ];
  for (const [what, name, want] of cases) {
    it(what, () => {
      const got = fieldManagerFor(name);
      if (typeof want === 'string') assert.equal(got, want); else assert.match(got, want);
      assert.ok(got.length <= MAX_FIELD_MANAGER_LENGTH);
      assert.match(got, /^[\x21-\x7e]+$/, 'printable, as the API server requires');
    });
  }
  it('keeps names that differ only past the limit, or only in replaced characters, apart', () => {
    assert.notEqual(fieldManagerFor(`${long}-1`), fieldManagerFor(`${long}-2`));
    assert.notEqual(fieldManagerFor('a b'), fieldManagerFor('a\tb'));
    assert.notEqual(fieldManagerFor('a b'), fieldManagerFor('a_b'));
  });
  it('refuses an empty name', () => {
    assert.throws(() => fieldManagerFor(''), /needs a name/);
  });
});

describe('parseIgnoreFields', () => {
  const ok: [string, string[][]][] = [
    ['spec.replicas', [['spec', 'replicas']]],
    ['spec.replicas,spec.template.metadata.annotations', [['spec', 'replicas'], ['spec', 'template', 'metadata', 'annotations']]],
    [' spec.replicas , data.level ,', [['spec', 'replicas'], ['data', 'level']]],
    ['metadata.annotations["example.com/owner"]', [['metadata', 'annotations', 'example.com/owner']]],
    ['metadata.labels["app.kubernetes.io/version"].x', [['metadata', 'labels', 'app.kubernetes.io/version', 'x']]],
    ['data["a.b"],data.c', [['data', 'a.b'], ['data', 'c']]],
    ['spec.replicas,spec.replicas', [['spec', 'replicas']]],
    ['spec.template.spec.containers', [['spec', 'template', 'spec', 'containers']]],
    ['', []],
  ];
  for (const [value, want] of ok) {
    it(`reads ${JSON.stringify(value)}`, () => {
      assert.deepEqual(parseIgnoreFields(value), { paths: want, errors: [] });
    });
  }
  const bad: [string, RegExp][] = [
    ['spec..replicas', /"spec\.\.replicas": empty key/],
    ['.spec.replicas', /empty key/],
    ['spec.replicas.', /must not end with a dot/],
    ['spec.containers[0].image', /bracket must hold a quoted, non-empty key.*list elements cannot be named/],
    ['data[""]', /bracket must hold a quoted, non-empty key/],
    ['spec.replicas spec.paused', /paths are separated by commas/],
    ['data["a"]b', /a key must follow a dot/],
    ['kind', /"kind" cannot be ignored: it is the object's type/],
    ['metadata.name', /it is the object's identity/],
    ['metadata', /it is the object's identity/],
    ['metadata.annotations', /holds Flotilla's own annotations; name single keys instead/],
    ['metadata.annotations["flotilla.dev/deployment"]', /is Flotilla's own mark/],
    ['metadata.labels["app.kubernetes.io/managed-by"]', /is Flotilla's own mark/],
  ];
  for (const [value, want] of bad) {
    it(`refuses ${JSON.stringify(value)}`, () => {
      const got = parseIgnoreFields(value);
      assert.equal(got.errors.length, 1, JSON.stringify(got));
      assert.match(got.errors[0] ?? '', want);
    });
  }
  it('reports each bad path and keeps the good ones', () => {
    const got = parseIgnoreFields('kind,spec.replicas,a..b');
    assert.deepEqual(got.paths, [['spec', 'replicas']]);
    assert.equal(got.errors.length, 2);
  });
  it('formats paths back in the same syntax', () => {
    for (const text of ['spec.replicas', 'metadata.annotations["example.com/owner"]', 'data["a.b"].c']) {
      const parsed = parseIgnoreFields(text).paths[0];
      assert.ok(parsed);
      assert.equal(formatPath(parsed), text);
    }
  });
  it('matches drift paths at and below a held path', () => {
    const held = [['spec', 'template', 'metadata', 'annotations']];
    assert.equal(isUnder('spec.template.metadata.annotations', held), true);
    assert.equal(isUnder('spec.template.metadata.annotations.tier', held), true);
    assert.equal(isUnder('spec.template.metadata.annotationsX', held), false);
    assert.equal(isUnder('spec.template.metadata.labels', held), false);
  });
});

const entry = (manager: string, fieldsV1: Record<string, unknown>, extra: Partial<ManagedFieldsEntry> = {}): ManagedFieldsEntry =>
  ({ manager, operation: 'Apply', apiVersion: 'apps/v1', fieldsType: 'FieldsV1', fieldsV1, ...extra });

describe('holdFields', () => {
  const desired: KubeObject = {
    apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web', namespace: 'a' },
    spec: { replicas: 2, template: { metadata: { annotations: { tier: 'one', mine: 'yes' } } } },
  };
  const live = (replicas: number, annotations: Record<string, string>): KubeObject => ({
    ...desired, spec: { replicas, template: { metadata: { annotations } } },
  });
  it('leaves out a field another manager owns', () => {
    const owned = { 'f:spec': { 'f:template': {} } };
    const got = holdFields(desired, live(5, {}), [['spec', 'replicas']], owned);
    assert.deepEqual((got.spec as Record<string, unknown>).replicas, undefined);
  });
  it('sends the live value of a field it owns (so apply does not remove it)', () => {
    const owned = { 'f:spec': { 'f:replicas': {} } };
    const got = holdFields(desired, live(3, {}), [['spec', 'replicas']], owned);
    assert.equal((got.spec as Record<string, unknown>).replicas, 3);
  });
  it('holds a map key by key, by owner', () => {
    const owned = { 'f:spec': { 'f:template': { 'f:metadata': { 'f:annotations': { '.': {}, 'f:mine': {} } } } } };
    const got = holdFields(desired, live(2, { tier: 'two', mine: 'live', injected: 'x' }), [['spec', 'template', 'metadata', 'annotations']], owned);
    assert.deepEqual((got.spec as { template: { metadata: unknown } }).template.metadata, { annotations: { mine: 'live' } });
  });
  it('takes an atomic ancestor as owned whole', () => {
    const owned = { 'f:spec': { 'f:template': {} } };
    const got = holdFields(desired, live(2, { tier: 'two' }), [['spec', 'template', 'metadata', 'annotations']], owned);
    assert.deepEqual((got.spec as { template: { metadata: unknown } }).template.metadata, { annotations: { tier: 'two' } });
  });
  it('does not change its input, and changes nothing with no paths', () => {
    const copy = structuredClone(desired);
    holdFields(desired, live(5, {}), [['spec', 'replicas']], undefined);
    assert.deepEqual(desired, copy);
    assert.equal(holdFields(desired, live(5, {}), [], undefined), desired);
  });
});

describe('transferOwnership', () => {
  const obj = (managedFields: ManagedFieldsEntry[]): KubeObject => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'x', managedFields } });
  it('renames the old manager\'s apply entry', () => {
    const kubectl = entry('kubectl-edit', { 'f:data': { 'f:b': {} } }, { operation: 'Update' });
    const got = transferOwnership(obj([entry('flotilla', { 'f:data': { 'f:a': {} } }), kubectl]), ['flotilla'], 'flotilla:d');
    assert.deepEqual(got?.map((e) => [e.manager, e.operation, e.fieldsV1]), [
      ['kubectl-edit', 'Update', { 'f:data': { 'f:b': {} } }],
      ['flotilla:d', 'Apply', { 'f:data': { 'f:a': {} } }],
    ]);
  });
  it('merges into an existing entry of the new manager', () => {
    const got = transferOwnership(obj([
      entry('flotilla:d', { 'f:data': { 'f:a': {} } }),
      entry('flotilla', { 'f:data': { 'f:b': {} }, 'f:metadata': { 'f:labels': { 'f:x': {} } } }),
      entry('flotilla:old', { 'f:data': { 'f:c': {} } }),
    ]), ['flotilla', 'flotilla:old'], 'flotilla:d');
    assert.deepEqual(got?.map((e) => [e.manager, e.fieldsV1]), [
      ['flotilla:d', { 'f:data': { 'f:a': {}, 'f:b': {}, 'f:c': {} }, 'f:metadata': { 'f:labels': { 'f:x': {} } } }],
    ]);
  });
  it('leaves update entries and subresources alone, and says when there is nothing to move', () => {
    const untouched = obj([
      entry('flotilla', { 'f:spec': {} }, { operation: 'Update' }),
      entry('flotilla', { 'f:status': {} }, { subresource: 'status' }),
      entry('flotilla:d', { 'f:data': {} }),
    ]);
    assert.equal(transferOwnership(untouched, ['flotilla'], 'flotilla:d'), undefined);
  });
});

describe('changedByOthers', () => {
  const desired: KubeObject = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'x' }, data: { level: 'info', cpu: '1000m', gone: 'a' } };
  it('names fields whose live value another manager set, the most recent first', () => {
    const live: KubeObject = {
      ...desired, data: { level: 'debug', cpu: '1' },
      metadata: { name: 'x', managedFields: [
        entry('flotilla:d', { 'f:data': { 'f:cpu': {} } }),
        entry('kubectl-patch', { 'f:data': { 'f:level': {} } }, { operation: 'Update', time: '2026-01-01T00:00:00Z' }),
        entry('kubectl-edit', { 'f:data': { 'f:level': {} } }, { operation: 'Update', time: '2026-01-01T00:00:05Z' }),
      ] },
    };
    // cpu: a different spelling of a value still ours; gone: nobody owns its absence.
    assert.deepEqual(changedByOthers(desired, live, 'flotilla:d'), [{ path: ['data', 'level'], manager: 'kubectl-edit' }]);
  });
});

describe('FightTracker', () => {
  const edit = [{ path: ['data', 'level'], manager: 'kubectl-edit' }];
  it('declares a fight at the third change by one manager within the window, once', () => {
    let now = 0;
    const t = new FightTracker(() => now);
    assert.deepEqual(t.observe('d\nx', 'sha1', '1', edit), []);
    now += 60_000;
    assert.deepEqual(t.observe('d\nx', 'sha1', '1', edit), [], 'the same change (resourceVersion) counts once');
    assert.deepEqual(t.observe('d\nx', 'sha1', '2', edit), []);
    now += 60_000;
    const fights = t.observe('d\nx', 'sha1', '3', edit);
    assert.deepEqual(fights.map((f) => [f.field, f.manager, f.changes, f.new]), [['data.level', 'kubectl-edit', 3, true]]);
    assert.deepEqual(t.observe('d\nx', 'sha1', '4', []).map((f) => f.new), [false]);
    assert.equal(t.active('d\nx', 'sha1').length, 1);
  });
  it('forgets changes older than the window, and restarts the count when the manager changes', () => {
    let now = 0;
    const t = new FightTracker(() => now);
    t.observe('k', 'sha1', '1', edit);
    t.observe('k', 'sha1', '2', edit);
    now += 11 * 60_000;
    assert.deepEqual(t.observe('k', 'sha1', '3', edit), [], 'the first two are too old');
    t.observe('k', 'sha1', '4', [{ path: ['data', 'level'], manager: 'other' }]);
    assert.deepEqual(t.observe('k', 'sha1', '5', edit), []);
  });
  it('ends a fight when the manifest changes, or the deployment is forgotten', () => {
    const t = new FightTracker(() => 0);
    for (const rv of ['1', '2', '3']) t.observe('d\nx', 'sha1', rv, edit);
    assert.equal(t.active('d\nx', 'sha1').length, 1);
    assert.equal(t.active('d\nx', 'sha2').length, 0);
    assert.equal(t.active('d\nx', 'sha1').length, 0, 'the new manifest reset it');
    for (const rv of ['1', '2', '3']) t.observe('d\nx', 'sha1', rv, edit);
    t.forget('d\n');
    assert.equal(t.active('d\nx', 'sha1').length, 0);
  });
});

describe('HPA targets', () => {
  it('reads scaleTargetRef, in the HPA\'s namespace', () => {
    const hpa = (ref: unknown): KubeObject => ({ apiVersion: 'autoscaling/v2', kind: 'HorizontalPodAutoscaler', metadata: { name: 'h', namespace: 'web' }, spec: { scaleTargetRef: ref } });
    assert.deepEqual(hpaTargets([hpa({ apiVersion: 'apps/v1', kind: 'Deployment', name: 'api' }), hpa({ kind: 'Deployment' }), hpa(undefined)]), [
      { namespace: 'web', group: 'apps', kind: 'Deployment', name: 'api' },
    ]);
  });
  it('reads a CRD\'s scale subresource for the served version', () => {
    const crd: KubeObject = { apiVersion: 'apiextensions.k8s.io/v1', kind: 'CustomResourceDefinition', metadata: { name: 'rollouts.example.com' }, spec: {
      versions: [
        { name: 'v1', subresources: { scale: { specReplicasPath: '.spec.replicas', statusReplicasPath: '.status.replicas' } } },
        { name: 'v2', subresources: { scale: { specReplicasPath: '.spec.scale.count' } } },
        { name: 'v3', subresources: { status: {} } },
        { name: 'v4', subresources: { scale: { specReplicasPath: '.spec.items[0].n' } } },
      ],
    } };
    assert.deepEqual(crdReplicasPath(crd, 'example.com/v1'), ['spec', 'replicas']);
    assert.deepEqual(crdReplicasPath(crd, 'example.com/v2'), ['spec', 'scale', 'count']);
    assert.equal(crdReplicasPath(crd, 'example.com/v3'), undefined);
    assert.equal(crdReplicasPath(crd, 'example.com/v4'), undefined);
  });
});
