// The agent's HTTP server (flotilla-agent --http): /metrics for Prometheus, /healthz (200
// while the process runs) and /readyz (503 with the problems while the agent has no stream
// to the hub). It serves nothing secret and takes no token; bind it to loopback or a pod IP.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { AgentMetrics } from './metrics.js';

export interface AgentHttpOptions {
  readonly metrics: AgentMetrics;
  /** What makes the agent unready now (empty: ready). */
  readonly problems: () => readonly string[];
}

export interface AgentHttp {
  readonly url: string;
  close(): Promise<void>;
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(`${JSON.stringify(body)}\n`);
}

export async function startAgentHttp(listen: string, opts: AgentHttpOptions): Promise<AgentHttp> {
  const m = /^(.*):(\d+)$/.exec(listen);
  if (!m?.[1] || m[2] === undefined) throw new Error(`--http must be host:port or "off", got "${listen}"`);
  const host = m[1];
  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const path = new URL(req.url ?? '/', 'http://agent').pathname;
    if (req.method !== 'GET') { sendJson(res, 405, { error: `${path} answers GET` }); return; }
    if (path === '/metrics') {
      const body = await opts.metrics.metrics();
      res.writeHead(200, { 'content-type': opts.metrics.contentType });
      res.end(body);
    } else if (path === '/healthz') {
      sendJson(res, 200, { status: 'ok', problems: [] });
    } else if (path === '/readyz') {
      const problems = opts.problems();
      sendJson(res, problems.length === 0 ? 200 : 503, { status: problems.length === 0 ? 'ok' : 'unready', problems });
    } else {
      sendJson(res, 404, { error: `no such path ${path} (try /metrics, /healthz, /readyz)` });
    }
  };
  const server = createServer((req, res) => {
    void handle(req, res).catch((err: unknown) => {
      if (res.headersSent) { res.destroy(); return; }
      sendJson(res, 500, { error: err instanceof Error ? err.message : String(err) });
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => {
      reject(new Error(err.code === 'EADDRINUSE' ? `cannot serve on ${listen}: the port is in use` : `cannot serve on ${listen}: ${err.message}`));
    });
    server.listen(Number(m[2]), host, resolve);
  });
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://${host.includes(':') && !host.startsWith('[') ? `[${host}]` : host}:${port}`,
    close: () => new Promise<void>((resolve) => { server.close(() => { resolve(); }); server.closeAllConnections(); }),
  };
}
