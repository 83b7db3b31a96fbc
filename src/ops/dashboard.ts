import type { Context } from 'koa';
import type { ActivityLog } from './activity.js';

/**
 * The development activity page at `/` (never mounted in production): static HTML, one script and
 * one stylesheet from this server (CSP allows nothing else), polling GET /dev/activity. Device ids
 * are written with textContent only: they are device-controlled strings.
 */

export const DASHBOARD_PATHS = { page: '/', script: '/dev/dashboard.js', style: '/dev/dashboard.css', activity: '/dev/activity' } as const;

const PAGE_CSP = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

const HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>assetgate · live activity</title>
<link rel="stylesheet" href="${DASHBOARD_PATHS.style}">
<script src="${DASHBOARD_PATHS.script}" defer></script>
</head>
<body>
<header>
  <h1>assetgate <span class="tag">development</span></h1>
  <p class="sub">Live activity from this server's counters. Device ids only; tokens are never shown. <span id="status">connecting…</span></p>
</header>
<section class="cards">
  <div class="card"><div class="label">Exchanges issued</div><div class="value" id="exchangesIssued">0</div></div>
  <div class="card"><div class="label">Exchanges refused</div><div class="value" id="exchangesFailed">0</div></div>
  <div class="card"><div class="label">Events ingested</div><div class="value" id="ingestEvents">0</div>
    <div class="note"><span id="ingestViaAccessToken">0</span> with access tokens · <span id="ingestViaAssetToken">0</span> with asset tokens</div></div>
  <div class="card"><div class="label">Ingest rate (10 s)</div><div class="value"><span id="ingestPerSecond">0</span>/s</div>
    <svg id="spark" viewBox="0 0 240 40" preserveAspectRatio="none" aria-label="ingest events per second, last 60 s"></svg></div>
</section>
<section class="grid">
  <div>
    <h2>Devices <span class="count" id="deviceCount">0</span></h2>
    <table id="devices"><thead><tr><th>Device</th><th>Exchanges</th><th>Calls</th><th>Events</th><th>Last seen</th></tr></thead><tbody></tbody></table>
  </div>
  <div>
    <h2>Recent activity</h2>
    <table id="recent"><thead><tr><th>Time</th><th>What</th><th>Device</th><th>Outcome</th><th>ms</th></tr></thead><tbody></tbody></table>
    <h2>Refusals by reason</h2>
    <ul id="rejections"><li class="empty">none</li></ul>
  </div>
</section>
</body>
</html>
`;

const CSS = `
:root { --bg:#0f1720; --panel:#16212d; --text:#e6edf3; --muted:#8b9bab; --ok:#3fb950; --bad:#f85149; --accent:#58a6ff; }
* { box-sizing: border-box; }
body { margin:0; padding:24px 32px; background:var(--bg); color:var(--text); font:14px/1.4 system-ui, sans-serif; }
h1 { margin:0; font-size:22px; } h2 { font-size:15px; margin:20px 0 8px; color:var(--muted); font-weight:600; }
.tag { font-size:12px; background:#9e6a03; color:#fff; border-radius:10px; padding:2px 8px; vertical-align:middle; }
.sub { color:var(--muted); margin:6px 0 18px; }
.cards { display:grid; grid-template-columns:repeat(4, minmax(0,1fr)); gap:12px; }
.card { background:var(--panel); border-radius:8px; padding:12px 14px; }
.label { color:var(--muted); font-size:12px; text-transform:uppercase; letter-spacing:.04em; }
.value { font-size:28px; font-weight:650; margin-top:4px; }
.note { color:var(--muted); font-size:12px; }
svg { width:100%; height:40px; margin-top:6px; }
svg polyline { fill:none; stroke:var(--accent); stroke-width:1.5; }
.grid { display:grid; grid-template-columns:1fr 1fr; gap:24px; }
table { width:100%; border-collapse:collapse; background:var(--panel); border-radius:8px; overflow:hidden; }
th, td { text-align:left; padding:5px 10px; border-bottom:1px solid #223040; white-space:nowrap; }
th { color:var(--muted); font-weight:500; font-size:12px; }
td.device { font-family:ui-monospace, monospace; font-size:12px; max-width:260px; overflow:hidden; text-overflow:ellipsis; }
.ok { color:var(--ok); } .bad { color:var(--bad); }
.count { background:#223040; border-radius:10px; padding:1px 8px; font-size:12px; color:var(--text); }
ul { background:var(--panel); border-radius:8px; padding:8px 24px; margin:0; } .empty { color:var(--muted); list-style:none; }
`;

const SCRIPT = `'use strict';
(function () {
  var $ = function (id) { return document.getElementById(id); };
  function text(id, v) { var el = $(id); if (el) el.textContent = String(v); }
  function ago(now, at) { var s = Math.max(0, Math.round((now - at) / 1000)); return s < 60 ? s + ' s ago' : Math.round(s / 60) + ' min ago'; }
  function cell(tr, value, cls) { var td = document.createElement('td'); td.textContent = value === undefined || value === null ? '' : String(value); if (cls) td.className = cls; tr.appendChild(td); return td; }
  function rows(tbody, items, fill) { tbody.replaceChildren(); items.forEach(function (item) { var tr = document.createElement('tr'); fill(tr, item); tbody.appendChild(tr); }); }
  function good(outcome) { return outcome === 'ok' || outcome === 'issued'; }
  function render(data) {
    var t = data.totals;
    Object.keys(t).forEach(function (k) { text(k, t[k]); });
    text('ingestPerSecond', data.ingestPerSecond.toFixed(1));
    text('deviceCount', data.devices.length);
    rows(document.querySelector('#devices tbody'), data.devices, function (tr, d) {
      cell(tr, d.device, 'device'); cell(tr, d.exchanges); cell(tr, d.calls); cell(tr, d.events); cell(tr, ago(data.now, d.lastSeen));
    });
    rows(document.querySelector('#recent tbody'), data.recent.slice(0, 20), function (tr, e) {
      cell(tr, new Date(e.at).toLocaleTimeString()); cell(tr, e.kind + (e.via ? ' (' + e.via.replace('_', ' ') + ')' : ''));
      cell(tr, e.device || '—', 'device'); cell(tr, e.outcome, good(e.outcome) ? 'ok' : 'bad'); cell(tr, e.ms === undefined ? '' : e.ms);
    });
    var ul = $('rejections'); ul.replaceChildren();
    var reasons = Object.keys(data.rejections);
    if (reasons.length === 0) { var li = document.createElement('li'); li.className = 'empty'; li.textContent = 'none'; ul.appendChild(li); }
    reasons.forEach(function (r) { var li = document.createElement('li'); li.textContent = r + ': ' + data.rejections[r]; ul.appendChild(li); });
    var max = Math.max.apply(null, data.ingestSeries.concat([1]));
    var step = 240 / Math.max(1, data.ingestSeries.length - 1);
    var points = data.ingestSeries.map(function (v, i) { return (i * step).toFixed(1) + ',' + (38 - (v / max) * 36).toFixed(1); }).join(' ');
    var svg = $('spark'); svg.replaceChildren();
    var line = document.createElementNS('http://www.w3.org/2000/svg', 'polyline'); line.setAttribute('points', points); svg.appendChild(line);
    text('status', 'updated ' + new Date(data.now).toLocaleTimeString());
    document.body.dataset.updated = String(data.now);
  }
  function poll() {
    fetch('${DASHBOARD_PATHS.activity}', { headers: { accept: 'application/json' }, cache: 'no-store' })
      .then(function (r) { if (!r.ok) throw new Error('HTTP ' + r.status); return r.json(); })
      .then(render)
      .catch(function (err) { text('status', 'server unreachable (' + err.message + ')'); })
      .finally(function () { setTimeout(poll, 1000); });
  }
  poll();
})();
`;

function staticAsset(type: string, body: string, csp?: string) {
  return function dashboardAssetMiddleware(ctx: Context): void {
    ctx.type = type;
    ctx.set('Cache-Control', 'no-cache');
    if (csp) ctx.set('Content-Security-Policy', csp);
    ctx.body = body;
  };
}

export const dashboardPage = staticAsset('text/html; charset=utf-8', HTML, PAGE_CSP);
export const dashboardScript = staticAsset('application/javascript; charset=utf-8', SCRIPT);
export const dashboardStyle = staticAsset('text/css; charset=utf-8', CSS);

/** GET /dev/activity: the page's data (development only). */
export function activityEndpoint(activity: ActivityLog) {
  return function activityEndpointMiddleware(ctx: Context): void {
    ctx.set('Cache-Control', 'no-store');
    ctx.body = activity.snapshot();
  };
}
