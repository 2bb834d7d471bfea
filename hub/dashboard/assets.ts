// The dashboard's stylesheet and its one small script, served by the hub as they are: no
// framework and no build step. The script only makes pages live (it re-fetches the page's
// #live region and swaps it in) and ticks bake countdowns; every page and every action works
// without it.
import { createHash } from 'node:crypto';

export const DASHBOARD_CSS = `
:root { --ok:#1a7f37; --progress:#9a6700; --fail:#cf222e; --idle:#6e7781; --bg:#fff; --fg:#1f2328; --line:#d0d7de; --soft:#f6f8fa; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--fg); background: var(--bg); }
header { display: flex; gap: 24px; align-items: center; padding: 10px 20px; border-bottom: 1px solid var(--line); background: var(--soft); }
header nav a { margin-right: 14px; color: var(--fg); text-decoration: none; }
header nav a.current { font-weight: 600; border-bottom: 2px solid var(--fg); }
header .who { margin-left: auto; }
main { padding: 16px 20px; }
footer { padding: 8px 20px; font-size: 12px; }
h1 { font-size: 20px; margin: 4px 0 12px; } h2 { font-size: 16px; margin: 22px 0 8px; }
table { border-collapse: collapse; } th, td { text-align: left; padding: 3px 8px; border-bottom: 1px solid var(--line); vertical-align: top; }
th { background: var(--soft); font-weight: 600; }
.muted { color: var(--idle); } .mono, td.rev { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: 12px; }
.badge { display: inline-block; padding: 0 6px; border-radius: 9px; font-size: 12px; border: 1px solid currentColor; white-space: nowrap; }
.ok { color: var(--ok); } .progress { color: var(--progress); } .fail { color: var(--fail); } .idle, .off { color: var(--idle); }
.grid-wrap { overflow: auto; max-height: 75vh; border: 1px solid var(--line); }
table.grid { font-size: 11px; table-layout: fixed; } table.grid td, table.grid th { padding: 0; border: 1px solid #eaeef2; overflow: hidden; }
table.grid col.d { width: 260px; } table.grid col.r { width: 80px; } table.grid col.n { width: 48px; } table.grid col.c { width: 18px; }
table.grid th.c { writing-mode: vertical-rl; font-weight: 500; height: 96px; white-space: nowrap; }
table.grid th.d, table.grid td.rev { padding: 0 4px; white-space: nowrap; text-overflow: ellipsis; }
table.grid td { text-align: center; height: 18px; font-family: ui-monospace, monospace; }
/* Merged cells (colspan) keep the column lines. */
table.grid td.k, table.grid td.o { background-image: linear-gradient(to right, transparent 17px, #eaeef2 17px); background-size: 18px 100%; }
.k { background-color: #dafbe1; } .p { background: #fff8c5; } td.f, i.f { background: #ffebe9; color: var(--fail); font-weight: 600; }
.i { background: #eaeef2; } .o { background: var(--bg); }
.legend span { margin-right: 12px; } .legend i { display: inline-block; width: 12px; height: 12px; vertical-align: middle; margin-right: 4px; border: 1px solid var(--line); }
form.inline { display: inline; } button { font: inherit; padding: 3px 10px; cursor: pointer; } button.link { border: 0; background: none; color: #0969da; padding: 0; }
.actions { margin: 12px 0; padding: 10px; border: 1px solid var(--line); background: var(--soft); } .actions input[type=text] { width: 260px; }
.notice { padding: 8px 12px; border: 1px solid var(--line); background: #ddf4ff; margin: 8px 0; } .notice.error { background: #ffebe9; }
.filters input { width: 160px; } .waves { display: flex; gap: 10px; flex-wrap: wrap; }
.wave { border: 1px solid var(--line); padding: 8px 10px; min-width: 180px; } .wave.current { border-color: var(--fg); }
`;

export const DASHBOARD_JS = `
(function () {
  'use strict';
  function tick() {
    var now = Date.now();
    document.querySelectorAll('.countdown').forEach(function (el) {
      var skew = Number(el.getAttribute('data-now-local') || 0);
      if (!skew) { skew = now - Number(el.getAttribute('data-now')); el.setAttribute('data-now-local', String(skew)); }
      var left = Math.max(0, Math.ceil((Number(el.getAttribute('data-until')) + skew - now) / 1000));
      el.textContent = left + 's';
    });
  }
  function refresh() {
    var live = document.getElementById('live');
    if (!live || document.hidden) return;
    var url = new URL(window.location.href);
    url.searchParams.set('fragment', '1');
    fetch(url.toString(), { credentials: 'same-origin', headers: { 'accept': 'text/html' } })
      .then(function (r) { if (!r.ok) throw new Error(String(r.status)); return r.text(); })
      .then(function (html) { live.innerHTML = html; live.removeAttribute('data-stale'); tick(); })
      .catch(function () { live.setAttribute('data-stale', 'true'); });
  }
  document.addEventListener('DOMContentLoaded', function () {
    var every = Number(document.body.getAttribute('data-live') || 0);
    if (every > 0) setInterval(refresh, every * 1000);
    setInterval(tick, 1000);
  });
})();
`;

/** Changes when the assets change, so browsers never keep a stale copy (they are cached for a day). */
export const ASSET_VERSION = createHash('sha256').update(DASHBOARD_CSS).update(DASHBOARD_JS).digest('hex').slice(0, 12);
