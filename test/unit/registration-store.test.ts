import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileBlobStore } from '../../hub/blob-store.js';
import { RegistrationStore } from '../../hub/registration.js';

async function withStore(fn: (dir: string, clock: { now: number }) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'flotilla-reg-'));
  try {
    await fn(dir, { now: 1_000_000 });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('registration store', () => {
  it('registers with a good token and authenticates only that cluster', async () => {
    await withStore(async (dir, clock) => {
      const store = new RegistrationStore(new FileBlobStore(dir), () => clock.now);
      const { token } = await store.createToken({ ttlMs: 3_600_000, labels: { env: 'prod' } });
      assert.match(token, /^flt_reg_[A-Za-z0-9_-]{43}$/, '256 random bits');
      const { credential, labels } = await store.register(token, 'alpha', { env: 'dev', region: 'eu' });
      assert.deepEqual(labels, { env: 'prod', region: 'eu' }, 'the token\'s labels win over those the agent asks for');
      assert.equal((await store.authenticate('alpha', credential)).name, 'alpha');
      await assert.rejects(store.authenticate('beta', credential), (e: Error & { kind?: string }) => e.kind === 'permission-denied');
      // Survives a restart of the hub, and stores no secret in the clear, readable by the hub only.
      const again = new RegistrationStore(new FileBlobStore(dir), () => clock.now);
      assert.equal((await again.authenticate('alpha', credential)).name, 'alpha');
      const file = join(dir, 'registration.json');
      const text = readFileSync(file, 'utf8');
      assert.ok(!text.includes(token) && !text.includes(credential), 'only hashes are stored');
      assert.equal(statSync(file).mode & 0o777, 0o600);
    });
  });

  it('refuses expired, reused, forged and revoked secrets with what to do', async () => {
    await withStore(async (dir, clock) => {
      const store = new RegistrationStore(new FileBlobStore(dir), () => clock.now);
      const once = await store.createToken({ ttlMs: 60_000 });
      await store.register(once.token, 'a');
      await assert.rejects(store.register(once.token, 'b'), /already used/);
      const short = await store.createToken({ ttlMs: 1000 });
      clock.now += 1000;
      await assert.rejects(store.register(short.token, 'c'), /expired.*--ttl/);
      await assert.rejects(store.register('flt_reg_forged', 'd'), /not valid/);
      const many = await store.createToken({ ttlMs: 60_000, uses: 2 });
      await store.register(many.token, 'e');
      const { credential } = await store.register(many.token, 'f');
      await assert.rejects(store.register(many.token, 'g'), /already used/);
      assert.equal(await store.revoke('f'), true);
      assert.equal(await store.revoke('f'), false, 'revoking twice changes nothing');
      await assert.rejects(store.authenticate('f', credential), /revoked/);
      await assert.rejects(store.authenticate('f', 'flt_cred_forged'), /unknown credential/);
      await assert.rejects(store.register((await store.createToken({ ttlMs: 1000 })).token, 'Bad_Name'), /DNS label/);
    });
  });

  it('binds a token made for a cluster to that cluster, and spends its unused tokens on removal', async () => {
    await withStore(async (dir, clock) => {
      const store = new RegistrationStore(new FileBlobStore(dir), () => clock.now);
      const bound = await store.createToken({ ttlMs: 60_000, cluster: 'edge-1' });
      await assert.rejects(store.register(bound.token, 'edge-2'), /made for cluster "edge-1", not "edge-2"/);
      const spare = await store.createToken({ ttlMs: 60_000, cluster: 'edge-1' });
      await store.register(bound.token, 'edge-1');
      assert.equal(await store.revokeTokens('edge-1'), 1, 'the spare one');
      await assert.rejects(store.register(spare.token, 'edge-1'), /already used/);
    });
  });

  it('two stores over one backend (two hubs) lose no registration and spend a token once', async () => {
    await withStore(async (dir) => {
      const a = new RegistrationStore(new FileBlobStore(dir));
      const b = new RegistrationStore(new FileBlobStore(dir));
      const tokens = await Promise.all(Array.from({ length: 6 }, () => a.createToken({ ttlMs: 60_000 })));
      const credentials = await Promise.all(tokens.map((t, i) => (i % 2 === 0 ? a : b).register(t.token, `c${i}`)));
      for (const [i, c] of credentials.entries()) assert.equal((await (i % 2 === 0 ? b : a).authenticate(`c${i}`, c.credential)).name, `c${i}`);
      assert.equal((await a.clusters()).length, 6);
      const once = await a.createToken({ ttlMs: 60_000 });
      const results = await Promise.allSettled([a.register(once.token, 'x1'), b.register(once.token, 'x2')]);
      assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1, 'one of the two hubs spent it');
    });
  });

  it('keeps secrets out of error messages', async () => {
    await withStore(async (dir, clock) => {
      const store = new RegistrationStore(new FileBlobStore(dir), () => clock.now);
      const { token } = await store.createToken({ ttlMs: 1 });
      clock.now += 5;
      await assert.rejects(store.register(token, 'x'), (e: Error) => !e.message.includes(token));
    });
  });
});
