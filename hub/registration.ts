// Registration tokens and per-cluster credentials, stored by the hub only as sha256
// hashes in one JSON file (written atomically). Secrets are random 256-bit values and are
// returned exactly once, when created; nothing here logs them.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { z } from 'zod';
import { checkToken, tokenRefusal, type TokenRecord } from '../core/registration.js';

const TOKEN_PREFIX = 'flt_reg_';
const CREDENTIAL_PREFIX = 'flt_cred_';

const StoreFile = z.object({
  tokens: z.array(z.object({
    id: z.string(), hash: z.string(), labels: z.record(z.string(), z.string()),
    createdAt: z.number(), expiresAt: z.number(), usesLeft: z.number(),
  })),
  clusters: z.array(z.object({
    name: z.string(), credentialHash: z.string(), labels: z.record(z.string(), z.string()),
    registeredAt: z.number(), revokedAt: z.number().optional(),
  })),
});
type StoreFile = z.infer<typeof StoreFile>;
export type ClusterRecord = StoreFile['clusters'][number];

export class RegistrationError extends Error {
  constructor(readonly kind: 'invalid-token' | 'unauthenticated' | 'permission-denied' | 'invalid-argument', message: string) {
    super(message);
    this.name = 'RegistrationError';
  }
}

function sha256(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}

function sameHash(a: string, b: string): boolean {
  const x = Buffer.from(a, 'hex');
  const y = Buffer.from(b, 'hex');
  return x.length === y.length && timingSafeEqual(x, y);
}

export class RegistrationStore {
  private cache: { data: StoreFile; mtimeMs: number } | undefined;

  /**
   * The file is the truth: it is re-read when it changed, so `flotilla-hub token create`
   * (another process) can add tokens while the hub runs.
   */
  constructor(private readonly file: string, private readonly clock: () => number = Date.now) {}

  private get data(): StoreFile {
    const mtimeMs = existsSync(this.file) ? statSync(this.file).mtimeMs : 0;
    if (!this.cache || this.cache.mtimeMs !== mtimeMs) {
      const data = mtimeMs ? StoreFile.parse(JSON.parse(readFileSync(this.file, 'utf8'))) : { tokens: [], clusters: [] };
      this.cache = { data, mtimeMs };
    }
    return this.cache.data;
  }

  /** A new registration token; the returned secret is not stored anywhere. */
  createToken(opts: { ttlMs: number; labels?: Record<string, string>; uses?: number }): { id: string; token: string; expiresAt: number } {
    const secret = randomBytes(32).toString('base64url');
    const token = `${TOKEN_PREFIX}${secret}`;
    const now = this.clock();
    const record: TokenRecord = {
      id: sha256(token).slice(0, 12), hash: sha256(token), labels: opts.labels ?? {},
      createdAt: now, expiresAt: now + opts.ttlMs, usesLeft: opts.uses ?? 1,
    };
    this.data.tokens.push(record);
    this.save();
    return { id: record.id, token, expiresAt: record.expiresAt };
  }

  /** Exchanges a token for a new credential of `cluster`. */
  register(token: string, cluster: string): { credential: string; labels: Record<string, string> } {
    if (!/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/.test(cluster)) {
      throw new RegistrationError('invalid-argument', `cluster name "${cluster}" must be a DNS label (lowercase letters, digits, '-')`);
    }
    const hash = sha256(token);
    const index = this.data.tokens.findIndex((t) => sameHash(t.hash, hash));
    const record = this.data.tokens[index];
    const verdict = checkToken(record, this.clock());
    if (!verdict.ok || !record) throw new RegistrationError('invalid-token', tokenRefusal(verdict.ok ? 'unknown' : verdict.reason));
    const existing = this.data.clusters.find((c) => c.name === cluster);
    if (existing && existing.revokedAt === undefined) {
      throw new RegistrationError('permission-denied', `cluster "${cluster}" is already registered; revoke it first (flotilla cluster revoke ${cluster}) to register it again`);
    }
    const credential = `${CREDENTIAL_PREFIX}${randomBytes(32).toString('base64url')}`;
    const data = this.data;
    data.tokens[index] = { ...record, usesLeft: record.usesLeft - 1 };
    data.clusters = data.clusters.filter((c) => c.name !== cluster);
    data.clusters.push({ name: cluster, credentialHash: sha256(credential), labels: { ...record.labels }, registeredAt: this.clock() });
    this.save();
    return { credential, labels: { ...record.labels } };
  }

  /** Checks a credential presented for `cluster`; throws with the gRPC-facing kind. */
  authenticate(cluster: string, credential: string): ClusterRecord {
    const hash = sha256(credential);
    const owner = this.data.clusters.find((c) => sameHash(c.credentialHash, hash));
    if (!owner) throw new RegistrationError('unauthenticated', 'unknown credential: register the agent with a registration token');
    if (owner.revokedAt !== undefined) throw new RegistrationError('unauthenticated', `the credential of cluster "${owner.name}" was revoked: register again with a new token`);
    if (owner.name !== cluster) throw new RegistrationError('permission-denied', `this credential belongs to another cluster, not "${cluster}"`);
    return owner;
  }

  revoke(cluster: string): boolean {
    const record = this.data.clusters.find((c) => c.name === cluster && c.revokedAt === undefined);
    if (!record) return false;
    record.revokedAt = this.clock();
    this.save();
    return true;
  }

  clusters(): readonly ClusterRecord[] {
    return this.data.clusters;
  }

  private save(): void {
    const data = this.data;
    mkdirSync(dirname(this.file), { recursive: true });
    const tmp = `${this.file}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify(data, null, 2), { mode: 0o600 });
    renameSync(tmp, this.file);
    this.cache = { data, mtimeMs: statSync(this.file).mtimeMs };
  }
}
