// Flux's Receivers on the hub's HTTP server: `POST /hook/<sha256>` (public: the request proves
// itself with the path and, for generic-hmac and github, a signature) asks the Receiver's
// resources to reconcile now, and `GET /api/v1/receivers` (read) lists each Receiver's path
// for `flotilla get receivers`. Receivers come from the notifications workflow (cached ~2 s,
// one query at a time however many requests arrive); tokens from the Secrets declared to the
// hub. Answers: 200 accepted (some resource asked to reconcile) or {"status":"ping"} (GitHub's
// ping), 401 for a bad signature (the reason never shows the token), 400 for a request the
// Receiver refuses, 404 for an unknown path or a Receiver none of whose resources exist.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ReceiverDeclaration } from '../core/declarations/types.js';
import type { LogFn } from '../core/log.js';
import { verifyReceiverRequest, webhookPath } from '../core/notifications/receivers.js';
import type { DataObjectStore } from './data-objects.js';
import { NotFoundError, type DeclarationClient } from './declarations.js';
import { HttpError, readBody, sendJson, type HttpRoute } from './http-api.js';
import type { NotificationMetrics } from './notification-metrics.js';

/** A Receiver as `GET /api/v1/receivers` and `flotilla get receivers` show it. */
export interface ReceiverEndpoint {
  /** `receiver/<ns>/<name>` */
  readonly id: string;
  readonly type: ReceiverDeclaration['spec']['type'];
  /** `/hook/<sha256>`; absent when the token is missing (see problem). */
  readonly path?: string;
  readonly problem?: string;
  /** The ids of what it reconciles (`gitrepository/<ns>/<name>`). */
  readonly resources: readonly string[];
  readonly suspended: boolean;
}

/** Request bodies over this are refused (413). */
const BODY_LIMIT = 1 << 20;

/** Each Receiver's path, from the `token` key of its Secret. */
export async function receiverEndpoints(
  receivers: readonly ReceiverDeclaration[], secret: (namespace: string, name: string) => Promise<Readonly<Record<string, string>> | undefined>,
): Promise<ReceiverEndpoint[]> {
  return Promise.all(receivers.map(async (r) => {
    const base = {
      id: `receiver/${r.namespace}/${r.name}`, type: r.spec.type, suspended: r.spec.suspend,
      resources: r.spec.resources.map(resourceId),
    };
    const data = await secret(r.namespace, r.spec.secretRef.name);
    if (data === undefined) return { ...base, problem: `Secret ${r.namespace}/${r.spec.secretRef.name} not found (apply it to the hub)` };
    const token = data.token;
    if (token === undefined || token === '') return { ...base, problem: `Secret ${r.namespace}/${r.spec.secretRef.name} has no token key` };
    return { ...base, path: webhookPath(r, token) };
  }));
}

export function resourceId(r: ReceiverDeclaration['spec']['resources'][number]): string {
  return `${r.kind.toLowerCase()}/${r.namespace}/${r.name}`;
}

export interface ReceiverRoutesOptions {
  readonly declarations: Pick<DeclarationClient, 'notifications' | 'requestReconcile'>;
  readonly data: Pick<DataObjectStore, 'get'>;
  readonly metrics?: NotificationMetrics;
  readonly log?: LogFn;
  /** How long the Receivers read from the workflow are reused (default 2 s). */
  readonly cacheMs?: number;
}

interface Known {
  readonly receiver: ReceiverDeclaration;
  readonly token: string;
  readonly endpoint: ReceiverEndpoint;
}

/** The Receivers and their paths, read at most once per cacheMs. */
class ReceiverDirectory {
  private cached: { at: number; known: Known[] } | undefined;
  private loading: Promise<Known[]> | undefined;

  constructor(private readonly opts: ReceiverRoutesOptions) {}

  async all(): Promise<Known[]> {
    const cacheMs = this.opts.cacheMs ?? 2_000;
    if (this.cached && Date.now() - this.cached.at < cacheMs) return this.cached.known;
    this.loading ??= this.load().finally(() => { this.loading = undefined; });
    return this.loading;
  }

  private async load(): Promise<Known[]> {
    const receivers = (await this.opts.declarations.notifications()).receivers.map((r) => r.declaration);
    const secrets = new Map<string, Readonly<Record<string, string>> | undefined>();
    const secret = async (ns: string, name: string): Promise<Readonly<Record<string, string>> | undefined> => {
      const key = `${ns}/${name}`;
      if (!secrets.has(key)) secrets.set(key, await this.opts.data.get('Secret', ns, name));
      return secrets.get(key);
    };
    const endpoints = await receiverEndpoints(receivers, secret);
    const known: Known[] = [];
    for (const [i, receiver] of receivers.entries()) {
      const endpoint = endpoints[i];
      const token = (await secret(receiver.namespace, receiver.spec.secretRef.name))?.token;
      if (endpoint !== undefined && token !== undefined) known.push({ receiver, token, endpoint });
    }
    this.cached = { at: Date.now(), known };
    return known;
  }
}

export function receiverRoutes(opts: ReceiverRoutesOptions): HttpRoute[] {
  const directory = new ReceiverDirectory(opts);
  const count = (receiver: string, result: Parameters<NotificationMetrics['receiverRequest']>[1]): void => {
    opts.metrics?.receiverRequest(receiver, result);
  };

  const hook = async (req: IncomingMessage, res: ServerResponse, path: string): Promise<void> => {
    // The body first: signatures are over its exact bytes, and a request is read whole either way.
    const body = await readBody(req, BODY_LIMIT);
    const found = (await directory.all()).find((k) => k.endpoint.path === path);
    if (found === undefined) {
      count('unknown', 'not_found');
      throw new HttpError(404, 'no Receiver listens on this path');
    }
    const { receiver, token } = found;
    const name = `${receiver.namespace}/${receiver.name}`;
    const verdict = verifyReceiverRequest(receiver, token, req.headers, body);
    if (!verdict.ok) {
      count(name, verdict.status === 401 ? 'bad_signature' : 'rejected');
      opts.log?.('receiver request refused', { receiver: name, status: verdict.status, reason: verdict.reason }, 'warn');
      throw new HttpError(verdict.status, `Receiver ${name}: ${verdict.reason}`);
    }
    if (!verdict.reconcile) {
      count(name, 'ping');
      sendJson(res, 200, { status: 'ping', receiver: name, message: verdict.reason });
      return;
    }
    const requestedAt = new Date().toISOString();
    const triggered: string[] = [];
    const missing: string[] = [];
    await Promise.all(receiver.spec.resources.map(async (r) => {
      const id = resourceId(r);
      try {
        await opts.declarations.requestReconcile(id, requestedAt);
        triggered.push(id);
      } catch (err) {
        if (!(err instanceof NotFoundError)) throw err;
        missing.push(id);
      }
    }));
    triggered.sort();
    missing.sort();
    const event = verdict.event === undefined ? {} : { event: verdict.event };
    if (triggered.length === 0) {
      count(name, 'rejected');
      opts.log?.('receiver request: none of its resources exist', { receiver: name, missing }, 'warn');
      sendJson(res, 404, { status: 'rejected', receiver: name, ...event, triggered, missing, error: `none of the resources of Receiver ${name} exist: ${missing.join(', ')}` });
      return;
    }
    count(name, 'accepted');
    opts.log?.('receiver request accepted', { receiver: name, ...event, triggered, missing });
    sendJson(res, 200, { status: 'accepted', receiver: name, ...event, triggered, missing });
  };

  return [
    {
      method: 'POST', path: /\/hook\/([^/]*)/, access: 'public',
      handle: (req, res, { params }) => hook(req, res, `/hook/${params[0] ?? ''}`),
    },
    {
      method: 'GET', path: '/api/v1/receivers', access: 'read',
      handle: async (_req, res) => {
        const receivers = (await opts.declarations.notifications()).receivers.map((r) => r.declaration);
        sendJson(res, 200, await receiverEndpoints(receivers, (ns, name) => opts.data.get('Secret', ns, name)));
      },
    },
  ];
}
