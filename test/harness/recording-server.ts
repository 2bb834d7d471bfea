// A local HTTP server (127.0.0.1, a free port) that records every request and answers as its
// `respond` function says (default 200): the far end of notification providers in tests.
import assert from 'node:assert/strict';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface RecordedRequest {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
  /** The status answered; undefined when the server left the request hanging. */
  readonly status?: number;
}

export type Responder = (req: RecordedRequest) => { status: number; body?: string } | 'hang';

export class RecordingServer {
  readonly received: RecordedRequest[] = [];
  private readonly server: Server;

  constructor(public respond: Responder = () => ({ status: 200 })) {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const r: RecordedRequest = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8') };
        const answer = this.respond(r);
        this.received.push(answer === 'hang' ? r : { ...r, status: answer.status });
        if (answer === 'hang') return;
        res.writeHead(answer.status, { 'content-type': 'application/json' }).end(answer.body ?? '');
      });
    });
  }

  async start(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
  }

  get origin(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  last(): RecordedRequest {
    const r = this.received.at(-1);
    assert.ok(r, 'the server received a request');
    return r;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => { resolve(); }));
  }
}
