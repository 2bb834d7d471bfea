import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RegistrationStore } from '../../hub/registration.js';

function withStore(fn: (file: string, clock: { now: number }) => void): void {
  const dir = mkdtempSync(join(tmpdir(), 'flotilla-reg-'));
  try {
    fn(join(dir, 'registration.json'), { now: 1_000_000 });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('registration store', () => {
  it('registers with a good token and authenticates only that cluster', () => {
    withStore((file, clock) => {
      const store = new RegistrationStore(file, () => clock.now);
      const { token } = store.createToken({ ttlMs: 3_600_000, labels: { env: 'prod' } });
      assert.match(token, /^flt_reg_[A-Za-z0-9_-]{43}$/, '256 random bits');
      const { credential, labels } = store.register(token, 'alpha');
      assert.deepEqual(labels, { env: 'prod' });
      assert.equal(store.authenticate('alpha', credential).name, 'alpha');
      assert.throws(() => store.authenticate('beta', credential), (e: Error & { kind?: string }) => e.kind === 'permission-denied');
      // Survives a restart of the hub, and stores no secret in the clear.
      const again = new RegistrationStore(file, () => clock.now);
      assert.equal(again.authenticate('alpha', credential).name, 'alpha');
      const text = readFileSync(file, 'utf8');
      assert.ok(!text.includes(token) && !text.includes(credential), 'only hashes are stored');
    });
  });

  it('refuses expired, reused, forged and revoked secrets with what to do', () => {
    withStore((file, clock) => {
      const store = new RegistrationStore(file, () => clock.now);
      const once = store.createToken({ ttlMs: 60_000 });
      store.register(once.token, 'a');
      assert.throws(() => store.register(once.token, 'b'), /already used/);
      const short = store.createToken({ ttlMs: 1000 });
      clock.now += 1000;
      assert.throws(() => store.register(short.token, 'c'), /expired.*--ttl/);
      assert.throws(() => store.register('flt_reg_forged', 'd'), /not valid/);
      const many = store.createToken({ ttlMs: 60_000, uses: 2 });
      store.register(many.token, 'e');
      const { credential } = store.register(many.token, 'f');
      assert.throws(() => store.register(many.token, 'g'), /already used/);
      assert.equal(store.revoke('f'), true);
      assert.throws(() => store.authenticate('f', credential), /revoked/);
      assert.throws(() => store.authenticate('f', 'flt_cred_forged'), /unknown credential/);
      assert.throws(() => store.register(store.createToken({ ttlMs: 1000 }).token, 'Bad_Name'), /DNS label/);
    });
  });

  it('keeps secrets out of error messages', () => {
    withStore((file, clock) => {
      const store = new RegistrationStore(file, () => clock.now);
      const { token } = store.createToken({ ttlMs: 1 });
      clock.now += 5;
      assert.throws(() => store.register(token, 'x'), (e: Error) => !e.message.includes(token));
    });
  });
});
