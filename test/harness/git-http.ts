// A git repository on disk served over smart HTTP: git's own git-http-backend behind a Node
// HTTP server on loopback. GitHttpServer serves one repository without authentication (the
// head-to-head benchmark: Flux's source-controller accepts only http(s) and ssh URLs, and
// Flotilla's hub fetches the very same URL); gitHttpBackend is the CGI bridge for servers that
// put their own checks in front of it (test/integration/git-source.test.ts: credentials).
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { basename, dirname } from 'node:path';

export const HTTP_BACKEND = '/usr/lib/git-core/git-http-backend';

export class GitHttpServer {
  private constructor(private readonly server: Server, readonly url: string) {}

  /** Serves the repository (working tree or bare) at `repoDir`; `url` is its clone URL. */
  static async start(repoDir: string): Promise<GitHttpServer> {
    if (!existsSync(HTTP_BACKEND)) throw new Error(`${HTTP_BACKEND} is missing: install git (Debian: apt-get install git)`);
    const projectRoot = dirname(repoDir);
    const server = createServer((req, res) => { gitHttpBackend(projectRoot, req, res); });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    return new GitHttpServer(server, `http://127.0.0.1:${port}/${basename(repoDir)}`);
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => { this.server.close(() => { resolve(); }); });
  }
}

/**
 * A CGI bridge to git-http-backend: the smart HTTP protocol (v0/v1/v2), fetch only. `env` adds
 * to (or overrides) the CGI environment, e.g. REMOTE_USER or git's identity variables.
 */
export function gitHttpBackend(projectRoot: string, req: IncomingMessage, res: ServerResponse, env: Readonly<Record<string, string>> = {}): void {
  const url = new URL(req.url ?? '/', 'http://localhost');
  const child = spawn(HTTP_BACKEND, [], {
    env: {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      GIT_PROJECT_ROOT: projectRoot,
      GIT_HTTP_EXPORT_ALL: '1',
      PATH_INFO: url.pathname,
      QUERY_STRING: url.search.slice(1),
      REQUEST_METHOD: req.method ?? 'GET',
      CONTENT_TYPE: req.headers['content-type'] ?? '',
      HTTP_CONTENT_ENCODING: req.headers['content-encoding'] ?? '',
      GIT_PROTOCOL: typeof req.headers['git-protocol'] === 'string' ? req.headers['git-protocol'] : '',
      REMOTE_ADDR: '127.0.0.1',
      ...env,
    },
  });
  req.pipe(child.stdin);
  // CGI: header lines (with "Status:" for the status code), a blank line, then the body.
  let head = Buffer.alloc(0);
  let headersSent = false;
  child.stdout.on('data', (chunk: Buffer) => {
    if (headersSent) {
      res.write(chunk);
      return;
    }
    head = Buffer.concat([head, chunk]);
    const end = head.indexOf('\r\n\r\n');
    if (end < 0) return;
    let status = 200;
    for (const line of head.subarray(0, end).toString('latin1').split('\r\n')) {
      const colon = line.indexOf(':');
      const name = line.slice(0, colon).trim();
      const value = line.slice(colon + 1).trim();
      if (name.toLowerCase() === 'status') status = Number.parseInt(value, 10);
      else res.setHeader(name, value);
    }
    res.writeHead(status);
    headersSent = true;
    res.write(head.subarray(end + 4));
  });
  child.on('error', () => { if (!res.headersSent) res.writeHead(500); res.end(); });
  child.on('close', () => res.end());
}
