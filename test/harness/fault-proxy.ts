// A fault-injecting proxy in front of one test cluster's kube-apiserver: a real TCP proxy on
// loopback that forwards bytes untouched while no fault is on, and, while one is, answers
// every new connection itself: it terminates TLS with the apiserver's own serving certificate
// and key (deploy/dev/kube-cluster.ts has the apiserver write them to <cluster dir>/pki, so the
// client's CA pinning and hostname check still pass) and answers each request as an overloaded
// or restarting apiserver does: 503 with a Status body, or 429 with Retry-After. Switching a
// fault on cuts the connections being forwarded (a client's pooled keep-alive sockets would
// otherwise go on reaching the real server, and an apiserver that goes away cuts them too);
// fault answers close their connection, so the first request after the fault is forwarded.
import { readFileSync } from 'node:fs';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import type { KubeCluster } from '../../deploy/dev/kube-cluster.js';

export type Fault =
  | { readonly kind: 'unavailable' } // 503 ServiceUnavailable
  | { readonly kind: 'throttled'; readonly retryAfterSeconds: number } // 429 TooManyRequests + Retry-After
  | { readonly kind: 'reset' }; // connections accepted and dropped at once (ECONNRESET / socket hang up)

export interface FaultCounts {
  /** Requests answered 503 / 429 by the proxy itself. */
  unavailable: number;
  throttled: number;
  /** Connections dropped by a 'reset' fault. */
  reset: number;
  /** Connections forwarded to the apiserver. */
  forwarded: number;
}

export class FaultProxy {
  readonly counts: FaultCounts = { unavailable: 0, throttled: 0, reset: 0, forwarded: 0 };
  private fault: Fault | undefined;
  private readonly forwarded = new Set<Socket>();
  private readonly faulted = new Set<Socket>();

  private constructor(
    private readonly cluster: KubeCluster,
    private readonly tcp: Server,
    private readonly tls: HttpsServer,
    /** https://127.0.0.1:<proxy port> */
    readonly server: string,
  ) {}

  static async start(cluster: KubeCluster): Promise<FaultProxy> {
    const pki = join(cluster.dir, 'pki');
    const cert = readFileSync(join(pki, 'apiserver.crt'));
    const key = readFileSync(join(pki, 'apiserver.key'));
    const upstream = new URL(cluster.server);
    const holder: { proxy?: FaultProxy } = {};
    const tls = createHttpsServer({ cert, key }, (req, res) => {
      const proxy = holder.proxy;
      req.resume();
      const fault = proxy?.fault;
      const throttled = fault?.kind === 'throttled';
      if (proxy) proxy.counts[throttled ? 'throttled' : 'unavailable']++;
      const status = throttled
        ? { code: 429, reason: 'TooManyRequests', message: 'Too many requests, please try again later. (fault injected by the test proxy)' }
        : { code: 503, reason: 'ServiceUnavailable', message: 'the server is currently unable to handle the request (fault injected by the test proxy)' };
      res.writeHead(status.code, {
        'content-type': 'application/json',
        connection: 'close',
        ...(throttled ? { 'retry-after': String(fault.retryAfterSeconds) } : {}),
      });
      res.end(JSON.stringify({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', ...status }));
    });
    tls.on('tlsClientError', () => undefined); // a client that gives up mid-handshake
    const tcp = createServer((socket) => {
      const proxy = holder.proxy;
      if (!proxy) {
        socket.destroy();
        return;
      }
      proxy.accept(socket, upstream);
    });
    await new Promise<void>((resolve, reject) => {
      tcp.once('error', reject);
      tcp.listen(0, '127.0.0.1', () => { resolve(); });
    });
    const address = tcp.address();
    if (address === null || typeof address === 'string') throw new Error('fault proxy has no TCP address');
    const proxy = new FaultProxy(cluster, tcp, tls, `https://127.0.0.1:${address.port}`);
    holder.proxy = proxy;
    return proxy;
  }

  /** Switches a fault on (cutting connections being forwarded), or off with undefined. */
  set(fault: Fault | undefined): void {
    const was = this.fault;
    this.fault = fault;
    if (fault && !was) for (const s of this.forwarded) s.destroy();
    if (!fault) for (const s of this.faulted) s.destroy();
  }

  get current(): Fault | undefined {
    return this.fault;
  }

  /** The cluster's admin kubeconfig, with its server changed to this proxy. */
  kubeConfig(): KubeConfig {
    const original = this.cluster.kubeConfig();
    const kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: original.clusters.map((c) => ({ ...c, server: this.server })),
      users: original.users,
      contexts: original.contexts,
      currentContext: original.currentContext,
    });
    return kc;
  }

  async stop(): Promise<void> {
    for (const s of [...this.forwarded, ...this.faulted]) s.destroy();
    await new Promise<void>((resolve) => { this.tcp.close(() => { resolve(); }); });
    this.tls.close();
  }

  private accept(socket: Socket, upstream: URL): void {
    const fault = this.fault;
    socket.on('error', () => undefined);
    if (fault?.kind === 'reset') {
      this.counts.reset++;
      socket.resetAndDestroy();
      return;
    }
    if (fault) {
      this.faulted.add(socket);
      socket.on('close', () => { this.faulted.delete(socket); });
      this.tls.emit('connection', socket);
      return;
    }
    this.counts.forwarded++;
    const server = connect(Number(upstream.port), upstream.hostname);
    server.on('error', () => { socket.destroy(); });
    socket.on('close', () => { server.destroy(); this.forwarded.delete(socket); });
    server.on('close', () => { socket.destroy(); });
    this.forwarded.add(socket);
    socket.pipe(server);
    server.pipe(socket);
  }
}
