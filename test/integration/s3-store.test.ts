// hub/s3-store.ts against a real MinIO (built from its Go module by scripts/install-infra.sh),
// one server for the whole file on a loopback port: the S3 API as the hub uses it (objects,
// conditional writes, paged listings, prefixes), temporary STS credentials, and the errors a
// misconfiguration gives (wrong keys, missing bucket, nothing listening). Retries are shown
// through a proxy in front of the same MinIO that turns chosen requests away (503, 500, a
// reset connection) before passing them on: MinIO's own answers, failures on demand.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { request as httpRequest, createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../../deploy/dev/ports.js';
import { startS3Server, type S3Server } from '../../deploy/dev/s3-server.js';
import { S3BlobStore, S3StoreError, signV4, unescapeXml, type S3StoreOptions } from '../../hub/s3-store.js';

const BUCKET = 'flotilla';
let running: S3Server | undefined;
let dir: string | undefined;
function server(): S3Server {
  if (!running) throw new Error('MinIO is not running (before() failed?)');
  return running;
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'flotilla-s3-test-'));
  running = await startS3Server({ dir });
}, { timeout: 90_000 });
after(async () => {
  await running?.stop();
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
}, { timeout: 30_000 });

function options(more: Partial<S3StoreOptions> = {}): S3StoreOptions {
  return {
    endpoint: server().endpoint, bucket: BUCKET, region: server().region,
    accessKeyId: server().accessKeyId, secretAccessKey: server().secretAccessKey, ...more,
  };
}
const store = (more: Partial<S3StoreOptions> = {}): S3BlobStore => new S3BlobStore(options(more));
/** A store under a prefix of its own, so tests do not see each other's keys. */
const fresh = (more: Partial<S3StoreOptions> = {}): S3BlobStore => store({ prefix: `t-${randomBytes(4).toString('hex')}/`, ...more });

/** Asserts `promise` rejects with an S3StoreError whose message matches and leaks none of `secrets`. */
async function rejectsWith(promise: Promise<unknown>, message: RegExp, secrets: readonly string[] = []): Promise<S3StoreError> {
  let caught: unknown;
  try {
    await promise;
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof S3StoreError, `expected an S3StoreError, got ${String(caught)}`);
  assert.match(caught.message, message);
  for (const s of secrets) assert.ok(!caught.message.includes(s), `message leaks a secret: ${caught.message}`);
  return caught;
}

describe('S3BlobStore on MinIO', () => {
  before(async () => {
    assert.equal(await store().ensureBucket(), true, 'the first ensureBucket creates it');
  });

  it('ensureBucket creates a bucket once, and check() passes on it', async () => {
    const s = store({ bucket: 'created-by-test' });
    await rejectsWith(s.check(), /bucket "created-by-test" does not exist/);
    assert.equal(await s.ensureBucket(), true);
    assert.equal(await s.ensureBucket(), false, 'already there');
    await s.check({ write: true });
    assert.deepEqual(await s.list(''), [], 'the write probe is gone');
    const opened = await S3BlobStore.open(options({ bucket: 'opened-by-test' }), { create: true, write: true });
    assert.equal(opened.location, 's3://opened-by-test/');
  });

  it('round-trips bytes: small, 5 MiB, empty, and strings as UTF-8', async () => {
    const s = fresh();
    const small = Buffer.from([0, 1, 2, 253, 254, 255]);
    const big = randomBytes(5 * 1024 * 1024);
    assert.equal(await s.put('artifacts/sha256/small', small), true);
    assert.equal(await s.put('artifacts/sha256/big', big), true);
    assert.equal(await s.put('empty', new Uint8Array(0)), true);
    assert.equal(await s.put('registration.json', '{"name":"é→✓"}'), true);
    assert.deepEqual((await s.get('artifacts/sha256/small'))?.data, small);
    const gotBig = await s.get('artifacts/sha256/big');
    assert.equal(gotBig?.data.length, big.length);
    assert.ok(gotBig.data.equals(big), '5 MiB identical');
    const empty = await s.get('empty');
    assert.equal(empty?.data.length, 0);
    assert.ok(empty.etag.length > 0);
    assert.equal((await s.get('registration.json'))?.data.toString('utf8'), '{"name":"é→✓"}');
    assert.equal(await s.get('absent'), undefined);
  });

  it('gives a new etag when the bytes change', async () => {
    const s = fresh();
    await s.put('k', 'one');
    const one = (await s.get('k'))?.etag;
    await s.put('k', 'two');
    const two = (await s.get('k'))?.etag;
    assert.ok(one !== undefined && two !== undefined);
    assert.notEqual(one, two);
    await s.put('k', 'one');
    assert.equal((await s.get('k'))?.etag, one, 'MD5 etags: same bytes, same etag');
  });

  it('has() tells present keys from absent ones', async () => {
    const s = fresh();
    assert.equal(await s.has('objects/ConfigMap/apps/a.json'), false);
    await s.put('objects/ConfigMap/apps/a.json', '{}');
    assert.equal(await s.has('objects/ConfigMap/apps/a.json'), true);
    assert.equal(await s.has('objects/ConfigMap/apps'), false, 'a "directory" is no key');
  });

  it('ifNoneMatch: the second create is refused and writes nothing', async () => {
    const s = fresh();
    assert.equal(await s.put('registration.json', 'first', { ifNoneMatch: true }), true);
    assert.equal(await s.put('registration.json', 'second', { ifNoneMatch: true }), false);
    assert.equal((await s.get('registration.json'))?.data.toString(), 'first');
  });

  it('ifNoneMatch: of ten concurrent creates exactly one wins', async () => {
    const s = fresh();
    const results = await Promise.all(Array.from({ length: 10 }, (_, i) => s.put('lock', `writer-${i}`, { ifNoneMatch: true })));
    assert.equal(results.filter(Boolean).length, 1, JSON.stringify(results));
    const winner = results.indexOf(true);
    assert.equal((await s.get('lock'))?.data.toString(), `writer-${winner}`);
  });

  it('ifMatch: a stale etag is refused, the current one accepted', async () => {
    const s = fresh();
    await s.put('objects/Secret/apps/db.json', 'v1');
    const v1 = (await s.get('objects/Secret/apps/db.json'))?.etag;
    assert.ok(v1 !== undefined);
    assert.equal(await s.put('objects/Secret/apps/db.json', 'v2', { ifMatch: v1 }), true);
    const v2 = (await s.get('objects/Secret/apps/db.json'))?.etag;
    assert.ok(v2 !== undefined && v2 !== v1);
    assert.equal(await s.put('objects/Secret/apps/db.json', 'v3', { ifMatch: v1 }), false, 'stale');
    assert.equal((await s.get('objects/Secret/apps/db.json'))?.data.toString(), 'v2');
    assert.equal(await s.put('objects/Secret/apps/db.json', 'v3', { ifMatch: v2, secret: true }), true, 'fresh (secret is ignored)');
    assert.equal((await s.get('objects/Secret/apps/db.json'))?.data.toString(), 'v3');
  });

  it('ifMatch on an absent key is refused and creates nothing', async () => {
    const s = fresh();
    await s.put('other', 'x');
    const etag = (await s.get('other'))?.etag;
    assert.ok(etag !== undefined);
    assert.equal(await s.put('absent', 'y', { ifMatch: etag }), false);
    assert.equal(await s.has('absent'), false);
  });

  it('ifMatch: of ten concurrent updates from one etag exactly one wins', async () => {
    const s = fresh();
    await s.put('counter', '0');
    const etag = (await s.get('counter'))?.etag;
    assert.ok(etag !== undefined);
    const results = await Promise.all(Array.from({ length: 10 }, (_, i) => s.put('counter', `from-${i}`, { ifMatch: etag })));
    assert.equal(results.filter(Boolean).length, 1, JSON.stringify(results));
    assert.equal((await s.get('counter'))?.data.toString(), `from-${results.indexOf(true)}`);
  });

  it('deletes, and deleting an absent key is fine', async () => {
    const s = fresh();
    await s.put('a/b', 'x');
    await s.delete('a/b');
    assert.equal(await s.get('a/b'), undefined);
    await s.delete('a/b');
    await s.delete('never/was/there');
  });

  it('lists a prefix in lexical order across pages (continuation tokens)', async () => {
    const s = fresh({ maxKeys: 7 });
    const keys = Array.from({ length: 23 }, (_, i) => `artifacts/sha256/${String(i).padStart(3, '0')}`);
    await Promise.all(keys.map((k) => s.put(k, k)));
    await s.put('artifactsx/not-under', 'x');
    await s.put('registration.json', 'x');
    assert.deepEqual(await s.list('artifacts/sha256/'), keys);
    assert.deepEqual(await s.list('artifacts/'), keys);
    assert.deepEqual(await s.list(''), [...keys, 'artifactsx/not-under', 'registration.json']);
    assert.deepEqual(await s.list('nothing/'), []);
    await assert.rejects(s.list('artifacts'), /must end with '\/'/);
  });

  it('keeps keys with @ (scoped namespaces) apart and lists them back', async () => {
    const s = fresh();
    await s.put('objects/Secret/flux-system@staging/x.json', 'staging');
    await s.put('objects/Secret/flux-system@production/x.json', 'production');
    await s.put('objects/Secret/flux-system/x.json', 'plain');
    assert.equal((await s.get('objects/Secret/flux-system@staging/x.json'))?.data.toString(), 'staging');
    assert.equal((await s.get('objects/Secret/flux-system@production/x.json'))?.data.toString(), 'production');
    assert.equal(await s.has('objects/Secret/flux-system@staging/x.json'), true);
    assert.deepEqual(await s.list('objects/Secret/flux-system@staging/'), ['objects/Secret/flux-system@staging/x.json']);
    assert.deepEqual(await s.list('objects/Secret/'), [
      'objects/Secret/flux-system/x.json',
      'objects/Secret/flux-system@production/x.json',
      'objects/Secret/flux-system@staging/x.json',
    ]);
    const etag = (await s.get('objects/Secret/flux-system@staging/x.json'))?.etag;
    assert.equal(await s.put('objects/Secret/flux-system@staging/x.json', 'v2', { ifMatch: etag }), true);
    await s.delete('objects/Secret/flux-system@staging/x.json');
    assert.equal(await s.has('objects/Secret/flux-system@staging/x.json'), false);
  });

  it('two stores with different prefixes in one bucket do not see each other', async () => {
    const id = randomBytes(4).toString('hex');
    const a = store({ prefix: `hub-a-${id}/` });
    const b = store({ prefix: `hub-b-${id}/nested/` });
    const unprefixed = store();
    await a.put('registration.json', 'a');
    await b.put('registration.json', 'b');
    assert.equal((await a.get('registration.json'))?.data.toString(), 'a');
    assert.equal((await b.get('registration.json'))?.data.toString(), 'b');
    assert.deepEqual(await a.list(''), ['registration.json']);
    assert.deepEqual(await b.list(''), ['registration.json']);
    await a.delete('registration.json');
    assert.equal(await b.has('registration.json'), true);
    assert.equal(await unprefixed.has(`hub-b-${id}/nested/registration.json`), true, 'the prefix is part of the object key');
    assert.equal(a.location, `s3://${BUCKET}/hub-a-${id}/`);
  });

  it('refuses invalid keys and options before any request', async () => {
    const s = fresh();
    for (const key of ['../escape', '/abs', 'a//b', 'a/', 'a b']) await assert.rejects(s.put(key, 'x'), /invalid store key/);
    assert.throws(() => store({ prefix: 'no-slash' }), /must end with '\/'/);
    assert.throws(() => store({ prefix: '../x/' }), /prefix/);
    assert.throws(() => store({ endpoint: 'http://127.0.0.1:9000/path' }), /must be http\(s\):\/\/host\[:port\]/);
    assert.throws(() => store({ endpoint: 'not a url' }), /FLOTILLA_S3_ENDPOINT/);
    assert.throws(() => store({ bucket: 'Upper_Case' }), /not a valid bucket name/);
  });

  it('works with temporary credentials from MinIO STS (x-amz-security-token)', async () => {
    const creds = await assumeRole();
    const s = fresh({ accessKeyId: creds.accessKeyId, secretAccessKey: creds.secretAccessKey, sessionToken: creds.sessionToken });
    assert.equal(await s.put('k', 'temporary'), true);
    assert.equal((await s.get('k'))?.data.toString(), 'temporary');
    const withoutToken = store({ accessKeyId: creds.accessKeyId, secretAccessKey: creds.secretAccessKey });
    await rejectsWith(withoutToken.get('k'), /: GET k: 403 InvalidTokenId: .+ \(check AWS_ACCESS_KEY_ID \/ AWS_SECRET_ACCESS_KEY \/ AWS_SESSION_TOKEN\)$/, [creds.secretAccessKey]);
    const wrongToken = fresh({ accessKeyId: creds.accessKeyId, secretAccessKey: creds.secretAccessKey, sessionToken: `${creds.sessionToken}x` });
    await rejectsWith(wrongToken.get('k'), /: GET k: 403 \w+: .+ \(check AWS_ACCESS_KEY_ID \/ AWS_SECRET_ACCESS_KEY \/ AWS_SESSION_TOKEN\)$/, [creds.sessionToken]);
  });
});

describe('S3BlobStore errors name what to fix', () => {
  before(async () => {
    await store().ensureBucket();
  });

  it('a wrong secret key: SignatureDoesNotMatch, pointing at the credential settings', async () => {
    const wrong = 'wrong-secret-0123456789';
    const s = store({ secretAccessKey: wrong, prefix: 'hub/' });
    const err = await rejectsWith(s.get('artifacts/sha256/ab'),
      /^S3 store s3:\/\/flotilla\/hub\/: GET artifacts\/sha256\/ab: 403 SignatureDoesNotMatch: .+ \(check AWS_ACCESS_KEY_ID \/ AWS_SECRET_ACCESS_KEY\)$/,
      [wrong, server().secretAccessKey]);
    assert.equal(err.status, 403);
    assert.equal(err.code, 'SignatureDoesNotMatch');
    await rejectsWith(s.put('k', 'x'), /PUT k: 403 SignatureDoesNotMatch.*AWS_SECRET_ACCESS_KEY/);
    await rejectsWith(s.list(''), /LIST \/: 403 SignatureDoesNotMatch.*AWS_SECRET_ACCESS_KEY/);
    await rejectsWith(s.has('k'), /HEAD k: 403.*AWS_SECRET_ACCESS_KEY/);
    await rejectsWith(s.check(), /403 SignatureDoesNotMatch.*AWS_SECRET_ACCESS_KEY/);
  });

  it('an unknown access key: InvalidAccessKeyId, pointing at the credential settings', async () => {
    const s = store({ accessKeyId: 'no-such-key-id' });
    await rejectsWith(s.get('x'), /: GET x: 403 InvalidAccessKeyId: .+ \(check AWS_ACCESS_KEY_ID \/ AWS_SECRET_ACCESS_KEY\)$/, [server().secretAccessKey]);
  });

  it('a missing bucket: says the bucket does not exist', async () => {
    const s = store({ bucket: 'no-such-bucket' });
    const err = await rejectsWith(s.check(), /^S3 store s3:\/\/no-such-bucket\/: LIST \/: 404 NoSuchBucket: .+ \(bucket "no-such-bucket" does not exist: create it, or check store.s3.bucket/);
    assert.equal(err.code, 'NoSuchBucket');
    await rejectsWith(s.get('k'), /GET k: 404 NoSuchBucket.*bucket "no-such-bucket" does not exist/);
    await rejectsWith(s.put('k', 'x'), /PUT k: 404 NoSuchBucket.*bucket "no-such-bucket" does not exist/);
    await rejectsWith(s.put('k', 'x', { ifNoneMatch: true }), /bucket "no-such-bucket" does not exist/);
    await rejectsWith(s.delete('k'), /DELETE k: 404 NoSuchBucket.*bucket "no-such-bucket" does not exist/);
    await rejectsWith(s.list('objects/'), /LIST objects\/: 404 NoSuchBucket.*bucket "no-such-bucket" does not exist/);
    // HEAD answers have no body; MinIO names the error in x-minio-error-code (AWS does not:
    // there has() reads a missing bucket as an absent key, which check() at start-up rules out).
    await rejectsWith(s.has('k'), /HEAD k: 404 NoSuchBucket.*bucket "no-such-bucket" does not exist/);
    await rejectsWith(S3BlobStore.open(options({ bucket: 'no-such-bucket' })), /bucket "no-such-bucket" does not exist/);
  });

  it('a wrong region: names the region the bucket is in', async () => {
    const s = store({ region: 'eu-west-1' });
    await rejectsWith(s.get('k'), /GET k: 400 AuthorizationHeaderMalformed: .+ \(bucket "flotilla" is in region us-east-1, not eu-west-1: check store.s3.region \/ FLOTILLA_S3_REGION\)$/);
  });

  it('an endpoint that is no S3 API: says so', async () => {
    const web = createHttpServer((_req, res) => { res.writeHead(404, { 'content-type': 'text/html' }).end('<html>Not Found</html>'); });
    await new Promise<void>((resolve) => { web.listen(0, '127.0.0.1', resolve); });
    const { port } = web.address() as AddressInfo;
    try {
      await rejectsWith(store({ endpoint: `http://127.0.0.1:${port}` }).check(),
        new RegExp(`LIST /: 404 \\(the answer is no S3 error: is http://127\\.0\\.0\\.1:${port} an S3 API\\? store\\.s3\\.endpoint / FLOTILLA_S3_ENDPOINT\\)$`));
    } finally {
      await new Promise<void>((resolve) => { web.close(() => { resolve(); }); });
    }
  });

  it('nothing listening: cannot reach the endpoint, pointing at its setting', async () => {
    const port = await freePort();
    const s = store({ endpoint: `http://127.0.0.1:${port}` });
    const started = Date.now();
    const err = await rejectsWith(s.get('registration.json'),
      new RegExp(`^S3 store s3://flotilla/: GET registration.json: cannot reach http://127\\.0\\.0\\.1:${port} \\(ECONNREFUSED\\): is the S3 endpoint right \\(store\\.s3\\.endpoint / FLOTILLA_S3_ENDPOINT\\)\\?$`));
    assert.equal(err.code, 'ECONNREFUSED');
    assert.equal(err.status, undefined);
    assert.ok(Date.now() - started < 5000, 'a few short retries, not minutes');
    await rejectsWith(s.check(), /cannot reach .*ECONNREFUSED/);
    await rejectsWith(s.put('k', 'x', { ifMatch: '"abc"' }), /PUT k: cannot reach .*ECONNREFUSED/);
  });

  it('an endpoint that accepts connections but never answers: a timeout naming the endpoint', async () => {
    const sockets = new Set<Socket>();
    const silent = createServer((socket) => { sockets.add(socket); });
    await new Promise<void>((resolve) => { silent.listen(0, '127.0.0.1', resolve); });
    const address = silent.address();
    assert.ok(address !== null && typeof address !== 'string');
    try {
      const s = store({ endpoint: `http://127.0.0.1:${address.port}`, timeoutMs: 300, attempts: 2 });
      await rejectsWith(s.get('k'), new RegExp(`GET k: no answer from http://127\\.0\\.0\\.1:${address.port} within 300 ms: is the S3 endpoint right`));
    } finally {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => { silent.close(() => { resolve(); }); });
    }
  });
});

describe('S3BlobStore retries what is safe to repeat', () => {
  let proxy: FaultProxy;
  before(async () => {
    await store().ensureBucket();
    proxy = await startFaultProxy(server().endpoint);
  });
  after(async () => {
    await proxy.stop();
  });
  const viaProxy = (more: Partial<S3StoreOptions> = {}): S3BlobStore => fresh({ endpoint: proxy.endpoint, ...more });

  it('a GET turned away twice with 503 SlowDown succeeds on the third attempt', async () => {
    const s = viaProxy();
    await s.put('k', 'value');
    proxy.fail({ method: 'GET', path: `/${BUCKET}/${s.prefix}k`, times: 2, status: 503, code: 'SlowDown' });
    assert.equal((await s.get('k'))?.data.toString(), 'value');
    assert.equal(proxy.count('GET', `/${BUCKET}/${s.prefix}k`), 3);
  });

  it('a connection reset before the answer is retried for reads and listings', async () => {
    const s = viaProxy();
    await s.put('a/k', 'value');
    proxy.fail({ method: 'GET', path: `/${BUCKET}/${s.prefix}a/k`, times: 1, reset: true });
    assert.equal((await s.get('a/k'))?.data.toString(), 'value');
    proxy.fail({ method: 'GET', path: `/${BUCKET}`, times: 1, reset: true });
    assert.deepEqual(await s.list('a/'), ['a/k']);
  });

  it('a conditional PUT is repeated after 503 (turned away) but not after 500 or a reset (maybe written)', async () => {
    const s = viaProxy();
    const path = `/${BUCKET}/${s.prefix}lock`;
    proxy.fail({ method: 'PUT', path, times: 1, status: 503, code: 'SlowDown' });
    assert.equal(await s.put('lock', 'one', { ifNoneMatch: true }), true);
    assert.equal(proxy.count('PUT', path), 2);
    const etag = (await s.get('lock'))?.etag;
    proxy.fail({ method: 'PUT', path, times: 1, status: 500, code: 'InternalError' });
    await rejectsWith(s.put('lock', 'two', { ifMatch: etag }), /PUT lock: 500 InternalError: injected by the test proxy$/);
    assert.equal(proxy.count('PUT', path), 3, 'not repeated');
    proxy.fail({ method: 'PUT', path, times: 1, reset: true });
    await rejectsWith(s.put('lock', 'two', { ifMatch: etag }), /PUT lock: lost the connection to http:\/\/127\.0\.0\.1:\d+ \(\w+\): is the S3 endpoint right/);
    assert.equal(proxy.count('PUT', path), 4, 'not repeated');
    proxy.fail({ method: 'PUT', path, times: 1, status: 500, code: 'InternalError' });
    assert.equal(await s.put('lock', 'three'), true, 'an unconditional PUT is repeated');
    assert.equal((await s.get('lock'))?.data.toString(), 'three');
  });

  it('gives up after its attempts, naming the last answer', async () => {
    const s = viaProxy({ attempts: 3 });
    proxy.fail({ method: 'HEAD', path: `/${BUCKET}/${s.prefix}k`, times: 5, status: 503, code: 'SlowDown' });
    await rejectsWith(s.has('k'), /HEAD k: 503 SlowDown: injected by the test proxy$/);
    assert.equal(proxy.count('HEAD', `/${BUCKET}/${s.prefix}k`), 3);
  });
});

describe('unescapeXml (ListObjectsV2 keys)', () => {
  it('unescapes the five XML entities and character references, &amp; last', () => {
    assert.equal(unescapeXml('a&amp;b&lt;c&gt;d&quot;e&apos;f'), 'a&b<c>d"e\'f');
    assert.equal(unescapeXml('&amp;lt;'), '&lt;');
    assert.equal(unescapeXml('&#38;&#x41;&#x1F600;'), '&A😀');
    assert.equal(unescapeXml('plain/key@x.json'), 'plain/key@x.json');
  });
});

/** Temporary credentials from MinIO's STS AssumeRole (as the root user), signed with signV4 for service "sts". */
async function assumeRole(): Promise<{ accessKeyId: string; secretAccessKey: string; sessionToken: string }> {
  const url = new URL(server().endpoint);
  const body = Buffer.from('Action=AssumeRole&Version=2011-06-15&DurationSeconds=900', 'utf8');
  const headers = signV4({
    method: 'POST', host: url.host, path: '/', query: '', body,
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    region: server().region, service: 'sts', now: new Date(),
    credentials: { accessKeyId: server().accessKeyId, secretAccessKey: server().secretAccessKey },
  });
  const response = await fetch(`${server().endpoint}/`, { method: 'POST', headers, body });
  const xml = await response.text();
  assert.equal(response.status, 200, xml);
  const field = (name: string): string => {
    const value = new RegExp(`<${name}>([^<]+)</${name}>`).exec(xml)?.[1];
    assert.ok(value !== undefined, `no ${name} in ${xml}`);
    return unescapeXml(value);
  };
  return { accessKeyId: field('AccessKeyId'), secretAccessKey: field('SecretAccessKey'), sessionToken: field('SessionToken') };
}

interface Fault {
  readonly method: string;
  /** The request path without its query. */
  readonly path: string;
  times: number;
  readonly status?: number;
  readonly code?: string;
  /** Close the connection instead of answering. */
  readonly reset?: boolean;
}

interface FaultProxy {
  readonly endpoint: string;
  fail(fault: Fault): void;
  count(method: string, path: string): number;
  stop(): Promise<void>;
}

/**
 * Passes requests on to `target` unchanged (Host included, so signatures hold), except the
 * next `times` that match a fault: those get an S3 error answer or a closed connection.
 */
async function startFaultProxy(target: string): Promise<FaultProxy> {
  const upstream = new URL(target);
  const faults: Fault[] = [];
  const seen: string[] = [];
  const proxy = createHttpServer((req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    seen.push(`${req.method ?? ''} ${path}`);
    const fault = faults.find((f) => f.times > 0 && f.method === req.method && f.path === path);
    if (fault) {
      fault.times--;
      req.resume();
      req.on('end', () => {
        if (fault.reset) {
          req.socket.destroy();
          return;
        }
        const xml = `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${fault.code ?? 'InternalError'}</Code><Message>injected by the test proxy</Message></Error>`;
        res.writeHead(fault.status ?? 500, req.method === 'HEAD'
          ? { 'x-minio-error-code': fault.code ?? 'InternalError', 'x-minio-error-desc': '"injected by the test proxy"' }
          : { 'content-type': 'application/xml' });
        res.end(req.method === 'HEAD' ? undefined : xml);
      });
      return;
    }
    const forward = httpRequest({ host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    forward.on('error', () => { res.destroy(); });
    req.pipe(forward);
  });
  await new Promise<void>((resolve) => { proxy.listen(0, '127.0.0.1', resolve); });
  const { port } = proxy.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    fail: (fault) => { faults.push(fault); },
    count: (method, path) => seen.filter((s) => s === `${method} ${path}`).length,
    stop: () => new Promise<void>((resolve) => {
      proxy.closeAllConnections();
      proxy.close(() => { resolve(); });
    }),
  };
}
