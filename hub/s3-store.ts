// The S3-compatible backend of the hub's BlobStore (hub/blob-store.ts): what several hub
// replicas share. Speaks the S3 REST API itself, signed with AWS Signature Version 4 (real
// sha256 of every payload), over Node's fetch; no SDK. Tested against a real MinIO
// (test/integration/s3-store.test.ts).
//
// - Addressing: path style by default (<endpoint>/<bucket>/<key>, what MinIO and most
//   S3-compatible servers expect), virtual-host style (<bucket>.<host>/<key>) on request.
// - Concurrency: put()'s ifMatch / ifNoneMatch become PutObject's If-Match / If-None-Match: *
//   (conditional writes: AWS S3 since 2024-11, MinIO, R2, ...). 412 PreconditionFailed, 409
//   ConditionalRequestConflict and, for If-Match, 404 NoSuchKey mean "not written": false.
// - Secrets: the `secret` put option has no S3 equivalent and is ignored; the bucket must be
//   private (no public or cross-account read policy), since it holds Secrets and
//   registration credential hashes.
// - Retries: requests that are safe to repeat (GET, HEAD, DELETE, LIST, unconditional PUT)
//   are retried a few times with a short backoff on network errors, timeouts and 5xx (503
//   SlowDown included); a conditional PUT only when the server surely did not act on it
//   (connection refused, 503 SlowDown), since a repeat of one that succeeded unseen would
//   report a false conflict.
import { createHash, createHmac } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { checkKey, type Blob, type BlobStore, type PutOptions } from './blob-store.js';

export interface S3StoreOptions {
  /** http(s)://host[:port] of the S3 API, e.g. https://s3.eu-west-1.amazonaws.com or http://127.0.0.1:9000. */
  readonly endpoint: string;
  readonly bucket: string;
  /** Signing region ("us-east-1" for MinIO unless configured otherwise). */
  readonly region: string;
  /** Prefix of every key in the bucket: '' (default) or ending with '/', e.g. "hub/". */
  readonly prefix?: string;
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  /** For temporary credentials (STS): sent as x-amz-security-token. */
  readonly sessionToken?: string;
  /** <endpoint>/<bucket>/<key> (default true); false: <bucket>.<endpoint host>/<key>. */
  readonly forcePathStyle?: boolean;
  /** Per request attempt, default 30 s. */
  readonly timeoutMs?: number;
  /** ListObjectsV2 page size: 1000 (S3's maximum) unless lowered, e.g. by tests. */
  readonly maxKeys?: number;
  /** Attempts of a retryable request, default 4. */
  readonly attempts?: number;
}

/** A failed S3 request: `code` is S3's error code (NoSuchBucket, ...) or the network error's (ECONNREFUSED, ...). */
export class S3StoreError extends Error {
  constructor(
    message: string,
    /** HTTP status; undefined when no answer came. */
    readonly status: number | undefined,
    readonly code: string | undefined,
  ) {
    super(message);
    this.name = 'S3StoreError';
  }
}

const EMPTY_SHA256 = createHash('sha256').update('').digest('hex');
const BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
const CREDENTIAL_CODES = new Set(['InvalidAccessKeyId', 'SignatureDoesNotMatch', 'InvalidSecurity', 'XMinioInvalidAccessKeyId']);
/** Temporary credentials: AWS says InvalidToken, MinIO InvalidTokenId. */
const TOKEN_CODES = new Set(['InvalidToken', 'InvalidTokenId', 'ExpiredToken', 'ExpiredTokenException', 'TokenRefreshRequired', 'InvalidClientTokenId']);
/** Network errors where the request surely never reached the server. */
const UNSENT_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH']);
/** Network errors while connecting (the rest happen on an open connection). */
const CONNECT_CODES = new Set([...UNSENT_CODES, 'ETIMEDOUT', 'UND_ERR_CONNECT_TIMEOUT', 'CERT_HAS_EXPIRED',
  'DEPTH_ZERO_SELF_SIGNED_CERT', 'SELF_SIGNED_CERT_IN_CHAIN', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'ERR_TLS_CERT_ALTNAME_INVALID']);
const REGION_CODES = new Set(['AuthorizationHeaderMalformed', 'PermanentRedirect', 'IllegalLocationConstraintException', 'InvalidRegion']);

interface Request {
  readonly method: 'GET' | 'HEAD' | 'PUT' | 'DELETE';
  /** The full object key in the bucket; undefined for bucket requests. */
  readonly objectKey?: string;
  readonly query?: Readonly<Record<string, string>>;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: Uint8Array;
  /** 'always': idempotent; 'unsent': only when the server surely did not act on it. */
  readonly retry: 'always' | 'unsent';
  /** What the message calls the operation, e.g. "GET artifacts/x", "LIST objects/". */
  readonly what: string;
}

interface Answer {
  readonly status: number;
  readonly headers: Headers;
  readonly body: Buffer;
}

export class S3BlobStore implements BlobStore {
  readonly bucket: string;
  readonly prefix: string;
  readonly region: string;
  private readonly endpoint: URL;
  private readonly pathStyle: boolean;
  private readonly timeoutMs: number;
  private readonly maxKeys: number;
  private readonly attempts: number;
  private readonly credentials: { readonly accessKeyId: string; readonly secretAccessKey: string; readonly sessionToken: string | undefined };

  constructor(opts: S3StoreOptions) {
    let endpoint: URL;
    try {
      endpoint = new URL(opts.endpoint);
    } catch {
      throw new Error(`S3 store: endpoint "${opts.endpoint}" is not a URL (want http(s)://host[:port]; store.s3.endpoint / FLOTILLA_S3_ENDPOINT)`);
    }
    if ((endpoint.protocol !== 'http:' && endpoint.protocol !== 'https:') || (endpoint.pathname !== '/' && endpoint.pathname !== '')
      || endpoint.search !== '' || endpoint.hash !== '' || endpoint.username !== '' || endpoint.password !== '') {
      throw new Error(`S3 store: endpoint "${opts.endpoint}" must be http(s)://host[:port], nothing more (store.s3.endpoint / FLOTILLA_S3_ENDPOINT)`);
    }
    if (!BUCKET.test(opts.bucket) || opts.bucket.includes('..')) {
      throw new Error(`S3 store: "${opts.bucket}" is not a valid bucket name (3-63 of a-z 0-9 . -; store.s3.bucket / FLOTILLA_S3_BUCKET)`);
    }
    const prefix = opts.prefix ?? '';
    if (prefix !== '') {
      if (!prefix.endsWith('/')) throw new Error(`S3 store: prefix "${prefix}" must end with '/'`);
      try {
        checkKey(prefix.slice(0, -1));
      } catch {
        throw new Error(`S3 store: prefix "${prefix}" must be '/'-separated segments of A-Z a-z 0-9 . _ @ - ending with '/'`);
      }
    }
    if (opts.region === '') throw new Error('S3 store: region is empty (store.s3.region / FLOTILLA_S3_REGION; MinIO: us-east-1)');
    if (opts.accessKeyId === '' || opts.secretAccessKey === '') {
      throw new Error('S3 store: access key id or secret access key is empty (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY)');
    }
    const maxKeys = opts.maxKeys ?? 1000;
    if (!Number.isInteger(maxKeys) || maxKeys < 1 || maxKeys > 1000) throw new Error(`S3 store: maxKeys ${maxKeys} is not in 1..1000`);
    this.endpoint = endpoint;
    this.bucket = opts.bucket;
    this.prefix = prefix;
    this.region = opts.region;
    this.pathStyle = opts.forcePathStyle ?? true;
    this.timeoutMs = opts.timeoutMs ?? 30_000;
    this.maxKeys = maxKeys;
    this.attempts = Math.max(1, opts.attempts ?? 4);
    this.credentials = { accessKeyId: opts.accessKeyId, secretAccessKey: opts.secretAccessKey, sessionToken: opts.sessionToken };
  }

  /**
   * A store ready for use, or a clear error naming what to fix: the bucket is created first
   * when `create` is set, then check() runs. What the hub calls at start-up.
   */
  static async open(opts: S3StoreOptions, how: { readonly create?: boolean; readonly write?: boolean } = {}): Promise<S3BlobStore> {
    const store = new S3BlobStore(opts);
    if (how.create) await store.ensureBucket();
    await store.check({ write: how.write ?? false });
    return store;
  }

  get location(): string {
    return `s3://${this.bucket}/${this.prefix}`;
  }

  async get(key: string): Promise<Blob | undefined> {
    checkKey(key);
    const what = `GET ${key}`;
    const answer = await this.send({ method: 'GET', objectKey: this.prefix + key, retry: 'always', what });
    if (answer.status === 200) return { data: answer.body, etag: this.etagOf(answer, what) };
    if (answer.status === 404 && errorOf(answer).code !== 'NoSuchBucket') return undefined;
    throw this.failure(what, answer);
  }

  /**
   * HEAD. Its answers have no body: MinIO names a missing bucket in x-minio-error-code (an
   * error here), AWS does not (a plain 404: false). check() at start-up tells them apart.
   */
  async has(key: string): Promise<boolean> {
    checkKey(key);
    const what = `HEAD ${key}`;
    const answer = await this.send({ method: 'HEAD', objectKey: this.prefix + key, retry: 'always', what });
    if (answer.status === 200) return true;
    if (answer.status === 404 && errorOf(answer).code !== 'NoSuchBucket') return false;
    throw this.failure(what, answer);
  }

  /** `opts.secret` is ignored: S3 has no per-object mode, the whole bucket must be private. */
  async put(key: string, data: Uint8Array | string, opts: PutOptions = {}): Promise<boolean> {
    checkKey(key);
    const body = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
    const headers: Record<string, string> = { 'content-type': 'application/octet-stream' };
    if (opts.ifMatch !== undefined) headers['if-match'] = opts.ifMatch;
    if (opts.ifNoneMatch) headers['if-none-match'] = '*';
    const conditional = opts.ifMatch !== undefined || opts.ifNoneMatch === true;
    const what = `PUT ${key}`;
    const answer = await this.send({
      method: 'PUT', objectKey: this.prefix + key, headers, body, retry: conditional ? 'unsent' : 'always', what,
    });
    if (answer.status === 200) return true;
    const { code } = errorOf(answer);
    if (conditional && (answer.status === 412 || (answer.status === 409 && code === 'ConditionalRequestConflict'))) return false;
    // AWS answers If-Match on an absent key with 404 NoSuchKey: the precondition did not hold.
    if (opts.ifMatch !== undefined && answer.status === 404 && code === 'NoSuchKey') return false;
    throw this.failure(what, answer);
  }

  async delete(key: string): Promise<void> {
    checkKey(key);
    const what = `DELETE ${key}`;
    const answer = await this.send({ method: 'DELETE', objectKey: this.prefix + key, retry: 'always', what });
    if (answer.status === 204 || answer.status === 200) return;
    if (answer.status === 404 && errorOf(answer).code === 'NoSuchKey') return;
    throw this.failure(what, answer);
  }

  /**
   * Every key under `prefix` (ListObjectsV2, all pages), in lexical order. Objects whose
   * names are not store keys (e.g. "dir/" markers made by consoles) are left out.
   */
  async list(prefix: string): Promise<string[]> {
    if (prefix !== '' && !prefix.endsWith('/')) throw new Error(`list prefix "${prefix}" must end with '/'`);
    if (prefix !== '') checkKey(prefix.slice(0, -1));
    const keys: string[] = [];
    let token: string | undefined;
    for (let page = 1; ; page++) {
      const { keys: found, next } = await this.listPage(prefix, this.maxKeys, token);
      for (const full of found) {
        const key = full.slice(this.prefix.length);
        if (full.startsWith(this.prefix) && isStoreKey(key)) keys.push(key);
      }
      if (next === undefined) break;
      if (next === token) throw new Error(`${this.context()}: LIST ${prefix || '/'}: the server returned the same continuation token twice (page ${page})`);
      token = next;
    }
    return keys.sort();
  }

  /**
   * Fails fast with a clear error unless the endpoint answers, the credentials are accepted
   * and the bucket exists (a one-key LIST of the prefix). With `write`, also writes and
   * deletes a probe object under the prefix, to catch read-only credentials.
   */
  async check(opts: { readonly write?: boolean } = {}): Promise<void> {
    await this.listPage('', 1, undefined);
    if (opts.write) {
      const probe = `.flotilla-probe/${process.pid}-${Date.now()}`;
      await this.put(probe, 'probe');
      await this.delete(probe);
    }
  }

  /** Creates the bucket unless it exists (HEAD bucket, then PUT bucket). True when it created it. */
  async ensureBucket(): Promise<boolean> {
    const head = await this.send({ method: 'HEAD', retry: 'always', what: `HEAD bucket "${this.bucket}"` });
    if (head.status === 200) return false;
    if (head.status !== 404) throw this.failure(`HEAD bucket "${this.bucket}"`, head);
    // us-east-1 is the default location and must not be named; elsewhere it must be.
    const body = this.region === 'us-east-1' ? new Uint8Array(0) : Buffer.from(
      '<CreateBucketConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
      + `<LocationConstraint>${escapeXml(this.region)}</LocationConstraint></CreateBucketConfiguration>`, 'utf8');
    const what = `create bucket "${this.bucket}"`;
    const created = await this.send({ method: 'PUT', body, retry: 'unsent', what });
    if (created.status === 200) return true;
    if (created.status === 409 && errorOf(created).code === 'BucketAlreadyOwnedByYou') return false;
    throw this.failure(what, created);
  }

  private async listPage(prefix: string, maxKeys: number, token: string | undefined): Promise<{ keys: string[]; next: string | undefined }> {
    const query: Record<string, string> = { 'list-type': '2', 'prefix': this.prefix + prefix, 'max-keys': String(maxKeys) };
    if (token !== undefined) query['continuation-token'] = token;
    const what = `LIST ${prefix || '/'}`;
    const answer = await this.send({ method: 'GET', query, retry: 'always', what });
    if (answer.status !== 200) throw this.failure(what, answer);
    const xml = answer.body.toString('utf8');
    const keys: string[] = [];
    for (const contents of xml.matchAll(/<Contents>([\s\S]*?)<\/Contents>/g)) {
      const key = /<Key>([^<]*)<\/Key>/.exec(contents[1] ?? '')?.[1];
      if (key !== undefined) keys.push(unescapeXml(key));
    }
    const truncated = /<IsTruncated>\s*true\s*<\/IsTruncated>/.test(xml);
    const next = /<NextContinuationToken>([^<]*)<\/NextContinuationToken>/.exec(xml)?.[1];
    if (truncated && (next === undefined || next === '')) throw new Error(`${this.context()}: ${what}: the listing is truncated but has no NextContinuationToken`);
    return { keys, next: truncated && next !== undefined ? unescapeXml(next) : undefined };
  }

  private etagOf(answer: Answer, what: string): string {
    const etag = answer.headers.get('etag');
    if (etag === null || etag === '') throw new Error(`${this.context()}: ${what}: the answer has no ETag header (is ${this.endpoint.origin} an S3 API?)`);
    return etag;
  }

  private context(): string {
    return `S3 store ${this.location}`;
  }

  /** One request, signed afresh for each attempt, retried as `req.retry` allows. */
  private async send(req: Request): Promise<Answer> {
    for (let attempt = 1; ; attempt++) {
      const last = attempt >= this.attempts;
      let answer: Answer;
      try {
        answer = await this.once(req);
      } catch (err) {
        const code = networkCode(err);
        const unsent = code !== undefined && UNSENT_CODES.has(code);
        if (!last && (req.retry === 'always' || unsent)) {
          await backoff(attempt);
          continue;
        }
        throw this.unreachable(req.what, err, code);
      }
      // 503 (SlowDown, ServiceUnavailable) means the request was turned away, not acted on.
      const transient = answer.status === 500 || answer.status === 502 || answer.status === 503 || answer.status === 504;
      if (!last && transient && (req.retry === 'always' || answer.status === 503)) {
        await backoff(attempt);
        continue;
      }
      return answer;
    }
  }

  private async once(req: Request): Promise<Answer> {
    const host = this.pathStyle ? this.endpoint.host : `${this.bucket}.${this.endpoint.host}`;
    const segments = this.pathStyle ? [this.bucket] : [];
    if (req.objectKey !== undefined) segments.push(...req.objectKey.split('/'));
    const path = `/${segments.map(encodeRfc3986).join('/')}`;
    const query = Object.entries(req.query ?? {})
      .map(([k, v]) => [encodeRfc3986(k), encodeRfc3986(v)] as const)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([k, v]) => `${k}=${v}`)
      .join('&');
    const body = req.body ?? new Uint8Array(0);
    const sent = signV4({
      method: req.method, host, path, query, headers: req.headers ?? {}, body,
      region: this.region, service: 's3', credentials: this.credentials, now: new Date(),
    });
    const url = `${this.endpoint.protocol}//${host}${path}${query === '' ? '' : `?${query}`}`;
    const response = await fetch(url, {
      method: req.method,
      headers: sent,
      ...(req.method === 'PUT' ? { body } : {}),
      redirect: 'manual',
      signal: AbortSignal.timeout(this.timeoutMs),
    });
    return { status: response.status, headers: response.headers, body: Buffer.from(await response.arrayBuffer()) };
  }

  private unreachable(what: string, err: unknown, code: string | undefined): S3StoreError {
    const origin = this.pathStyle ? this.endpoint.origin : `${this.endpoint.protocol}//${this.bucket}.${this.endpoint.host}`;
    const hint = 'is the S3 endpoint right (store.s3.endpoint / FLOTILLA_S3_ENDPOINT)?';
    if (code === 'TimeoutError') {
      return new S3StoreError(`${this.context()}: ${what}: no answer from ${origin} within ${this.timeoutMs} ms: ${hint}`, undefined, code);
    }
    const detail = code ?? (err instanceof Error ? (err.cause instanceof Error ? err.cause.message : err.message) : String(err));
    const connecting = code === undefined || CONNECT_CODES.has(code);
    return new S3StoreError(`${this.context()}: ${what}: ${connecting ? 'cannot reach' : 'lost the connection to'} ${origin} (${detail}): ${hint}`, undefined, code);
  }

  private failure(what: string, answer: Answer): S3StoreError {
    const { code, message } = errorOf(answer);
    const status = `${answer.status}${code === undefined ? '' : ` ${code}`}${message === undefined ? '' : `: ${message}`}`;
    let hint = '';
    if (code === 'NoSuchBucket' || (code === undefined && answer.status === 404 && what.startsWith('HEAD bucket'))) {
      hint = ` (bucket "${this.bucket}" does not exist: create it, or check store.s3.bucket / FLOTILLA_S3_BUCKET)`;
    } else if (code !== undefined && (CREDENTIAL_CODES.has(code) || TOKEN_CODES.has(code))) {
      hint = this.credentials.sessionToken === undefined && !TOKEN_CODES.has(code)
        ? ' (check AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY)'
        : ' (check AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN)';
    } else if (code === 'AccessDenied' || (code === undefined && answer.status === 403)) {
      hint = ` (the credentials are refused or lack permission on bucket "${this.bucket}": check AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY and the bucket policy)`;
    } else if ((code !== undefined && REGION_CODES.has(code)) || (answer.status >= 300 && answer.status < 400)) {
      const region = answer.headers.get('x-amz-bucket-region');
      hint = region !== null && region !== this.region
        ? ` (bucket "${this.bucket}" is in region ${region}, not ${this.region}: check store.s3.region / FLOTILLA_S3_REGION)`
        : ' (wrong region or endpoint: check store.s3.region / FLOTILLA_S3_REGION and store.s3.endpoint / FLOTILLA_S3_ENDPOINT)';
    } else if (code === 'RequestTimeTooSkewed') {
      hint = ' (this host\'s clock is off: synchronise it)';
    } else if (code === undefined && !what.startsWith('HEAD')) {
      hint = ` (the answer is no S3 error: is ${this.endpoint.origin} an S3 API? store.s3.endpoint / FLOTILLA_S3_ENDPOINT)`;
    }
    return new S3StoreError(`${this.context()}: ${what}: ${status}${hint}`, answer.status, code);
  }
}

/** S3's XML <Error><Code/><Message/></Error>; HEAD answers carry no body, only (MinIO) headers. */
function errorOf(answer: Answer): { code: string | undefined; message: string | undefined } {
  const xml = answer.body.toString('utf8');
  const code = /<Code>([^<]*)<\/Code>/.exec(xml)?.[1];
  const message = /<Message>([^<]*)<\/Message>/.exec(xml)?.[1];
  const header = (name: string): string | undefined => answer.headers.get(name) ?? undefined;
  return {
    code: code !== undefined ? unescapeXml(code) : header('x-minio-error-code') ?? header('x-amz-error-code'),
    message: message !== undefined ? unescapeXml(message) : header('x-minio-error-desc')?.replace(/^"|"$/g, '') ?? header('x-amz-error-message'),
  };
}

function isStoreKey(key: string): boolean {
  try {
    checkKey(key);
    return true;
  } catch {
    return false;
  }
}

/** SigV4's URI encoding: everything but A-Z a-z 0-9 - _ . ~ as %XX of its UTF-8 bytes. */
export function encodeRfc3986(value: string): string {
  return encodeURIComponent(value).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

export interface SignInput {
  readonly method: string;
  /** host[:port], as the Host header will carry it. */
  readonly host: string;
  /** Already URI-encoded (encodeRfc3986 per segment). */
  readonly path: string;
  /** Already canonical: encoded names and values, sorted, joined with '&'. */
  readonly query: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Uint8Array;
  readonly region: string;
  readonly service: string;
  readonly credentials: { readonly accessKeyId: string; readonly secretAccessKey: string; readonly sessionToken?: string | undefined };
  readonly now: Date;
}

/**
 * AWS Signature Version 4 (header form, real payload sha256): the headers to send, Host
 * excluded (fetch derives the same one from the URL), Authorization included. Every header
 * given is signed.
 */
export function signV4(input: SignInput): Record<string, string> {
  const payloadHash = input.body.length === 0 ? EMPTY_SHA256 : createHash('sha256').update(input.body).digest('hex');
  const amzDate = input.now.toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
  const day = amzDate.slice(0, 8);
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(input.headers)) headers[name.toLowerCase()] = value;
  headers['host'] = input.host;
  headers['x-amz-content-sha256'] = payloadHash;
  headers['x-amz-date'] = amzDate;
  if (input.credentials.sessionToken !== undefined) headers['x-amz-security-token'] = input.credentials.sessionToken;
  const names = Object.keys(headers).sort();
  const signedHeaders = names.join(';');
  const canonicalRequest = [
    input.method, input.path, input.query,
    names.map((n) => `${n}:${(headers[n] ?? '').trim().replace(/\s+/g, ' ')}\n`).join(''),
    signedHeaders, payloadHash,
  ].join('\n');
  const scope = `${day}/${input.region}/${input.service}/aws4_request`;
  const stringToSign = ['AWS4-HMAC-SHA256', amzDate, scope, createHash('sha256').update(canonicalRequest).digest('hex')].join('\n');
  let key = hmac(`AWS4${input.credentials.secretAccessKey}`, day);
  for (const part of [input.region, input.service, 'aws4_request']) key = hmac(key, part);
  const signature = createHmac('sha256', key).update(stringToSign, 'utf8').digest('hex');
  const { host: _host, ...sent } = headers;
  sent['authorization'] = `AWS4-HMAC-SHA256 Credential=${input.credentials.accessKeyId}/${scope}, SignedHeaders=${signedHeaders}, Signature=${signature}`;
  return sent;
}

function hmac(key: string | Buffer, data: string): Buffer {
  return createHmac('sha256', key).update(data, 'utf8').digest();
}

const ENTITIES: Readonly<Record<string, string>> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: '\'' };

export function unescapeXml(text: string): string {
  return text.replace(/&(#x[0-9a-fA-F]+|#[0-9]+|[a-z]+);/g, (whole, name: string) => {
    if (name.startsWith('#x')) return String.fromCodePoint(parseInt(name.slice(2), 16));
    if (name.startsWith('#')) return String.fromCodePoint(parseInt(name.slice(1), 10));
    return ENTITIES[name] ?? whole;
  });
}

function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;');
}

/** The code of a fetch failure: ECONNREFUSED, ENOTFOUND, ... or TimeoutError. */
function networkCode(err: unknown): string | undefined {
  if (err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError')) return 'TimeoutError';
  let cause: unknown = err instanceof Error ? err.cause : undefined;
  for (let depth = 0; cause !== undefined && depth < 4; depth++) {
    const { code, errors } = cause as { code?: unknown; errors?: unknown };
    if (typeof code === 'string') return code;
    if (Array.isArray(errors) && errors.length > 0) cause = errors[0];
    else cause = cause instanceof Error ? cause.cause : undefined;
  }
  return undefined;
}

async function backoff(attempt: number): Promise<void> {
  await sleep(100 * 2 ** (attempt - 1) + Math.floor(Math.random() * 50));
}
