// The hub's small HTTP API, for the `flotilla` command and probes: health, how to reach the
// hub's Temporal (so `flotilla --hub <url>` is all a user needs), and read access to built
// artifacts (`flotilla trace` looks up which build holds an object). Loopback by default;
// bound anywhere else, every /api/ call needs the bearer token in <data-dir>/api-token.
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname } from 'node:path';
import { isDigest } from '../core/digest.js';
import type { ArtifactStore } from './artifact-store.js';

/** What `GET /api/v1/info` answers. */
export interface HubInfo {
  readonly version: string;
  readonly temporal: { readonly address: string; readonly namespace: string; readonly taskQueue: string; readonly uiUrl?: string };
  /** The agent gateway (gRPC over TLS). */
  readonly grpc: string;
}

export interface HubApiOptions {
  readonly info: HubInfo;
  readonly artifacts: ArtifactStore;
  /** Problems that make the hub unready (empty: ready). */
  readonly problems: () => readonly string[];
  /** Where the bearer token lives when the API is not on loopback. */
  readonly tokenFile: string;
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

function send(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(`${JSON.stringify(body)}\n`);
}

function authorized(req: IncomingMessage, token: string | undefined): boolean {
  if (token === undefined) return true;
  const given = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1] ?? '';
  const a = Buffer.from(given);
  const b = Buffer.from(token);
  return a.length === b.length && timingSafeEqual(a, b);
}

export async function startHubApi(listen: string, opts: HubApiOptions): Promise<HubApi> {
  const m = /^(.*):(\d+)$/.exec(listen);
  if (!m?.[1] || m[2] === undefined) throw new Error(`--http must be host:port (or "off"), got "${listen}"`);
  const host = m[1];
  const token = isLoopback(host) ? undefined : apiToken(opts.tokenFile);
  const server: Server = createServer((req, res) => {
    void handle(req, res).catch((err: unknown) => { send(res, 500, { error: err instanceof Error ? err.message : String(err) }); });
  });
  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const path = new URL(req.url ?? '/', 'http://hub').pathname;
    if (req.method !== 'GET') { send(res, 405, { error: 'only GET is served' }); return; }
    if (path === '/healthz' || path === '/readyz') {
      const problems = opts.problems();
      send(res, problems.length === 0 ? 200 : 503, { status: problems.length === 0 ? 'ok' : 'unready', problems });
      return;
    }
    if (!path.startsWith('/api/')) { send(res, 404, { error: `no such path ${path}` }); return; }
    if (!authorized(req, token)) { send(res, 401, { error: 'this hub API needs "Authorization: Bearer <token>" (the token is in the hub\'s <data-dir>/api-token; flotilla reads FLOTILLA_HUB_TOKEN)' }); return; }
    if (path === '/api/v1/info') { send(res, 200, opts.info); return; }
    const artifact = /^\/api\/v1\/artifacts\/(.+)$/.exec(path)?.[1];
    if (artifact !== undefined) {
      const digest = decodeURIComponent(artifact);
      if (!isDigest(digest)) { send(res, 400, { error: `not a digest: ${digest} (want sha256:<64 hex digits>)` }); return; }
      const data = await opts.artifacts.get(digest);
      if (!data) { send(res, 404, { error: `no artifact ${digest}` }); return; }
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': data.length });
      res.end(data);
      return;
    }
    send(res, 404, { error: `no such path ${path}` });
  };
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
    url: `http://${host.includes(':') && !host.startsWith('[') ? `[${host}]` : host}:${port}`,
    close: () => new Promise<void>((resolve) => { server.close(() => { resolve(); }); server.closeAllConnections(); }),
  };
}
