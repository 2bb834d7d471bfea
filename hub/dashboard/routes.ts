// The dashboard's routes on the hub's HTTP server (hub/http-api.ts). Pages are rendered on the
// server from a fleet snapshot, a rollout status or a timeline; `?fragment=1` answers only a
// page's live region (what the page script polls).
//
// Access: reading needs the API token when the hub is not on loopback (as a cookie set by
// /ui/login, or a bearer header); operator actions always need it, and must come from the
// dashboard's own origin (a form posted from elsewhere is refused).
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { RolloutStatus } from '../../api/rollout.js';
import { parseDuration } from '../../core/registration.js';
import { NotFoundError, RolloutActionRefused, type DeclarationClient, type RolloutAction } from '../declarations.js';
import type { FleetSnapshot } from '../fleet-view.js';
import { filterEntries } from '../history.js';
import { cookieValue, HttpError, readBody, TOKEN_COOKIE, tokenMatches, type HttpRoute, type RouteContext } from '../http-api.js';
import { DASHBOARD_CSS, DASHBOARD_JS } from './assets.js';
import { esc, page, rolloutPath, type PageFrame } from './html.js';
import { historyBody, historyLive, loginBody, overviewBody, overviewLive, rolloutBody, rolloutLive, rolloutsLive } from './pages.js';

export interface DashboardDeps {
  readonly snapshot: () => Promise<FleetSnapshot>;
  readonly declarations: Pick<DeclarationClient, 'rolloutStatus' | 'rolloutAction' | 'timeline'>;
  /** The hub's API token (sign-in compares against it). */
  readonly token: string;
  readonly version: string;
  readonly namespace: string;
  readonly temporalUi?: string;
  /** Seconds between live refreshes (default 2). */
  readonly liveEverySeconds?: number;
}

const USER_COOKIE = 'flotilla-user';
/** History entries on one page by default (newest first). */
const HISTORY_PAGE = 300;
const ACTIONS: readonly RolloutAction[] = ['approve', 'pause', 'resume', 'abort', 'retry'];

function sendHtml(res: ServerResponse, status: number, html: string): void {
  res.writeHead(status, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store', 'x-content-type-options': 'nosniff', 'x-frame-options': 'DENY' });
  res.end(html);
}

function redirect(res: ServerResponse, location: string, headers: Record<string, string | string[]> = {}): void {
  res.writeHead(303, { location, ...headers });
  res.end();
}

/** Only paths on this dashboard are followed after sign-in. */
function safeNext(next: string | null | undefined): string {
  return next && /^\/ui\/[^/\\]?/.test(next) && !next.startsWith('//') ? next : '/ui/';
}

/** A form posted from another site must not act with the operator's cookie. */
function overTls(req: IncomingMessage): boolean {
  return 'encrypted' in req.socket && req.socket.encrypted === true;
}

function sameOrigin(req: IncomingMessage): boolean {
  const origin = req.headers.origin;
  if (origin === undefined || origin === 'null') return req.headers['sec-fetch-site'] === undefined || req.headers['sec-fetch-site'] === 'same-origin';
  try {
    return new URL(origin).host === req.headers.host;
  } catch {
    return false;
  }
}

export function dashboardRoutes(deps: DashboardDeps): HttpRoute[] {
  const frame = (req: IncomingMessage, ctx: RouteContext, title: string, nav: PageFrame['nav'], live = true): PageFrame => {
    const user = ctx.authorized ? cookieValue(req, USER_COOKIE) ?? 'operator' : undefined;
    return { title, nav, version: deps.version, ...(user !== undefined ? { user } : {}), ...(live ? { liveEverySeconds: deps.liveEverySeconds ?? 2 } : {}) };
  };
  /** Read access, or a redirect to the sign-in page. */
  const readable = (req: IncomingMessage, res: ServerResponse, ctx: RouteContext): boolean => {
    if (ctx.authorized || !ctx.readNeedsToken) return true;
    redirect(res, `/ui/login?next=${encodeURIComponent(ctx.url.pathname + ctx.url.search)}`);
    return false;
  };
  const fragment = (ctx: RouteContext): boolean => ctx.url.searchParams.get('fragment') === '1';
  const ownerOf = (ctx: RouteContext): string => {
    // Encoded by uiPath: a scoped namespace arrives as flux-system%40staging.
    const [kind = '', namespace = '', name = ''] = ctx.params.map(decodeURIComponent);
    return `${kind}/${namespace}/${name}`;
  };
  const asset = (type: string, body: string): HttpRoute['handle'] => (_req, res) => {
    res.writeHead(200, { 'content-type': type, 'cache-control': 'public, max-age=86400' });
    res.end(body);
  };

  const rolloutPage = async (req: IncomingMessage, res: ServerResponse, ctx: RouteContext): Promise<void> => {
    if (!readable(req, res, ctx)) return;
    const owner = ownerOf(ctx);
    const r: RolloutStatus | undefined = await deps.declarations.rolloutStatus(owner);
    if (!r) {
      sendHtml(res, 404, page(frame(req, ctx, owner, 'rollouts', false), `<h1>${esc(owner)}</h1><p>${esc(owner)} has had no rollout (it needs spec.rollout, and a new revision to roll out).</p>`));
      return;
    }
    const noticeText = ctx.url.searchParams.get('notice');
    const notice = noticeText ? { text: noticeText, error: ctx.url.searchParams.get('error') === '1' } : undefined;
    const live = rolloutLive(r, { canAct: ctx.authorized, ...(notice && !fragment(ctx) ? { notice } : {}) }, Date.now());
    if (fragment(ctx)) { sendHtml(res, 200, live); return; }
    sendHtml(res, 200, page(frame(req, ctx, `rollout ${owner}`, 'rollouts'), rolloutBody(r, live)));
  };

  const rolloutAct = async (req: IncomingMessage, res: ServerResponse, ctx: RouteContext): Promise<void> => {
    const owner = ownerOf(ctx);
    if (!sameOrigin(req)) throw new HttpError(403, 'refused: the action was not posted from this dashboard');
    if (!ctx.authorized) { redirect(res, `/ui/login?next=${encodeURIComponent(rolloutPath(owner))}`); return; }
    const form = new URLSearchParams((await readBody(req, 16 << 10)).toString('utf8'));
    const action = form.get('action') ?? '';
    if (!ACTIONS.includes(action as RolloutAction)) throw new HttpError(400, `unknown action "${action}" (want one of ${ACTIONS.join(', ')})`);
    const reason = (form.get('reason') ?? '').trim().slice(0, 500);
    const by = `${(cookieValue(req, USER_COOKIE) ?? 'operator').slice(0, 64)} (dashboard)`;
    let notice: string;
    let error = false;
    try {
      notice = await deps.declarations.rolloutAction(owner, action as RolloutAction, { by, ...(reason ? { reason } : {}) });
    } catch (err) {
      if (!(err instanceof RolloutActionRefused) && !(err instanceof NotFoundError)) throw err;
      notice = `${action} refused: ${err.message}`;
      error = true;
    }
    redirect(res, `${rolloutPath(owner)}?notice=${encodeURIComponent(notice)}${error ? '&error=1' : ''}`);
  };

  const historyPage = async (req: IncomingMessage, res: ServerResponse, ctx: RouteContext): Promise<void> => {
    if (!readable(req, res, ctx)) return;
    const id = (ctx.params[0] ?? '').split('/').map(decodeURIComponent).join('/');
    if (!/^(cluster\/[^/]+|(kustomization|helmrelease|gitrepository|helmrepository)\/[^/]+\/[^/]+)$/.test(id)) {
      throw new HttpError(404, `no history page for "${id}" (want cluster/<name> or <kind>/<namespace>/<name>)`);
    }
    const cluster = ctx.url.searchParams.get('cluster') ?? '';
    const since = ctx.url.searchParams.get('since') ?? '';
    let sinceMs: number | undefined;
    try {
      sinceMs = since ? Date.now() - parseDuration(since) : undefined;
    } catch {
      throw new HttpError(400, `since wants a duration such as 30m, 1h or 2d, got "${since}"`);
    }
    let timeline;
    try {
      timeline = await deps.declarations.timeline(id, sinceMs !== undefined ? { since: sinceMs } : {});
    } catch (err) {
      if (!(err instanceof NotFoundError)) throw err;
      sendHtml(res, 404, page(frame(req, ctx, id, 'history', false), `<h1>${esc(id)}</h1><p>${esc(err.message)}</p>`));
      return;
    }
    const entries = filterEntries(timeline.entries, cluster ? { cluster } : {}, sinceMs);
    const limit = Math.max(1, Number(ctx.url.searchParams.get('limit') ?? '') || HISTORY_PAGE);
    const view = { timeline, entries, namespace: deps.namespace, cluster, since, limit, ...(deps.temporalUi ? { temporalUi: deps.temporalUi } : {}) };
    const live = historyLive(view);
    if (fragment(ctx)) { sendHtml(res, 200, live); return; }
    sendHtml(res, 200, page(frame(req, ctx, `history ${id}`, 'history'), historyBody(view, live)));
  };

  return [
    { method: 'GET', path: '/', access: 'public', handle: (_req, res) => { redirect(res, '/ui/'); } },
    { method: 'GET', path: '/ui', access: 'public', handle: (_req, res) => { redirect(res, '/ui/'); } },
    { method: 'GET', path: '/ui/assets/dashboard.css', access: 'public', handle: asset('text/css; charset=utf-8', DASHBOARD_CSS) },
    { method: 'GET', path: '/ui/assets/dashboard.js', access: 'public', handle: asset('text/javascript; charset=utf-8', DASHBOARD_JS) },
    {
      method: 'GET', path: '/ui/', access: 'public',
      handle: async (req, res, ctx) => {
        if (!readable(req, res, ctx)) return;
        const filter = { cluster: ctx.url.searchParams.get('cluster') ?? '', deployment: ctx.url.searchParams.get('deployment') ?? '' };
        const live = overviewLive(await deps.snapshot(), filter, Date.now());
        if (fragment(ctx)) { sendHtml(res, 200, live); return; }
        sendHtml(res, 200, page(frame(req, ctx, 'Fleet', 'overview'), overviewBody(filter, live)));
      },
    },
    {
      method: 'GET', path: '/ui/rollouts', access: 'public',
      handle: async (req, res, ctx) => {
        if (!readable(req, res, ctx)) return;
        const live = rolloutsLive(await deps.snapshot(), Date.now());
        if (fragment(ctx)) { sendHtml(res, 200, live); return; }
        sendHtml(res, 200, page(frame(req, ctx, 'Rollouts', 'rollouts'), `<h1>Rollouts</h1><div id="live">${live}</div>`));
      },
    },
    { method: 'GET', path: /\/ui\/rollout\/(kustomization|helmrelease)\/([^/]+)\/([^/]+)/, access: 'public', handle: rolloutPage },
    { method: 'POST', path: /\/ui\/rollout\/(kustomization|helmrelease)\/([^/]+)\/([^/]+)/, access: 'public', handle: rolloutAct },
    { method: 'GET', path: /\/ui\/history\/(.+)/, access: 'public', handle: historyPage },
    {
      method: 'GET', path: '/ui/login', access: 'public',
      handle: (req, res, ctx) => { sendHtml(res, 200, page(frame(req, ctx, 'Sign in', 'login', false), loginBody(safeNext(ctx.url.searchParams.get('next'))))); },
    },
    {
      method: 'POST', path: '/ui/login', access: 'public',
      handle: async (req, res, ctx) => {
        if (!sameOrigin(req)) throw new HttpError(403, 'refused: sign in from this dashboard\'s own page');
        const form = new URLSearchParams((await readBody(req, 16 << 10)).toString('utf8'));
        const next = safeNext(form.get('next'));
        const user = (form.get('user') ?? '').trim().replace(/[^\w .@-]/g, '').slice(0, 64);
        const given = (form.get('token') ?? '').trim();
        if (!tokenMatches(given, deps.token) || user === '') {
          sendHtml(res, 401, page(frame(req, ctx, 'Sign in', 'login', false), loginBody(next, user === '' ? 'Give your name.' : 'That is not this hub\'s token.')));
          return;
        }
        // Secure over TLS: the browser then never sends the token back in plain HTTP.
        const attrs = `Path=/; HttpOnly; SameSite=Strict${overTls(req) ? '; Secure' : ''}`;
        redirect(res, next, { 'set-cookie': [`${TOKEN_COOKIE}=${encodeURIComponent(given)}; ${attrs}`, `${USER_COOKIE}=${encodeURIComponent(user)}; ${attrs}`] });
      },
    },
    {
      method: 'POST', path: '/ui/logout', access: 'public',
      handle: (req, res) => {
        if (!sameOrigin(req)) throw new HttpError(403, 'refused: sign out from this dashboard\'s own page');
        const gone = `Path=/; HttpOnly; SameSite=Strict; Max-Age=0${overTls(req) ? '; Secure' : ''}`;
        redirect(res, '/ui/', { 'set-cookie': [`${TOKEN_COOKIE}=; ${gone}`, `${USER_COOKIE}=; ${gone}`] });
      },
    },
  ];
}
