// A real OCI registry for tests: Debian's docker-registry (distribution 2.8.2) serving a
// directory on loopback, without auth, with htpasswd (bcrypt) or with Docker's token auth
// (a node:http token server here signs RS256 JWTs that the registry verifies against a
// self-signed certificate made with openssl). pushImage writes real OCI images through the
// registry API. startPaginatingProxy adds what 2.8 lacks: it ignores `n` on tags/list (tag
// pagination came with distribution 3), so the proxy pages the real listing per the OCI spec.
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createHash, createPrivateKey, randomBytes, randomUUID, sign, X509Certificate, type KeyObject } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, open, readFile, writeFile, type FileHandle } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';
import { stringify } from 'yaml';

const execFileAsync = promisify(execFile);
export const REGISTRY_BIN = '/usr/bin/docker-registry';
const OPENSSL = '/usr/bin/openssl';
export const TOKEN_SERVICE = 'flotilla-test-registry';
export const TOKEN_ISSUER = 'flotilla-test-token-issuer';
const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';

export interface RegistryOptions {
  readonly auth?: 'none' | 'htpasswd' | 'token';
  /** user → password; the first user is the one pushImage authenticates as. */
  readonly users?: Readonly<Record<string, string>>;
  /** Token mode: anonymous requests get pull access (as Docker Hub does for public images). Default false: no access. */
  readonly anonymousPull?: boolean;
  /** Token mode: OAuth2 refresh tokens (dockerconfigjson's identitytoken) → user. */
  readonly refreshTokens?: Readonly<Record<string, string>>;
}

export interface TokenRequest {
  /** The requested scopes, space-separated ('' when none). */
  readonly scope: string;
  /** The authenticated user; undefined for anonymous requests. */
  readonly user: string | undefined;
  readonly method: 'GET' | 'POST';
}

export interface TestRegistry {
  /** 127.0.0.1:port, plain http. */
  readonly host: string;
  readonly dir: string;
  /** Token mode: every request the token server answered (including refused ones). */
  readonly tokenRequests: readonly TokenRequest[];
  /** Pushes a small OCI image (one config blob, one layer holding `repository:tag`) as `tag`; returns the manifest digest. */
  pushImage(repository: string, tag: string): Promise<string>;
  /** Deletes the manifest `tag` points at (distribution 2.8 deletes by digest, which untags it). */
  deleteTag(repository: string, tag: string): Promise<void>;
  stop(): Promise<void>;
}

/** Starts docker-registry on a free loopback port with its storage and config under `dir`. */
export async function startRegistry(dir: string, options: RegistryOptions = {}): Promise<TestRegistry> {
  if (!existsSync(REGISTRY_BIN)) throw new Error(`${REGISTRY_BIN} is missing: run scripts/install-infra.sh (apt-get install docker-registry)`);
  const mode = options.auth ?? 'none';
  const users = options.users ?? {};
  const firstUser = Object.entries(users)[0];
  if (mode !== 'none' && firstUser === undefined) throw new Error(`registry auth "${mode}" needs at least one user`);
  await mkdir(join(dir, 'data'), { recursive: true });
  const port = await freePort();
  const host = `127.0.0.1:${port}`;
  const config: Record<string, unknown> = {
    version: '0.1',
    log: { level: 'warn', accesslog: { disabled: true } },
    storage: { filesystem: { rootdirectory: join(dir, 'data') }, delete: { enabled: true } },
    http: { addr: host, secret: randomBytes(16).toString('hex') },
  };

  let tokens: TokenServer | undefined;
  if (mode === 'htpasswd') {
    const lines = Object.entries(users).map(([user, password]) => `${user}:${bcrypt(password)}`);
    await writeFile(join(dir, 'htpasswd'), `${lines.join('\n')}\n`, { mode: 0o600 });
    config.auth = { htpasswd: { realm: 'flotilla-test', path: join(dir, 'htpasswd') } };
  } else if (mode === 'token') {
    tokens = await TokenServer.start(dir, users, options);
    config.auth = { token: { realm: tokens.realm, service: TOKEN_SERVICE, issuer: TOKEN_ISSUER, rootcertbundle: tokens.certPath } };
  }
  const configPath = join(dir, 'config.yml');
  await writeFile(configPath, stringify(config));

  const log = await open(join(dir, 'registry.log'), 'a');
  const child = spawn(REGISTRY_BIN, ['serve', configPath], {
    stdio: ['ignore', log.fd, log.fd],
    // Keep REGISTRY_* variables of the machine out of the config.
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin' },
  });
  const exited = new Promise<void>((resolve) => { child.once('exit', () => { resolve(); }); });
  try {
    await waitReady(host, child, join(dir, 'registry.log'));
  } catch (err) {
    await kill(child, exited);
    await log.close();
    await tokens?.stop();
    throw err;
  }

  const authorization = (repository: string): string | undefined => {
    if (firstUser === undefined || mode === 'none') return undefined;
    if (mode === 'htpasswd') return `Basic ${Buffer.from(`${firstUser[0]}:${firstUser[1]}`).toString('base64')}`;
    return `Bearer ${tokens?.issue(firstUser[0], [{ type: 'repository', name: repository, actions: ['pull', 'push', 'delete'] }]) ?? ''}`;
  };
  return new RunningRegistry(host, dir, child, exited, log, tokens, authorization);
}

class RunningRegistry implements TestRegistry {
  constructor(
    readonly host: string,
    readonly dir: string,
    private readonly child: ChildProcess,
    private readonly exited: Promise<void>,
    private readonly log: FileHandle,
    private readonly tokens: TokenServer | undefined,
    private readonly authorization: (repository: string) => string | undefined,
  ) {}

  get tokenRequests(): readonly TokenRequest[] {
    return this.tokens?.requests ?? [];
  }

  async pushImage(repository: string, tag: string): Promise<string> {
    const tarball = tar('tag.txt', `${repository}:${tag}\n`);
    const layer = gzipSync(tarball);
    const imageConfig = Buffer.from(JSON.stringify({
      architecture: 'amd64', os: 'linux', config: { Labels: { 'org.opencontainers.image.ref.name': tag } },
      rootfs: { type: 'layers', diff_ids: [sha256(tarball)] },
    }));
    await this.uploadBlob(repository, imageConfig);
    await this.uploadBlob(repository, layer);
    const manifest = Buffer.from(JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha256(imageConfig), size: imageConfig.length },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: sha256(layer), size: layer.length }],
    }));
    const res = await this.request(repository, 'PUT', `/v2/${repository}/manifests/${tag}`, manifest, { 'content-type': OCI_MANIFEST });
    await expectStatus(res, 201, `PUT manifest ${repository}:${tag}`);
    const digest = sha256(manifest);
    const answered = res.headers.get('docker-content-digest');
    if (answered !== digest) throw new Error(`registry stored ${repository}:${tag} as ${answered ?? 'no digest'}, expected ${digest}`);
    return digest;
  }

  async deleteTag(repository: string, tag: string): Promise<void> {
    const head = await this.request(repository, 'HEAD', `/v2/${repository}/manifests/${tag}`, undefined, { accept: OCI_MANIFEST });
    await expectStatus(head, 200, `HEAD manifest ${repository}:${tag}`);
    const digest = head.headers.get('docker-content-digest');
    if (digest === null) throw new Error(`registry sent no digest for ${repository}:${tag}`);
    const res = await this.request(repository, 'DELETE', `/v2/${repository}/manifests/${digest}`);
    await expectStatus(res, 202, `DELETE manifest ${repository}@${digest}`);
  }

  async stop(): Promise<void> {
    await kill(this.child, this.exited);
    await this.log.close();
    await this.tokens?.stop();
  }

  private async uploadBlob(repository: string, content: Buffer): Promise<void> {
    const start = await this.request(repository, 'POST', `/v2/${repository}/blobs/uploads/`);
    await expectStatus(start, 202, `start blob upload to ${repository}`);
    const location = start.headers.get('location');
    if (location === null) throw new Error(`registry sent no upload location for ${repository}`);
    const target = new URL(location, `http://${this.host}`);
    target.searchParams.set('digest', sha256(content));
    const put = await this.request(repository, 'PUT', `${target.pathname}${target.search}`, content, { 'content-type': 'application/octet-stream' });
    await expectStatus(put, 201, `finish blob upload to ${repository}`);
  }

  private request(repository: string, method: string, path: string, body?: Buffer, headers: Record<string, string> = {}): Promise<Response> {
    const auth = this.authorization(repository);
    return fetch(`http://${this.host}${path}`, {
      method,
      headers: { ...headers, ...(auth === undefined ? {} : { authorization: auth }) },
      ...(body === undefined ? {} : { body }),
      signal: AbortSignal.timeout(10_000),
    });
  }
}

interface Access {
  readonly type: string;
  readonly name: string;
  readonly actions: readonly string[];
}

/**
 * Docker's token service, as distribution 2.8 verifies it (registry/auth/token): an RS256 JWT
 * whose header `kid` is the libtrust fingerprint of a public key in `rootcertbundle`, with
 * iss = the configured issuer and aud = the service.
 */
class TokenServer {
  readonly requests: TokenRequest[] = [];
  private readonly server: Server;
  private port = 0;

  private constructor(
    readonly certPath: string,
    private readonly key: KeyObject,
    private readonly kid: string,
    private readonly users: Readonly<Record<string, string>>,
    private readonly options: RegistryOptions,
  ) {
    this.server = createServer((req, res) => {
      this.handle(req, res).catch((err: unknown) => {
        res.writeHead(500, { 'content-type': 'application/json' }).end(JSON.stringify({ details: String(err) }));
      });
    });
  }

  get realm(): string {
    return `http://127.0.0.1:${this.port}/token`;
  }

  static async start(dir: string, users: Readonly<Record<string, string>>, options: RegistryOptions): Promise<TokenServer> {
    const keyPath = join(dir, 'token.key');
    const certPath = join(dir, 'token.crt');
    await execFileAsync(OPENSSL, ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', keyPath, '-out', certPath, '-days', '2', '-subj', `/CN=${TOKEN_ISSUER}`]);
    const cert = new X509Certificate(await readFile(certPath));
    const tokens = new TokenServer(certPath, createPrivateKey(await readFile(keyPath)), libtrustKeyId(cert.publicKey), users, options);
    await new Promise<void>((resolve) => tokens.server.listen(0, '127.0.0.1', resolve));
    tokens.port = (tokens.server.address() as AddressInfo).port;
    return tokens;
  }

  /** A signed token for `subject` (undefined: anonymous) granting `access`. */
  issue(subject: string | undefined, access: readonly Access[]): string {
    const now = Math.floor(Date.now() / 1000);
    const header = base64url(JSON.stringify({ typ: 'JWT', alg: 'RS256', kid: this.kid }));
    const claims = base64url(JSON.stringify({
      iss: TOKEN_ISSUER, sub: subject ?? '', aud: TOKEN_SERVICE, exp: now + 300, nbf: now - 10, iat: now,
      jti: randomUUID(), access,
    }));
    const signature = sign('sha256', Buffer.from(`${header}.${claims}`), this.key).toString('base64url');
    return `${header}.${claims}.${signature}`;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://token');
    const json = (status: number, body: unknown): void => {
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    };
    if (url.pathname !== '/token' || (req.method !== 'GET' && req.method !== 'POST')) { json(404, { details: 'not found' }); return; }
    let params = url.searchParams;
    let user: string | undefined;
    let authenticated = true;
    if (req.method === 'POST') {
      // OAuth2 (docker's identity tokens): grant_type=refresh_token or password, form-encoded.
      params = new URLSearchParams(await readBody(req));
      const grant = params.get('grant_type');
      if (grant === 'refresh_token') {
        user = this.options.refreshTokens?.[params.get('refresh_token') ?? ''];
        authenticated = user !== undefined;
      } else if (grant === 'password') {
        user = params.get('username') ?? '';
        authenticated = this.users[user] !== undefined && this.users[user] === params.get('password');
      } else {
        json(400, { details: `unsupported grant_type ${grant ?? '(none)'}` }); return;
      }
    } else {
      const header = req.headers.authorization;
      if (header !== undefined) {
        const m = /^Basic\s+(.+)$/i.exec(header);
        const decoded = m ? Buffer.from(m[1] ?? '', 'base64').toString('utf8') : '';
        const colon = decoded.indexOf(':');
        user = colon > 0 ? decoded.slice(0, colon) : decoded;
        authenticated = colon > 0 && this.users[user] !== undefined && this.users[user] === decoded.slice(colon + 1);
      }
    }
    const scopes = params.getAll('scope').flatMap((s) => s.split(' ')).filter((s) => s !== '');
    this.requests.push({ scope: scopes.join(' '), user, method: req.method });
    if (!authenticated) { json(401, { details: 'incorrect username or password' }); return; }
    const service = params.get('service');
    if (service !== null && service !== TOKEN_SERVICE) { json(400, { details: `unknown service ${service}` }); return; }
    const allowed = user !== undefined ? ['pull', 'push', 'delete'] : this.options.anonymousPull ? ['pull'] : [];
    const access: Access[] = [];
    for (const scope of scopes) {
      const first = scope.indexOf(':');
      const last = scope.lastIndexOf(':');
      if (first === -1 || last === first) continue;
      const actions = scope.slice(last + 1).split(',').filter((a) => allowed.includes(a));
      if (actions.length > 0) access.push({ type: scope.slice(0, first), name: scope.slice(first + 1, last), actions });
    }
    const token = this.issue(user, access);
    json(200, { token, access_token: token, expires_in: 300, issued_at: new Date().toISOString() });
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => { this.server.close(() => { resolve(); }); });
  }
}

export interface PaginatingProxy {
  readonly host: string;
  /** The tags/list requests it paged (path and query). */
  readonly pageRequests: readonly string[];
  stop(): Promise<void>;
}

/**
 * A loopback proxy in front of `targetHost` that pages tags/list per the OCI distribution
 * spec (`n`, `last`, lexical order, `Link: <…>; rel="next"`, relative or absolute), because
 * distribution 2.8 returns every tag at once. Everything else, auth included, passes through.
 */
export async function startPaginatingProxy(targetHost: string, opts: { readonly absoluteLinks?: boolean } = {}): Promise<PaginatingProxy> {
  const pageRequests: string[] = [];
  let self = '';
  const server = createServer((req, res) => {
    const forward = async (): Promise<void> => {
      const url = new URL(req.url ?? '/', 'http://proxy');
      const body = req.method === 'GET' || req.method === 'HEAD' ? undefined : await readBody(req);
      const headers: Record<string, string> = {};
      for (const h of ['authorization', 'accept', 'content-type']) {
        const v = req.headers[h];
        if (typeof v === 'string') headers[h] = v;
      }
      const tagsList = req.method === 'GET' && /^\/v2\/.+\/tags\/list$/.test(url.pathname) && url.searchParams.has('n');
      const upstream = new URL(url.pathname + url.search, `http://${targetHost}`);
      if (tagsList) {
        pageRequests.push(url.pathname + url.search);
        upstream.search = '';
      }
      const up = await fetch(upstream, { method: req.method ?? 'GET', headers, ...(body === undefined ? {} : { body }), redirect: 'manual' });
      const out: Record<string, string> = {};
      for (const h of ['content-type', 'www-authenticate', 'docker-distribution-api-version', 'docker-content-digest', 'location', 'link']) {
        const v = up.headers.get(h);
        if (v !== null) out[h] = v;
      }
      let payload = Buffer.from(await up.arrayBuffer());
      if (tagsList && up.status === 200) {
        const n = Number(url.searchParams.get('n'));
        const last = url.searchParams.get('last');
        const listing = JSON.parse(payload.toString('utf8')) as { name: string; tags: string[] | null };
        const sorted = [...(listing.tags ?? [])].sort();
        const rest = last === null ? sorted : sorted.filter((t) => t > last);
        const page = rest.slice(0, n);
        if (rest.length > n && page.length > 0) {
          const next = `${url.pathname}?n=${n}&last=${encodeURIComponent(page[page.length - 1] ?? '')}`;
          out.link = `<${opts.absoluteLinks ? `http://${self}${next}` : next}>; rel="next"`;
        }
        payload = Buffer.from(JSON.stringify({ name: listing.name, tags: page }));
      }
      res.writeHead(up.status, out).end(payload);
    };
    forward().catch((err: unknown) => { res.writeHead(502).end(String(err)); });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  self = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    host: self,
    pageRequests,
    stop: () => new Promise<void>((resolve) => { server.close(() => { resolve(); }); }),
  };
}

/** A loopback port free right now. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  await new Promise<void>((resolve) => { server.close(() => { resolve(); }); });
  return port;
}

async function waitReady(host: string, child: ChildProcess, logPath: string): Promise<void> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`docker-registry exited (${child.exitCode ?? child.signalCode ?? '?'}) before serving: ${await tail(logPath)}`);
    }
    try {
      // 200 without auth, 401 with: either way it serves.
      const res = await fetch(`http://${host}/v2/`, { signal: AbortSignal.timeout(1000) });
      await res.body?.cancel();
      return;
    } catch {
      if (Date.now() > deadline) throw new Error(`docker-registry did not answer on ${host} within 20s: ${await tail(logPath)}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

async function kill(child: ChildProcess, exited: Promise<void>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  const timer = setTimeout(() => { child.kill('SIGKILL'); }, 5000);
  await exited;
  clearTimeout(timer);
}

async function tail(path: string): Promise<string> {
  try {
    return (await readFile(path, 'utf8')).split('\n').slice(-15).join('\n');
  } catch {
    return '(no log)';
  }
}

async function expectStatus(res: Response, status: number, what: string): Promise<void> {
  if (res.status === status) { await res.body?.cancel(); return; }
  throw new Error(`${what}: HTTP ${res.status} ${(await res.text()).slice(0, 300)}`);
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

function sha256(data: Buffer): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

function base64url(s: string): string {
  return Buffer.from(s).toString('base64url');
}

/**
 * libtrust's key id, which distribution 2.8 matches against a token's `kid`: SHA-256 of the
 * DER SubjectPublicKeyInfo, truncated to 240 bits, base32 in 12 colon-separated groups of 4.
 */
export function libtrustKeyId(publicKey: KeyObject): string {
  const digest = createHash('sha256').update(publicKey.export({ type: 'spki', format: 'der' })).digest().subarray(0, 30);
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = 0;
  let value = 0;
  let out = '';
  for (const byte of digest) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += alphabet.charAt((value >>> (bits - 5)) & 31);
      bits -= 5;
    }
  }
  return (out.match(/.{1,4}/g) ?? []).join(':');
}

/**
 * A bcrypt hash for htpasswd (the registry accepts nothing else). Node has no bcrypt; perl's
 * crypt() uses the system's libxcrypt, which has it ($2b$), so no package is needed.
 */
export function bcrypt(password: string): string {
  // bcrypt's base64 has the same bit order as the standard one with another alphabet.
  const std = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
  const bc = './ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
  const salt = Array.from(randomBytes(16).toString('base64').slice(0, 22), (c) => bc.charAt(std.indexOf(c))).join('');
  const setting = `$2b$05$${salt}`;
  // The password goes through the environment, not argv.
  const out = execFileSync('perl', ['-e', 'print crypt($ENV{FLOTILLA_PW}, $ENV{FLOTILLA_SALT})'], {
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', FLOTILLA_PW: password, FLOTILLA_SALT: setting }, encoding: 'utf8',
  });
  if (!out.startsWith(setting) || out.length !== 60) throw new Error('perl crypt() made no bcrypt hash (the system libcrypt lacks bcrypt)');
  return out;
}


/** A one-file ustar archive. */
function tar(name: string, content: string): Buffer {
  const data = Buffer.from(content);
  const header = Buffer.alloc(512);
  const put = (offset: number, length: number, value: string): void => { header.write(value, offset, length, 'ascii'); };
  put(0, 100, name);
  put(100, 8, '0000644\0');
  put(108, 8, '0000000\0');
  put(116, 8, '0000000\0');
  put(124, 12, `${data.length.toString(8).padStart(11, '0')}\0`);
  put(136, 12, '00000000000\0');
  put(148, 8, '        ');
  put(156, 1, '0');
  put(257, 6, 'ustar\0');
  put(263, 2, '00');
  let sum = 0;
  for (const b of header) sum += b;
  put(148, 8, `${sum.toString(8).padStart(6, '0')}\0 `);
  const padded = Buffer.alloc(Math.ceil(data.length / 512) * 512);
  data.copy(padded);
  return Buffer.concat([header, padded, Buffer.alloc(1024)]);
}
