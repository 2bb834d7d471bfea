import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OWNED_BY_ANNOTATION } from '../../core/declarations/scope.js';
import type { DataDeclaration } from '../../core/declarations/types.js';
import { FileBlobStore } from '../../hub/blob-store.js';
import { DataObjectStore } from '../../hub/data-objects.js';

function configMap(namespace: string, name: string, data: Record<string, string>, ownedBy?: string): DataDeclaration {
  return {
    kind: 'ConfigMap', apiVersion: 'v1', namespace, name, labels: {},
    annotations: ownedBy === undefined ? {} : { [OWNED_BY_ANNOTATION]: ownedBy }, spec: { data },
  };
}

async function withStore(test: (store: DataObjectStore, dir: string) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'flotilla-data-'));
  try {
    await test(new DataObjectStore(new FileBlobStore(dir), ''), dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('DataObjectStore', () => {
  it('keeps one scope\'s flux-system apart from another\'s', async () => {
    await withStore(async (store) => {
      assert.equal(await store.put(configMap('flux-system@staging', 'cluster-vars', { env: 'staging' })), 'created');
      assert.equal(await store.put(configMap('flux-system@production', 'cluster-vars', { env: 'production' })), 'created');
      assert.deepEqual(await store.get('ConfigMap', 'flux-system@staging', 'cluster-vars'), { env: 'staging' });
      assert.deepEqual(await store.get('ConfigMap', 'flux-system@production', 'cluster-vars'), { env: 'production' });
      assert.equal(await store.get('ConfigMap', 'flux-system', 'cluster-vars'), undefined);
    });
  });

  it('records who adopted an object, and a change of owner is a change', async () => {
    await withStore(async (store) => {
      const owner = 'kustomization/flux-system@staging/flux-system';
      assert.equal(await store.put(configMap('flux-system@staging', 'vars', { a: '1' }, owner)), 'created');
      assert.equal(await store.ownedBy('ConfigMap', 'flux-system@staging', 'vars'), owner);
      assert.equal(await store.put(configMap('flux-system@staging', 'vars', { a: '1' }, owner)), 'unchanged');
      const other = `${owner},kustomization/flux-system@staging/apps`;
      assert.equal(await store.plan(configMap('flux-system@staging', 'vars', { a: '1' }, other)), 'configured');
      assert.equal(await store.put(configMap('flux-system@staging', 'vars', { a: '1' })), 'configured');
      assert.equal(await store.ownedBy('ConfigMap', 'flux-system@staging', 'vars'), '', 'applied directly: no owner');
      assert.equal(await store.ownedBy('ConfigMap', 'flux-system@staging', 'absent'), undefined);
    });
  });

  it('writes Secrets readable by the hub only, and refuses path-like names', async () => {
    await withStore(async (store, dir) => {
      await store.put({ ...configMap('apps', 'creds', { password: 'x' }), kind: 'Secret' });
      assert.equal(statSync(join(dir, 'Secret', 'apps', 'creds.json')).mode & 0o777, 0o600);
      for (const [namespace, name] of [['..', 'x'], ['a@b@c', 'x'], ['apps', '../x'], ['@staging', 'x']] as const) {
        await assert.rejects(store.get('ConfigMap', namespace, name), /invalid ConfigMap name/, `${namespace}/${name}`);
      }
    });
  });
});
