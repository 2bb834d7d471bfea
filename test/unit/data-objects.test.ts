import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OWNED_BY_ANNOTATION } from '../../core/declarations/scope.js';
import type { DataDeclaration } from '../../core/declarations/types.js';
import { DataObjectStore } from '../../hub/data-objects.js';

function configMap(namespace: string, name: string, data: Record<string, string>, ownedBy?: string): DataDeclaration {
  return {
    kind: 'ConfigMap', apiVersion: 'v1', namespace, name, labels: {},
    annotations: ownedBy === undefined ? {} : { [OWNED_BY_ANNOTATION]: ownedBy }, spec: { data },
  };
}

function withStore(test: (store: DataObjectStore, dir: string) => void): void {
  const dir = mkdtempSync(join(tmpdir(), 'flotilla-data-'));
  try {
    test(new DataObjectStore(dir), dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('DataObjectStore', () => {
  it('keeps one scope\'s flux-system apart from another\'s', () => {
    withStore((store) => {
      assert.equal(store.put(configMap('flux-system@staging', 'cluster-vars', { env: 'staging' })), 'created');
      assert.equal(store.put(configMap('flux-system@production', 'cluster-vars', { env: 'production' })), 'created');
      assert.deepEqual(store.get('ConfigMap', 'flux-system@staging', 'cluster-vars'), { env: 'staging' });
      assert.deepEqual(store.get('ConfigMap', 'flux-system@production', 'cluster-vars'), { env: 'production' });
      assert.equal(store.get('ConfigMap', 'flux-system', 'cluster-vars'), undefined);
    });
  });

  it('records who adopted an object, and a change of owner is a change', () => {
    withStore((store) => {
      const owner = 'kustomization/flux-system@staging/flux-system';
      assert.equal(store.put(configMap('flux-system@staging', 'vars', { a: '1' }, owner)), 'created');
      assert.equal(store.ownedBy('ConfigMap', 'flux-system@staging', 'vars'), owner);
      assert.equal(store.put(configMap('flux-system@staging', 'vars', { a: '1' }, owner)), 'unchanged');
      const other = `${owner},kustomization/flux-system@staging/apps`;
      assert.equal(store.plan(configMap('flux-system@staging', 'vars', { a: '1' }, other)), 'configured');
      assert.equal(store.put(configMap('flux-system@staging', 'vars', { a: '1' })), 'configured');
      assert.equal(store.ownedBy('ConfigMap', 'flux-system@staging', 'vars'), '', 'applied directly: no owner');
      assert.equal(store.ownedBy('ConfigMap', 'flux-system@staging', 'absent'), undefined);
    });
  });

  it('writes Secrets readable by the hub only, and refuses path-like names', () => {
    withStore((store, dir) => {
      store.put({ ...configMap('apps', 'creds', { password: 'x' }), kind: 'Secret' });
      assert.equal(statSync(join(dir, 'Secret', 'apps', 'creds.json')).mode & 0o777, 0o600);
      for (const [namespace, name] of [['..', 'x'], ['a@b@c', 'x'], ['apps', '../x'], ['@staging', 'x']] as const) {
        assert.throws(() => store.get('ConfigMap', namespace, name), /invalid ConfigMap name/, `${namespace}/${name}`);
      }
    });
  });
});
