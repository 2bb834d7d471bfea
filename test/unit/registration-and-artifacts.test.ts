import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkToken, parseDuration, parseLabels, tokenRefusal, type TokenRecord } from '../../core/registration.js';
import { digestOf, verifyDigest } from '../../core/digest.js';
import { FileArtifactStore } from '../../hub/artifact-store.js';

describe('registration tokens', () => {
  const record: TokenRecord = { id: 'abc', hash: 'h', labels: {}, createdAt: 0, expiresAt: 1000, usesLeft: 1 };
  const cases: [string, TokenRecord | undefined, number, string][] = [
    ['valid', record, 999, 'ok'],
    ['unknown', undefined, 0, 'unknown'],
    ['expired at the instant', record, 1000, 'expired'],
    ['used up', { ...record, usesLeft: 0 }, 1, 'used'],
  ];
  for (const [name, r, now, want] of cases) {
    it(name, () => {
      const v = checkToken(r, now);
      assert.equal(v.ok ? 'ok' : v.reason, want);
    });
  }
  it('refusals say what to do', () => {
    assert.match(tokenRefusal('expired'), /flotilla cluster token create --ttl/);
  });
  it('parses durations and labels, rejecting nonsense', () => {
    assert.equal(parseDuration('1h'), 3_600_000);
    assert.equal(parseDuration('90s'), 90_000);
    assert.throws(() => parseDuration('1 hour'), /invalid duration/);
    assert.throws(() => parseDuration('0m'), /must be positive/);
    assert.deepEqual(parseLabels('env=prod,region=eu'), { env: 'prod', region: 'eu' });
    assert.deepEqual(parseLabels(''), {});
    assert.throws(() => parseLabels('env'), /invalid label "env"/);
    assert.throws(() => parseLabels('env=pr od'), /invalid label value/);
  });
});

describe('artifact store', () => {
  it('stores by content digest, idempotently, and refuses tampered bytes', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'flotilla-artifacts-'));
    try {
      const store = new FileArtifactStore(dir);
      const digest = await store.put('kind: ConfigMap\n');
      assert.equal(digest, digestOf('kind: ConfigMap\n'));
      assert.equal(await store.put('kind: ConfigMap\n'), digest);
      assert.equal(readdirSync(join(dir, 'sha256')).length, 1, 'no temporary files left, one object');
      assert.equal((await store.get(digest))?.toString(), 'kind: ConfigMap\n');
      assert.equal(await store.get(digestOf('other')), undefined);
      writeFileSync(join(dir, 'sha256', digest.slice(7)), 'kind: Secret\n');
      await assert.rejects(store.get(digest), /digest mismatch/);
      await assert.rejects(store.get('sha256:../../etc/passwd'), /invalid digest/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
  it('verifyDigest names both digests', () => {
    assert.throws(() => { verifyDigest('a', digestOf('b')); }, /expected sha256:[0-9a-f]{64}, got sha256:[0-9a-f]{64}/);
  });
});
