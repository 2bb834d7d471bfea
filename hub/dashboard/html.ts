// HTML building blocks for the dashboard: escaping, the page frame, small components.
// Pages are rendered on the hub as strings; nothing here runs in the browser.
import { ASSET_VERSION } from './assets.js';

/** Escapes text for element content and double-quoted attributes. */
export function esc(text: string | number): string {
  return String(text).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c);
}

/** A URL path under the dashboard, each segment encoded. */
export function uiPath(...segments: readonly string[]): string {
  return `/ui/${segments.map((s) => encodeURIComponent(s)).join('/')}`;
}

/** The dashboard path of a declaration's or cluster's history: /ui/history/kustomization/ns/name. */
export function historyPath(id: string): string {
  return uiPath('history', ...id.split('/'));
}

export function rolloutPath(ownerId: string): string {
  return uiPath('rollout', ...ownerId.split('/'));
}

export interface PageFrame {
  readonly title: string;
  readonly nav: 'overview' | 'rollouts' | 'history' | 'login';
  /** Who is signed in (can act), if anyone. */
  readonly user?: string;
  /** Seconds between live refreshes of #live (none: static page). */
  readonly liveEverySeconds?: number;
  readonly version: string;
}

export function page(frame: PageFrame, body: string): string {
  const link = (href: string, label: string, key: PageFrame['nav']): string =>
    `<a href="${href}"${frame.nav === key ? ' class="current" aria-current="page"' : ''}>${label}</a>`;
  const who = frame.user !== undefined
    ? `<form method="post" action="/ui/logout" class="inline"><span class="muted">signed in as ${esc(frame.user)}</span> <button type="submit" class="link">sign out</button></form>`
    : '<a href="/ui/login">sign in</a>';
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(frame.title)} · Flotilla</title>
<link rel="stylesheet" href="/ui/assets/dashboard.css?v=${ASSET_VERSION}">
<script src="/ui/assets/dashboard.js?v=${ASSET_VERSION}" defer></script>
</head><body${frame.liveEverySeconds !== undefined ? ` data-live="${frame.liveEverySeconds}"` : ''}>
<header><strong>Flotilla</strong><nav>${link('/ui/', 'Fleet', 'overview')}${link('/ui/rollouts', 'Rollouts', 'rollouts')}</nav><span class="who">${who}</span></header>
<main>
${body}
</main>
<footer class="muted">flotilla hub ${esc(frame.version)}</footer>
</body></html>
`;
}

/** A table; cells are HTML already escaped by the caller. */
export function table(header: readonly string[], rows: readonly (readonly string[])[], attrs = ''): string {
  if (rows.length === 0) return '<p class="muted">(none)</p>';
  return `<table${attrs ? ` ${attrs}` : ''}><thead><tr>${header.map((h) => `<th>${esc(h)}</th>`).join('')}</tr></thead><tbody>
${rows.map((r) => `<tr>${r.map((c) => `<td>${c}</td>`).join('')}</tr>`).join('\n')}
</tbody></table>`;
}

export type Tone = 'ok' | 'progress' | 'fail' | 'idle' | 'off';

export function badge(text: string, tone: Tone): string {
  return `<span class="badge ${tone}">${esc(text)}</span>`;
}

/** A countdown the page script ticks every second (the server's value is right at render time). */
export function countdown(untilMs: number, now: number): string {
  const left = Math.max(0, Math.ceil((untilMs - now) / 1000));
  return `<span class="countdown" data-until="${untilMs}" data-now="${now}">${left}s</span>`;
}
