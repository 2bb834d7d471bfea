// The hub's HTTP server: health for probes, the API for the `flotilla` command (how to reach
// the hub's Temporal, so `flotilla --hub <url>` is all a user needs; built artifacts for
// `flotilla trace`), and whatever else the hub mounts as routes (the dashboard, /metrics,
// notification receivers). Loopback by default. Over TLS when given a certificate; plain HTTP
// only on a loopback address (hub/config.ts httpSettings decides; startHubApi refuses again).
//
// Access, per route:
//   public  no token (health probes; webhook receivers, which check their own signatures)
//   read    the bearer token when the server is not bound to loopback
//   write   the bearer token always (operator actions such as approving a rollout)
// The token lives in <data-dir>/api-token (made on first start, 0600). It is accepted as
// `Authorization: Bearer <token>` or, for the dashboard in a browser, as the
// `flotilla-token` cookie set by its sign-in page.
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { dirname } from 'node:path';
import { isDigest } from '../core/digest.js';
import type { ArtifactStore } from './artifact-store.js';

/** What `GET /api/v1/info` answers. */
export interface HubInfo {
  readonly version: string;
  readonly temporal: { readonly address: string; readonly namespace: string; readonly taskQueue: string; readonly uiUrl?: string };
  /** The agent gateway (gRPC over TLS), as the hub listens on it. */
  readonly grpc: string;
  /** PEM agents must trust for the gateway (its CA, or the self-signed certificate). */
  readonly grpcCa?: string;
}

export type RouteAccess = 'public' | 'read' | 'write';

/** What a route handler gets besides the request and response. */
export interface RouteContext {
  /** Groups captured by the route's path pattern. */
  readonly params: readonly string[];
  readonly url: URL;
  /** True when the request carries the API token (always true for read routes on loopback). */
  readonly authorized: boolean;
  /** True when the server requires the token for reads (not bound to loopback). */
  readonly readNeedsToken: boolean;
}

export interface HttpRoute {
  readonly method: 'GET' | 'POST';
  /** An exact path, or a pattern matched against the whole path (its groups become params). */
  readonly path: string | RegExp;
  readonly access: RouteAccess;
  handle(req: IncomingMessage, res: ServerResponse, ctx: RouteContext): Promise<void> | void;
}

export interface HubApiOptions {
  readonly info: HubInfo;
  readonly artifacts: ArtifactStore;
  /** Problems that make the hub unready (empty: ready). */
  readonly problems: () => readonly string[] | Promise<readonly string[]>;
  /** Where the bearer token lives. */
  readonly tokenFile: string;
  /** Require the token for reads even on loopback (for a hub behind a local reverse proxy). */
  readonly tokenForReads?: boolean;
  /** More routes (dashboard, metrics, receivers); matched after the built-in ones. */
  readonly routes?: readonly HttpRoute[];
  /** Serve HTTPS with this certificate (PEM, with its chain) and key; without it, plain HTTP on loopback only. */
  readonly tls?: { readonly cert: Buffer; readonly key: Buffer };
}

export interface HubApi {
  readonly url: string;
  close(): Promise<void>;
}

export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || host === '[::1]' || /^127\./.test(host);
}

/** The API token, made on first use (0600). */
export function apiToken(tokenFile: string): string {
  if (existsSync(tokenFile)) return readFileSync(tokenFile, 'utf8').trim();
  mkdirSync(dirname(tokenFile), { recursive: true });
  const token = randomBytes(24).toString('base64url');
  writeFileSync(tokenFile, `${token}\n`, { mode: 0o600 });
  return token;
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(`${JSON.stringify(body)}\n`);
}

export const TOKEN_COOKIE = 'flotilla-token';

/** A cookie's value, if the request has it. */
export function cookieValue(req: IncomingMessage, name: string): string | undefined {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const [k, ...v] = part.trim().split('=');
    if (k === name) return decodeURIComponent(v.join('='));
  }
  return undefined;
}

/** The token a request carries: the bearer header, else the dashboard's cookie. */
export function requestToken(req: IncomingMessage): string {
  return /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1] ?? cookieValue(req, TOKEN_COOKIE) ?? '';
}

export function tokenMatches(given: string, token: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(token);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** Reads a request body, refusing more than `limit` bytes. */
export async function readBody(req: IncomingMessage, limit = 1 << 20): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const b = chunk as Buffer;
    size += b.length;
    if (size > limit) throw new HttpError(413, `request body over ${limit} bytes`);
    chunks.push(b);
  }
  return Buffer.concat(chunks);
}

/** Thrown by a handler to answer with a status and a JSON error. */
export class HttpError extends Error {
  constructor(readonly status: number, message: string) { super(message); }
}

const UNAUTHORIZED = 'this hub API needs "Authorization: Bearer <token>" (the token is in the hub\'s <data-dir>/api-token; flotilla reads FLOTILLA_HUB_TOKEN)';

function builtinRoutes(opts: HubApiOptions): HttpRoute[] {
  const health: HttpRoute['handle'] = async (_req, res) => {
    const problems = await opts.problems();
    sendJson(res, problems.length === 0 ? 200 : 503, { status: problems.length === 0 ? 'ok' : 'unready', problems });
  };
  return [
    { method: 'GET', path: '/healthz', access: 'public', handle: health },
    { method: 'GET', path: '/readyz', access: 'public', handle: health },
    { method: 'GET', path: '/api/v1/info', access: 'read', handle: (_req, res) => { sendJson(res, 200, opts.info); } },
    {
      method: 'GET', path: /^\/api\/v1\/artifacts\/(.+)$/, access: 'read',
      handle: async (_req, res, { params }) => {
        const digest = decodeURIComponent(params[0] ?? '');
        if (!isDigest(digest)) throw new HttpError(400, `not a digest: ${digest} (want sha256:<64 hex digits>)`);
        const data = await opts.artifacts.get(digest);
        if (!data) throw new HttpError(404, `no artifact ${digest}`);
        res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': data.length });
        res.end(data);
      },
    },
  ];
}

/** A route's path as a matcher: exact, or its pattern anchored to the whole path (compiled once). */
function matcher(path: string | RegExp): (requested: string) => string[] | undefined {
  if (typeof path === 'string') return (requested) => (requested === path ? [] : undefined);
  const anchored = new RegExp(`^(?:${path.source})$`);
  return (requested) => anchored.exec(requested)?.slice(1);
}

export async function startHubApi(listen: string, opts: HubApiOptions): Promise<HubApi> {
  const m = /^(.*):(\d+)$/.exec(listen);
  if (!m?.[1] || m[2] === undefined) throw new Error(`--http must be host:port (or "off"), got "${listen}"`);
  const host = m[1];
  if (!opts.tls && !isLoopback(host)) {
    throw new Error(`refusing to serve the hub API in plain HTTP on ${listen}, not a loopback address: give it TLS (http.tls.mode auto or on), or listen on 127.0.0.1`);
  }
  const readNeedsToken = opts.tokenForReads === true || !isLoopback(host);
  const token = apiToken(opts.tokenFile);
  const routes = [...builtinRoutes(opts), ...(opts.routes ?? [])].map((route) => ({ route, match: matcher(route.path) }));
  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://hub');
    let allowed: string[] = [];
    for (const { route, match } of routes) {
      const params = match(url.pathname);
      if (params === undefined) continue;
      if (route.method !== req.method) { allowed = [...allowed, route.method]; continue; }
      const authorized = tokenMatches(requestToken(req), token);
      const needed = route.access === 'write' || (route.access === 'read' && readNeedsToken);
      if (needed && !authorized) throw new HttpError(401, UNAUTHORIZED);
      await route.handle(req, res, { params, url, authorized: authorized || (route.access === 'read' && !readNeedsToken), readNeedsToken });
      return;
    }
    if (allowed.length > 0) {
      res.setHeader('allow', allowed.join(', '));
      throw new HttpError(405, `${url.pathname} answers ${allowed.join(', ')}`);
    }
    throw new HttpError(404, `no such path ${url.pathname}`);
  };
  const listener = (req: IncomingMessage, res: ServerResponse): void => {
    void handle(req, res).catch((err: unknown) => {
      const status = err instanceof HttpError ? err.status : 500;
      if (res.headersSent) { res.destroy(); return; }
      sendJson(res, status, { error: err instanceof Error ? err.message : String(err) });
    });
  };
  const server: Server = opts.tls ? createTlsServer({ cert: opts.tls.cert, key: opts.tls.key, minVersion: 'TLSv1.2' }, listener) : createServer(listener);
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => {
      reject(new Error(err.code === 'EADDRINUSE'
        ? `cannot serve the hub API on ${listen}: the port is in use (another hub? pass --http <host:port> or --http off)`
        : `cannot serve the hub API on ${listen}: ${err.message}`));
    });
    server.listen(Number(m[2]), host, resolve);
  });
  const port = (server.address() as AddressInfo).port;
  return {
    url: `${opts.tls ? 'https' : 'http'}://${host.includes(':') && !host.startsWith('[') ? `[${host}]` : host}:${port}`,
    close: () => new Promise<void>((resolve) => { server.close(() => { resolve(); }); server.closeAllConnections(); }),
  };
}
