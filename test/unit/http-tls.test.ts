// The hub's HTTP API over TLS (issue #24): which transport each http.tls.mode / http.listen /
// certificate combination gets (a table), the certificate the hub makes for itself (real
// openssl, a leaf under the hub's own CA), and a real HTTPS server called by Node's TLS client
// and by the `flotilla` command: with the CA it works; in plain HTTP, without the CA, with
// another hub's CA, or under a name the certificate lacks, it fails and says what to give.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { IncomingHttpHeaders } from 'node:http';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { repoRoot } from '../../deploy/dev/binaries.js';
import { FileArtifactStore } from '../../hub/artifact-store.js';
import { FileBlobStore } from '../../hub/blob-store.js';
import { clusterRoutes } from '../../hub/cluster-api.js';
import { ConfigError, loadHubConfig, type HubConfig } from '../../hub/config.js';
import { dashboardRoutes } from '../../hub/dashboard/routes.js';
import { apiToken, startHubApi, type HubApi } from '../../hub/http-api.js';
import { RegistrationStore } from '../../hub/registration.js';
import { ensureHttpTls } from '../../hub/tls.js';

const run = promisify(execFile);
const root = mkdtempSync(join(tmpdir(), 'flotilla-http-tls-'));
const cli = join(repoRoot, 'dist', 'cli', 'main.js');
const hubMain = join(repoRoot, 'dist', 'hub', 'main.js');
/** Generous: a CLI process and a TLS handshake on a machine shared with other test runs. */
const CALL_TIMEOUT_MS = 60_000;

after(() => { rmSync(root, { recursive: true, force: true }); });

/** A process's environment without the developer's FLOTILLA_* (they would pick another hub). */
function cleanEnv(extra: Record<string, string> = {}): Record<string, string> {
  return { PATH: process.env.PATH ?? '', HOME: root, ...extra };
}

async function flotilla(args: readonly string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [cli, ...args], { env: cleanEnv(env), timeout: CALL_TIMEOUT_MS });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

interface CallOptions { ca?: Buffer; servername?: string; method?: string; headers?: Record<string, string>; body?: string }

/** A call over HTTPS with Node's own client: `ca` the only trust anchor; `servername` the name to verify. */
function httpsGet(url: string, opts: CallOptions): Promise<{ status: number; body: string; headers: IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    const req = request(url, {
      ...(opts.ca ? { ca: opts.ca } : {}), ...(opts.servername ? { servername: opts.servername } : {}),
      method: opts.method ?? 'GET', headers: opts.headers ?? {}, timeout: CALL_TIMEOUT_MS,
    }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => { body += c; });
      res.on('end', () => { resolve({ status: res.statusCode ?? 0, body, headers: res.headers }); });
    });
    req.on('error', reject);
    req.end(opts.body);
  });
}

function codeOf(err: unknown): string | undefined {
  if (!(err instanceof Error)) return undefined;
  return (err as NodeJS.ErrnoException).code ?? codeOf((err as { cause?: unknown }).cause);
}

describe('http.tls.mode, http.listen and a given certificate: which transport', () => {
  const cert = join(root, 'given.crt');
  const key = join(root, 'given.key');
  writeFileSync(cert, 'cert');
  writeFileSync(key, 'key');
  const load = (flags: Record<string, string>): HubConfig => loadHubConfig({ flags: { 'data-dir': join(root, 'data'), ...flags }, env: {} });
  const given = { 'http-tls-cert': cert, 'http-tls-key': key };
  // mode, listen, certificate given → kind, or the refusal (which names the settings).
  const cases: readonly [string | undefined, string, boolean, HubConfig['http']['tls']['kind'] | RegExp][] = [
    [undefined, '127.0.0.1:7480', false, 'plain'], // the dev default: plain on loopback
    [undefined, '[::1]:7480', false, 'plain'],
    [undefined, 'localhost:7480', false, 'plain'],
    [undefined, '0.0.0.0:7480', false, 'hub'], // the chart: the hub's own certificate
    [undefined, 'hub.example.com:7480', false, 'hub'],
    [undefined, '127.0.0.1:7480', true, 'given'],
    [undefined, '0.0.0.0:7480', true, 'given'],
    ['on', '127.0.0.1:7480', false, 'hub'],
    ['on', '0.0.0.0:7480', true, 'given'],
    ['off', '127.0.0.1:7480', false, 'plain'],
    ['off', '0.0.0.0:7480', false, /^http\.tls\.mode \(flag --http-tls\) is off, but http\.listen \(flag --http\) is 0\.0\.0\.0:7480, not a loopback address: plain HTTP is served on loopback only .* Set http\.tls\.mode to auto or on/],
    ['off', '10.0.0.5:7480', false, /not a loopback address/],
    ['off', '127.0.0.1:7480', true, /^http\.tls\.mode \(flag --http-tls\) is off, but http\.tls\.certFile \(flag --http-tls-cert\) is set: remove one of them$/],
    ['sometimes', '127.0.0.1:7480', false, /^http\.tls\.mode \(flag --http-tls\): want one of auto, on, off, got "sometimes"$/],
  ];
  for (const [mode, listen, withCert, want] of cases) {
    it(`${mode ?? 'auto (default)'} ${listen}${withCert ? ' with http.tls.certFile' : ''} → ${want instanceof RegExp ? 'refused' : want}`, () => {
      const flags = { http: listen, ...(mode ? { 'http-tls': mode } : {}), ...(withCert ? given : {}) };
      if (want instanceof RegExp) {
        assert.throws(() => load(flags), (err: unknown) => err instanceof ConfigError && want.test(err.message));
      } else {
        assert.equal(load(flags).http.tls.kind, want);
      }
    });
  }
  it('a certificate needs its key', () => {
    assert.throws(() => load({ http: '0.0.0.0:7480', 'http-tls-cert': cert }), /http\.tls\.certFile \(flag --http-tls-cert\) is set but http\.tls\.keyFile is not: give both/);
  });
  it('http.hosts from the environment, comma separated', () => {
    assert.deepEqual(loadHubConfig({ flags: { 'data-dir': root }, env: { FLOTILLA_HTTP_HOSTS: 'hub.example.com, 10.1.2.3' } }).http.hosts, ['hub.example.com', '10.1.2.3']);
  });
});

describe('the HTTP API over HTTPS with the hub\'s own certificate', () => {
  const dir = join(root, 'hub', 'tls');
  const tokenFile = join(root, 'hub', 'api-token');
  const registration = new RegistrationStore(new FileBlobStore(join(root, 'hub', 'store')));
  let api: HubApi | undefined;
  let port = 0;
  let caFile = '';

  before(async () => {
    const tls = await ensureHttpTls(dir, ['hub.test', '10.9.8.7']);
    caFile = tls.caFile;
    api = await startHubApi('127.0.0.1:0', {
      info: { version: 'test', temporal: { address: '127.0.0.1:1', namespace: 'default', taskQueue: 'q' }, grpc: 'x' },
      artifacts: new FileArtifactStore(join(root, 'hub', 'artifacts')), problems: () => [], tokenFile,
      routes: [
        ...clusterRoutes(registration),
        // The dashboard's sign-in only (the pages are dashboard.test.ts's): its cookie over TLS.
        ...dashboardRoutes({
          snapshot: () => Promise.reject(new Error('not used')), token: apiToken(tokenFile), version: 'test', namespace: 'default',
          declarations: { rolloutStatus: () => Promise.reject(new Error('not used')), rolloutAction: () => Promise.reject(new Error('not used')), timeline: () => Promise.reject(new Error('not used')) },
        }),
      ],
      tls,
    });
    port = Number(new URL(api.url).port);
    const made = await registration.createToken({ ttlMs: 600_000, labels: { env: 'prod' }, uses: 1, cluster: 'edge-1' });
    await registration.register(made.token, 'edge-1');
  });
  after(async () => { await api?.close(); });

  it('the certificate is a leaf under the hub\'s CA naming loopback and the given hosts', () => {
    assert.match(api?.url ?? '', /^https:\/\/127\.0\.0\.1:\d+$/);
    const ca = new X509Certificate(readFileSync(caFile));
    const leaf = new X509Certificate(readFileSync(join(dir, 'http.crt')));
    assert.ok(leaf.checkIssued(ca) && leaf.verify(ca.publicKey), 'signed by <dataDir>/tls/hub.crt');
    assert.equal(leaf.ca, false);
    assert.match(leaf.subjectAltName ?? '', /IP Address:127\.0\.0\.1.*DNS:localhost.*DNS:hub\.test.*IP Address:10\.9\.8\.7/);
  });

  it('answers over HTTPS to a client trusting the hub\'s CA', async () => {
    const r = await httpsGet(`https://127.0.0.1:${port}/api/v1/info`, { ca: readFileSync(caFile) });
    assert.equal(r.status, 200, r.body);
    assert.equal((JSON.parse(r.body) as { version: string }).version, 'test');
    const named = await httpsGet(`https://127.0.0.1:${port}/healthz`, { ca: readFileSync(caFile), servername: 'hub.test' });
    assert.equal(named.status, 200, 'verified as hub.test, a name in http.hosts');
  });

  it('fails verification without the CA, with another hub\'s CA, and under a name the certificate lacks', async () => {
    await assert.rejects(fetch(`https://127.0.0.1:${port}/healthz`), (err: unknown) => codeOf(err) === 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'the system\'s CAs do not trust it');
    const other = await ensureHttpTls(join(root, 'other-hub', 'tls'), []);
    await assert.rejects(httpsGet(`https://127.0.0.1:${port}/healthz`, { ca: other.ca }), (err: unknown) => codeOf(err) === 'UNABLE_TO_VERIFY_LEAF_SIGNATURE');
    await assert.rejects(httpsGet(`https://127.0.0.1:${port}/healthz`, { ca: readFileSync(caFile), servername: 'evil.test' }),
      (err: unknown) => codeOf(err) === 'ERR_TLS_CERT_ALTNAME_INVALID');
  });

  it('the dashboard\'s sign-in cookie is Secure over TLS', async () => {
    const origin = `https://127.0.0.1:${port}`;
    const r = await httpsGet(`${origin}/ui/login`, {
      ca: readFileSync(caFile), method: 'POST', body: new URLSearchParams({ user: 'ana', token: apiToken(tokenFile), next: '/ui/' }).toString(),
      headers: { origin, 'content-type': 'application/x-www-form-urlencoded' },
    });
    assert.equal(r.status, 303, r.body);
    const cookies = r.headers['set-cookie'] ?? [];
    assert.equal(cookies.length, 2);
    for (const c of cookies) assert.match(c, /; HttpOnly; SameSite=Strict; Secure$/);
  });

  it('does not answer plain HTTP', async () => {
    await assert.rejects(fetch(`http://127.0.0.1:${port}/healthz`, { signal: AbortSignal.timeout(CALL_TIMEOUT_MS) }), (err: unknown) => err instanceof Error && err.name !== 'TimeoutError');
  });

  it('flotilla --ca-file (or FLOTILLA_HUB_CA) reaches it; without the CA or in plain HTTP it fails saying what to give', async () => {
    const url = `https://127.0.0.1:${port}`;
    const listed = await flotilla(['cluster', 'list', '--hub', url, '--ca-file', caFile]);
    assert.equal(listed.code, 0, listed.stderr);
    assert.match(listed.stdout, /^edge-1\s+registered \S+\s+env=prod$/m);
    const fromEnv = await flotilla(['cluster', 'list', '--hub', url], { FLOTILLA_HUB_CA: caFile });
    assert.equal(fromEnv.code, 0, fromEnv.stderr);
    assert.match(fromEnv.stdout, /^edge-1\s/m);
    const fromHubData = await flotilla(['cluster', 'list', '--hub', url], { FLOTILLA_HUB_DATA: join(root, 'hub') });
    assert.equal(fromHubData.code, 0, `the CA in the hub's data directory is trusted: ${fromHubData.stderr}`);

    const untrusted = await flotilla(['cluster', 'list', '--hub', url]);
    assert.equal(untrusted.code, 1);
    assert.match(untrusted.stderr, /cannot reach the hub API at https:\/\/127\.0\.0\.1:\d+ \(.*UNABLE_TO_VERIFY_LEAF_SIGNATURE: the hub's certificate does not chain to a trusted CA; pass --ca-file <pem> or set FLOTILLA_HUB_CA/);
    const plain = await flotilla(['cluster', 'list', '--hub', `http://127.0.0.1:${port}`, '--ca-file', caFile]);
    assert.equal(plain.code, 1);
    assert.match(plain.stderr, /a hub serving HTTPS closes plain HTTP connections: is it https:\/\/127\.0\.0\.1:\d+\?/);
    const missing = await flotilla(['cluster', 'list', '--hub', url, '--ca-file', join(root, 'nope.crt')]);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /--ca-file .*nope\.crt: no such file/);
    const notPem = await flotilla(['cluster', 'list', '--hub', url, '--ca-file', tokenFile]);
    assert.equal(notPem.code, 2);
    assert.match(notPem.stderr, /holds no PEM certificate/);
  });

  it('a new host makes a new leaf under the same CA: what clients trust does not change', async () => {
    const before = readFileSync(join(dir, 'http.crt'));
    const caBefore = readFileSync(caFile);
    const again = await ensureHttpTls(dir, ['hub.test', '10.9.8.7']);
    assert.deepEqual(again.cert, before, 'nothing new to name: the same leaf');
    const more = await ensureHttpTls(dir, ['hub.test', '10.9.8.7', 'hub.example.com']);
    assert.notDeepEqual(more.cert, before);
    assert.deepEqual(readFileSync(caFile), caBefore);
    assert.ok(new X509Certificate(more.cert).checkHost('hub.example.com'));
  });

  it('startHubApi refuses plain HTTP on a non-loopback address', async () => {
    await assert.rejects(startHubApi('0.0.0.0:0', {
      info: { version: 'test', temporal: { address: 'x', namespace: 'default', taskQueue: 'q' }, grpc: 'x' },
      artifacts: new FileArtifactStore(join(root, 'hub', 'artifacts')), problems: () => [], tokenFile,
    }), /refusing to serve the hub API in plain HTTP on 0\.0\.0\.0:0, not a loopback address: give it TLS \(http\.tls\.mode auto or on\), or listen on 127\.0\.0\.1/);
  });

  it('flotilla-hub serve with TLS off on a non-loopback address stops at once, naming the settings', async () => {
    const r = await run(process.execPath, [hubMain, 'serve', '--data-dir', join(root, 'refused'), '--http', '0.0.0.0:0', '--http-tls', 'off'],
      { env: cleanEnv(), timeout: CALL_TIMEOUT_MS }).then(() => ({ code: 0, stderr: '' }), (err: unknown) => {
      const e = err as { code?: number; stderr?: string };
      return { code: e.code, stderr: e.stderr ?? '' };
    });
    assert.equal(r.code, 2);
    assert.match(r.stderr, /^flotilla-hub: configuration: http\.tls\.mode \(flag --http-tls\) is off, but http\.listen \(flag --http\) is 0\.0\.0\.0:0, not a loopback address/);
    assert.equal(existsSync(join(root, 'refused')), false, 'refused before anything was made or started');
  });
});
