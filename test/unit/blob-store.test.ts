// FileBlobStore (hub/blob-store.ts), the directory backend of the hub's shared state, on a
// real temporary directory; and checkKey, which both backends run every key through.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm, stat, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkKey, FileBlobStore } from '../../hub/blob-store.js';

const temps: string[] = [];
async function store(): Promise<FileBlobStore> {
  const dir = await mkdtemp(join(tmpdir(), 'flotilla-blob-store-'));
  temps.push(dir);
  return new FileBlobStore(dir);
}
after(async () => {
  for (const dir of temps) await rm(dir, { recursive: true, force: true });
});

describe('FileBlobStore', () => {
  it('round-trips bytes and strings, empty blobs included', async () => {
    const s = await store();
    const bytes = Buffer.from([0, 1, 2, 253, 254, 255]);
    assert.equal(await s.put('artifacts/sha256/abc', bytes), true);
    assert.deepEqual((await s.get('artifacts/sha256/abc'))?.data, bytes);
    assert.equal(await s.put('registration.json', '{"a":"é"}'), true);
    assert.equal((await s.get('registration.json'))?.data.toString('utf8'), '{"a":"é"}');
    assert.equal(await s.put('empty', new Uint8Array(0)), true);
    assert.equal((await s.get('empty'))?.data.length, 0);
    assert.equal(await s.get('absent'), undefined);
    assert.equal(await s.has('empty'), true);
    assert.equal(await s.has('absent'), false);
    assert.equal(s.location, s.dir);
  });

  it('gives a new etag when the bytes change, the same one when they do not', async () => {
    const s = await store();
    await s.put('k', 'one');
    const first = (await s.get('k'))?.etag;
    await s.put('k', 'one');
    assert.equal((await s.get('k'))?.etag, first);
    await s.put('k', 'two');
    assert.notEqual((await s.get('k'))?.etag, first);
  });

  it('ifNoneMatch writes only a new key', async () => {
    const s = await store();
    assert.equal(await s.put('objects/ConfigMap/ns/a.json', 'first', { ifNoneMatch: true }), true);
    assert.equal(await s.put('objects/ConfigMap/ns/a.json', 'second', { ifNoneMatch: true }), false);
    assert.equal((await s.get('objects/ConfigMap/ns/a.json'))?.data.toString(), 'first');
  });

  it('ifMatch writes only over the etag it names', async () => {
    const s = await store();
    await s.put('k', 'v1');
    const v1 = (await s.get('k'))?.etag;
    assert.ok(v1 !== undefined);
    assert.equal(await s.put('k', 'v2', { ifMatch: v1 }), true);
    assert.equal(await s.put('k', 'v3', { ifMatch: v1 }), false, 'stale etag');
    assert.equal((await s.get('k'))?.data.toString(), 'v2');
    assert.equal(await s.put('absent', 'x', { ifMatch: v1 }), false, 'nothing to match');
    assert.equal(await s.has('absent'), false);
  });

  it('deletes, and deleting an absent key is fine', async () => {
    const s = await store();
    await s.put('a/b', 'x');
    await s.delete('a/b');
    assert.equal(await s.get('a/b'), undefined);
    await s.delete('a/b');
    await s.delete('never/was');
  });

  it('lists every key under a prefix in lexical order, skipping temporary files', async () => {
    const s = await store();
    for (const key of ['objects/Secret/flux-system@staging/b.json', 'objects/Secret/flux-system@staging/a.json',
      'objects/ConfigMap/apps/c.json', 'registration.json', 'objects/Secret/apps/deep/d.json']) {
      await s.put(key, key);
    }
    await writeFile(join(s.dir, 'objects', 'Secret', 'apps', 'x.json.123abc.tmp'), 'partial');
    assert.deepEqual(await s.list('objects/Secret/'), [
      'objects/Secret/apps/deep/d.json',
      'objects/Secret/flux-system@staging/a.json',
      'objects/Secret/flux-system@staging/b.json',
    ]);
    assert.deepEqual(await s.list('objects/Secret/flux-system@staging/'), [
      'objects/Secret/flux-system@staging/a.json',
      'objects/Secret/flux-system@staging/b.json',
    ]);
    assert.equal((await s.list('')).length, 5);
    assert.deepEqual(await s.list('nothing/here/'), []);
    await assert.rejects(s.list('objects'), /must end with '\/'/);
  });

  it('refuses keys that could leave the directory', async () => {
    const s = await store();
    for (const key of ['../escape', 'a/../../b', '/etc/passwd', 'a//b', 'a/', '', '.', 'a/./b', 'a\\b', 'sp ace']) {
      await assert.rejects(s.put(key, 'x'), /invalid store key/, key);
      await assert.rejects(s.get(key), /invalid store key/, key);
    }
    await assert.rejects(s.list('../'), /invalid store key/);
    assert.deepEqual(await readdir(s.dir), []);
  });

  it('keeps secrets readable by the hub only (0600 files, 0700 directories)', async () => {
    const s = await store();
    await s.put('objects/Secret/apps/token.json', '{"token":"x"}', { secret: true });
    assert.equal((await stat(join(s.dir, 'objects/Secret/apps/token.json'))).mode & 0o777, 0o600);
    assert.equal((await stat(join(s.dir, 'objects/Secret/apps'))).mode & 0o777, 0o700);
    await s.put('artifacts/sha256/abc', 'x');
    assert.equal((await stat(join(s.dir, 'artifacts/sha256/abc'))).mode & 0o777 & ~0o022, 0o644 & ~0o022);
  });

  it('leaves no temporary file behind a write', async () => {
    const s = await store();
    await mkdir(join(s.dir, 'd'));
    for (let i = 0; i < 5; i++) await s.put('d/k', `v${i}`);
    assert.deepEqual(await readdir(join(s.dir, 'd')), ['k']);
  });
});

describe('checkKey', () => {
  it('accepts store keys, with @ in scoped namespaces', () => {
    for (const key of ['registration.json', 'artifacts/sha256/0f', 'objects/Secret/flux-system@staging/x.json', '.hidden', 'a-b_c.d']) {
      assert.equal(checkKey(key), key);
    }
  });
  it('refuses "..", ".", absolute paths and empty segments', () => {
    for (const key of ['..', 'a/..', '../a', '/a', 'a/', 'a//b', '', './a', 'a b', 'a%2Fb', 'ü']) {
      assert.throws(() => checkKey(key), /invalid store key/, key);
    }
  });
});
