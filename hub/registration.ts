// Registration tokens and per-cluster credentials, stored by the hub only as sha256 hashes
// in one JSON document ("registration.json" of the hub's store: hub/blob-store.ts). Secrets
// are random 256-bit values and are returned exactly once, when created; nothing here logs
// them. Every change is a compare-and-swap on the document, so several hubs sharing one
// store never lose each other's registrations or spend a one-time token twice.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import { checkToken, tokenRefusal } from '../core/registration.js';
import type { BlobStore } from './blob-store.js';

const TOKEN_PREFIX = 'flt_reg_';
const CREDENTIAL_PREFIX = 'flt_cred_';
const KEY = 'registration.json';
/** How long authenticate() may use what it read last: the bound on a revocation reaching every hub. */
const AUTH_CACHE_MS = 2_000;
const CLUSTER_NAME = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

const StoreFile = z.object({
  tokens: z.array(z.object({
    id: z.string(), hash: z.string(), labels: z.record(z.string(), z.string()),
    createdAt: z.number(), expiresAt: z.number(), usesLeft: z.number(),
    /** A token made for one cluster (flotilla cluster add) registers that cluster only. */
    cluster: z.string().optional(),
  })),
  clusters: z.array(z.object({
    name: z.string(), credentialHash: z.string(), labels: z.record(z.string(), z.string()),
    registeredAt: z.number(), revokedAt: z.number().optional(),
  })),
});
type StoreFile = z.infer<typeof StoreFile>;
export type ClusterRecord = StoreFile['clusters'][number];
export type StoredToken = StoreFile['tokens'][number];

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

export interface TokenRequest {
  readonly ttlMs: number;
  readonly labels?: Record<string, string>;
  readonly uses?: number;
  /** Only this cluster may register with it. */
  readonly cluster?: string;
}

export class RegistrationStore {
  private cache: { data: StoreFile; at: number } | undefined;

  /** The store is the truth: the CLI or another hub may change it while this hub runs. */
  constructor(private readonly blobs: BlobStore, private readonly clock: () => number = Date.now) {}

  /** A new registration token; the returned secret is not stored anywhere. */
  async createToken(opts: TokenRequest): Promise<{ id: string; token: string; expiresAt: number }> {
    if (opts.cluster !== undefined) checkClusterName(opts.cluster);
    const secret = randomBytes(32).toString('base64url');
    const token = `${TOKEN_PREFIX}${secret}`;
    const now = this.clock();
    const record: StoredToken = {
      id: sha256(token).slice(0, 12), hash: sha256(token), labels: opts.labels ?? {},
      createdAt: now, expiresAt: now + opts.ttlMs, usesLeft: opts.uses ?? 1,
      ...(opts.cluster !== undefined ? { cluster: opts.cluster } : {}),
    };
    await this.modify((data) => { data.tokens.push(record); });
    return { id: record.id, token, expiresAt: record.expiresAt };
  }

  /**
   * Exchanges a token for a new credential of `cluster`. Labels the agent asks for are kept
   * unless the token sets the same key: the token's labels are the hub operator's word.
   */
  async register(token: string, cluster: string, requested: Readonly<Record<string, string>> = {}): Promise<{ credential: string; labels: Record<string, string> }> {
    checkClusterName(cluster);
    const hash = sha256(token);
    const credential = `${CREDENTIAL_PREFIX}${randomBytes(32).toString('base64url')}`;
    return this.modify((data) => {
      const index = data.tokens.findIndex((t) => sameHash(t.hash, hash));
      const record = data.tokens[index];
      const verdict = checkToken(record, this.clock());
      if (!verdict.ok || !record) throw new RegistrationError('invalid-token', tokenRefusal(verdict.ok ? 'unknown' : verdict.reason));
      if (record.cluster !== undefined && record.cluster !== cluster) {
        throw new RegistrationError('permission-denied', `this registration token was made for cluster "${record.cluster}", not "${cluster}"`);
      }
      const existing = data.clusters.find((c) => c.name === cluster);
      if (existing && existing.revokedAt === undefined) {
        throw new RegistrationError('permission-denied', `cluster "${cluster}" is already registered; revoke it first (flotilla cluster revoke ${cluster}) to register it again`);
      }
      const labels = { ...requested, ...record.labels };
      data.tokens[index] = { ...record, usesLeft: record.usesLeft - 1 };
      data.clusters = data.clusters.filter((c) => c.name !== cluster);
      data.clusters.push({ name: cluster, credentialHash: sha256(credential), labels, registeredAt: this.clock() });
      return { credential, labels: { ...labels } };
    });
  }

  /** Checks a credential presented for `cluster`; throws with the gRPC-facing kind. */
  async authenticate(cluster: string, credential: string): Promise<ClusterRecord> {
    const hash = sha256(credential);
    const find = (data: StoreFile): ClusterRecord | undefined => data.clusters.find((c) => sameHash(c.credentialHash, hash));
    let data = await this.read(AUTH_CACHE_MS);
    // A credential another hub issued a moment ago is not in what this one read: read again.
    if (!find(data)) data = await this.read(0);
    const owner = find(data);
    if (!owner) throw new RegistrationError('unauthenticated', 'unknown credential: register the agent with a registration token');
    if (owner.revokedAt !== undefined) throw new RegistrationError('unauthenticated', `the credential of cluster "${owner.name}" was revoked: register again with a new token`);
    if (owner.name !== cluster) throw new RegistrationError('permission-denied', `this credential belongs to another cluster, not "${cluster}"`);
    return owner;
  }

  /** Revokes the cluster's credential; false when it had none that was valid. */
  async revoke(cluster: string): Promise<boolean> {
    return this.modify((data) => {
      const record = data.clusters.find((c) => c.name === cluster && c.revokedAt === undefined);
      if (!record) return false;
      record.revokedAt = this.clock();
      return true;
    });
  }

  /** Spends every unused token made for `cluster` (flotilla cluster remove); how many there were. */
  async revokeTokens(cluster: string): Promise<number> {
    return this.modify((data) => {
      let count = 0;
      data.tokens = data.tokens.map((t) => {
        if (t.cluster !== cluster || t.usesLeft <= 0) return t;
        count++;
        return { ...t, usesLeft: 0 };
      });
      return count;
    });
  }

  async clusters(): Promise<readonly ClusterRecord[]> {
    return (await this.read(0)).clusters;
  }

  async tokens(): Promise<readonly StoredToken[]> {
    return (await this.read(0)).tokens;
  }

  private async read(maxAgeMs: number): Promise<StoreFile> {
    const now = Date.now();
    if (this.cache && now - this.cache.at < maxAgeMs) return this.cache.data;
    const blob = await this.blobs.get(KEY);
    const data = blob ? parse(blob.data, this.blobs.location) : { tokens: [], clusters: [] };
    this.cache = { data, at: now };
    return data;
  }

  /** Read, change, write back if nobody wrote meanwhile; otherwise again with what they wrote. */
  private async modify<T>(change: (data: StoreFile) => T): Promise<T> {
    for (let attempt = 0; attempt < 20; attempt++) {
      const blob = await this.blobs.get(KEY);
      const data = blob ? parse(blob.data, this.blobs.location) : { tokens: [], clusters: [] };
      const result = change(data);
      const text = JSON.stringify(data, null, 2);
      const written = await this.blobs.put(KEY, text, { secret: true, ...(blob ? { ifMatch: blob.etag } : { ifNoneMatch: true }) });
      if (written) {
        this.cache = { data, at: Date.now() };
        return result;
      }
      await new Promise((resolve) => { setTimeout(resolve, 20 + Math.random() * 80); });
    }
    throw new Error(`cannot update ${KEY} in ${this.blobs.location}: it kept changing under this hub (20 attempts)`);
  }
}

function parse(bytes: Buffer, location: string): StoreFile {
  try {
    return StoreFile.parse(JSON.parse(bytes.toString('utf8')));
  } catch (err) {
    throw new Error(`${KEY} in ${location} is not a registration store (${err instanceof Error ? err.message : String(err)}): restore it from a backup`);
  }
}

function checkClusterName(cluster: string): void {
  if (!CLUSTER_NAME.test(cluster)) {
    throw new RegistrationError('invalid-argument', `cluster name "${cluster}" must be a DNS label (lowercase letters, digits, '-')`);
  }
}
