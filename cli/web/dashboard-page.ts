/**
 * The campaign dashboard page: HTML, CSS and plain JavaScript as strings (no
 * build step). Recipients and diagnostics come from the mail system, so the
 * script builds the page with `textContent` only; the chart is SVG built with
 * DOM calls. The layout folds to one column on a phone.
 */
import { pageHead } from './http';

export const DASHBOARD_HTML = `${pageHead('tclmail campaign', '/dashboard.css', '/dashboard.js')}<body>
<header class="bar">
  <h1 id="campaign">campaign</h1>
  <span id="live" class="live">connecting</span>
</header>
<main>
  <section class="card wide" aria-label="Progress">
    <div class="progress" role="progressbar" aria-valuemin="0" aria-valuemax="100" id="bar"><div id="fill"></div></div>
    <p id="summary" class="summary"></p>
    <div id="states" class="states"></div>
  </section>
  <section class="card wide" aria-label="Rate">
    <h2>Messages per second</h2>
    <div id="chart" class="chart"></div>
  </section>
  <section class="card wide" aria-label="Reply codes">
    <h2>Outcomes by reply code</h2>
    <table id="codes"></table>
  </section>
  <section class="card wide" aria-label="Domains">
    <h2>By recipient domain</h2>
    <table id="domains"></table>
  </section>
  <section class="card wide" aria-label="Uncertain" id="uncertain-card">
    <h2>Uncertain <span id="uncertain-count" class="pill"></span></h2>
    <p class="hint">These were being sent when a run or worker stopped: the end of data went out, no reply was recorded, so the server may have delivered them. They are never sent again on their own. Check the receiving server's log (or a mailbox) for them; then either leave them, or send them again with <code>tclmail bulk --resend-uncertain</code> (a recipient may get the message twice).</p>
    <div class="actions" id="uncertain-actions"></div>
    <table id="uncertain"></table>
  </section>
  <section class="card wide" aria-label="Refused, failed and bounced">
    <h2>Refused, failed and bounced <span id="problems-count" class="pill"></span></h2>
    <table id="problems"></table>
  </section>
  <section class="card wide" id="control" hidden aria-label="Control">
    <h2>Control</h2>
    <div class="actions" id="run-actions"></div>
  </section>
  <p id="notice" class="notice" role="status"></p>
</main>
</body>
</html>
`;

export const DASHBOARD_CSS = String.raw`
:root { --fg: #1d2330; --muted: #5b6475; --line: #dfe3ea; --bg: #f6f7f9; --accent: #2457c5; --good: #1e7b34; --bad: #b3261e; --warn: #a15c00; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg); background: var(--bg); }
.bar { display: flex; gap: 12px; align-items: baseline; justify-content: space-between; padding: 10px 16px; background: #fff; border-bottom: 1px solid var(--line); }
.bar h1 { margin: 0; font-size: 17px; overflow-wrap: anywhere; }
.live { font-size: 12px; color: var(--muted); }
.live.on { color: var(--good); }
main { display: grid; grid-template-columns: repeat(2, minmax(0, 1fr)); gap: 12px; padding: 12px; max-width: 1200px; margin: 0 auto; }
.card { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 12px 14px; min-width: 0; }
.card.wide { grid-column: 1 / -1; }
.card h2 { margin: 0 0 8px; font-size: 14px; }
.progress { height: 14px; background: var(--line); border-radius: 7px; overflow: hidden; }
#fill { height: 100%; width: 0; background: var(--accent); transition: width .4s; }
.summary { margin: 8px 0; font-variant-numeric: tabular-nums; }
.states { display: grid; grid-template-columns: repeat(auto-fill, minmax(92px, 1fr)); gap: 6px; }
.state { border: 1px solid var(--line); border-radius: 6px; padding: 4px 8px; }
.state b { display: block; font-size: 18px; font-variant-numeric: tabular-nums; }
.state span { color: var(--muted); font-size: 12px; }
.state.sent b { color: var(--good); }
.state.refused b, .state.failed b, .state.bounced b { color: var(--bad); }
.state.uncertain b, .state.deferred b { color: var(--warn); }
.chart svg { width: 100%; height: 140px; display: block; }
.chart .axis { stroke: var(--line); }
.chart .line { fill: none; stroke: var(--accent); stroke-width: 2; stroke-linecap: round; vector-effect: non-scaling-stroke; }
.chart text { font-size: 11px; fill: var(--muted); }
table { width: 100%; border-collapse: collapse; font-variant-numeric: tabular-nums; font-size: 13px; }
th, td { text-align: left; padding: 3px 6px; border-bottom: 1px solid var(--line); vertical-align: top; overflow-wrap: break-word; }
th { color: var(--muted); font-weight: 500; white-space: nowrap; }
td.n, th.n { text-align: right; white-space: nowrap; }
.card { overflow-x: auto; }
.pill { display: inline-block; min-width: 20px; padding: 0 6px; border-radius: 10px; background: var(--line); font-size: 12px; text-align: center; }
.hint { color: var(--muted); margin: 0 0 8px; }
.actions { display: flex; gap: 8px; flex-wrap: wrap; margin-bottom: 8px; }
.actions button { font: inherit; padding: 5px 12px; border-radius: 6px; border: 1px solid var(--line); background: #fff; cursor: pointer; }
.notice { grid-column: 1 / -1; color: var(--muted); margin: 0; }
.empty { color: var(--muted); }
tr.sum td { color: var(--muted); }
tr[data-kind="all"] td { border-top: 2px solid var(--line); color: var(--fg); font-weight: 600; }
@media (max-width: 700px) {
  main { grid-template-columns: 1fr; padding: 8px; gap: 8px; }
  .card { padding: 10px; }
  th, td { padding: 3px 4px; }
}
`;

export const DASHBOARD_JS = String.raw`'use strict';
(function () {
  var token = new URLSearchParams(location.search).get('token');
  var STATES = ['pending', 'sending', 'deferred', 'sent', 'refused', 'failed', 'uncertain', 'invalid', 'suppressed', 'bounced'];
  var SVG = 'http://www.w3.org/2000/svg';
  function $(id) { return document.getElementById(id); }
  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }
  function svg(tag, attrs) {
    var node = document.createElementNS(SVG, tag);
    Object.keys(attrs).forEach(function (k) { node.setAttribute(k, String(attrs[k])); });
    return node;
  }
  function duration(s) {
    if (s === null || s === undefined) return '\u2013';
    if (s < 60) return s + ' s';
    if (s < 3600) return Math.floor(s / 60) + ' min ' + (s % 60) + ' s';
    return Math.floor(s / 3600) + ' h ' + Math.floor((s % 3600) / 60) + ' min';
  }
  function table(node, head, rows, numeric) {
    var tr = el('tr');
    head.forEach(function (h, i) { var th = el('th', numeric[i] || '', h); tr.append(th); });
    var body = [tr];
    rows.forEach(function (r) {
      var row = el('tr');
      r.forEach(function (v, i) { row.append(el('td', numeric[i] || '', v === undefined || v === null ? '' : v)); });
      body.push(row);
    });
    if (!rows.length) { var empty = el('tr'); var td = el('td', 'empty', 'none'); td.colSpan = head.length; empty.append(td); body.push(empty); }
    node.replaceChildren.apply(node, body);
  }

  // The server gives the rate over each real interval, in runs; each run is one line (no line bridges a resend or a gap).
  function chart(runs) {
    var box = $('chart');
    // Drawn at the box's own width: a stretched viewBox would stretch the labels too.
    var W = Math.max(240, box.clientWidth || 600), H = 120, L = 34;
    var all = [];
    runs.forEach(function (run) { all = all.concat(run); });
    var root = svg('svg', { viewBox: '0 0 ' + W + ' ' + (H + 16), role: 'img', 'aria-label': 'messages per second over time' });
    root.append(svg('line', { x1: L, y1: H, x2: W, y2: H, class: 'axis' }), svg('line', { x1: L, y1: 0, x2: L, y2: H, class: 'axis' }));
    if (all.length < 2) {
      var wait = svg('text', { x: L + 8, y: H / 2 });
      wait.textContent = 'gathering samples\u2026';
      root.append(wait);
      box.replaceChildren(root);
      return;
    }
    var max = 1, t0 = all[0][0], t1 = all[0][0];
    all.forEach(function (r) { if (r[1] > max) max = r[1]; if (r[0] < t0) t0 = r[0]; if (r[0] > t1) t1 = r[0]; });
    runs.forEach(function (run) {
      var points = run.map(function (r) {
        var x = L + (t1 > t0 ? (r[0] - t0) / (t1 - t0) : 1) * (W - L);
        var y = H - (r[1] / max) * (H - 4);
        return x.toFixed(1) + ',' + y.toFixed(1);
      }).join(' ');
      // A run of one interval is a point: drawn as a line of zero length, which the round cap shows.
      if (run.length === 1) points += ' ' + points;
      root.append(svg('polyline', { points: points, class: 'line' }));
    });
    var top = svg('text', { x: 2, y: 10, class: 'max' });
    top.textContent = max < 10 ? max.toFixed(1) : String(Math.round(max));
    var zero = svg('text', { x: 2, y: H });
    zero.textContent = '0';
    var span = svg('text', { x: W - 2, y: H + 14, 'text-anchor': 'end' });
    span.textContent = 'last ' + duration(Math.round((t1 - t0) / 1000));
    root.append(top, zero, span);
    box.replaceChildren(root);
  }

  function post(name) {
    return fetch('/api/actions/' + name, {
      method: 'POST',
      headers: Object.assign({ 'Content-Type': 'application/json' }, token ? { Authorization: 'Bearer ' + token } : {}),
      body: '{}'
    }).then(function (r) { return r.json(); }).then(function (body) { $('notice').textContent = body.notice || body.error || ''; });
  }
  function button(name, label, confirmText) {
    var b = el('button', null, label);
    b.type = 'button';
    b.dataset.action = name;
    b.addEventListener('click', function () {
      if (confirmText && !window.confirm(confirmText)) return;
      b.disabled = true;
      post(name).then(function () { b.disabled = false; }, function (e) { b.disabled = false; $('notice').textContent = e.message; });
    });
    return b;
  }
  var actionsShown = '';
  function actions(list) {
    var key = list.join(',');
    if (key === actionsShown) return;
    actionsShown = key;
    var u = $('uncertain-actions'), r = $('run-actions');
    u.replaceChildren();
    r.replaceChildren();
    if (list.indexOf('resendUncertain') >= 0) u.append(button('resendUncertain', 'Resend uncertain', 'Send every uncertain item again? A recipient may get the message twice.'));
    if (list.indexOf('pause') >= 0) r.append(button('pause', 'Pause'));
    if (list.indexOf('resume') >= 0) r.append(button('resume', 'Resume'));
    $('control').hidden = r.childNodes.length === 0;
  }

  // Every item is in one column: waiting (pending, sending, deferred), the outcomes, and skipped (invalid, suppressed).
  function domainCells(name, d) {
    var st = d.states;
    return [name, d.total, (st.pending || 0) + (st.sending || 0) + (st.deferred || 0), st.sent || 0, st.refused || 0, st.failed || 0,
      st.bounced || 0, st.uncertain || 0, (st.invalid || 0) + (st.suppressed || 0)];
  }
  function domains(s) {
    var rows = s.byDomain.map(function (d) { return domainCells(d.domain, d); });
    var kinds = s.byDomain.map(function () { return 'domain'; });
    var all = { total: 0, states: {} };
    function add(d) {
      all.total += d.total;
      Object.keys(d.states).forEach(function (k) { all.states[k] = (all.states[k] || 0) + d.states[k]; });
    }
    s.byDomain.forEach(add);
    if (s.otherDomains) {
      var o = s.otherDomains;
      rows.push(domainCells('other ' + o.domains + (o.atLeast ? '+' : '') + ' domain' + (o.domains === 1 && !o.atLeast ? '' : 's'), o));
      kinds.push('other');
      add(o);
    }
    if (s.unreachedItems > 0) {
      var u = { total: s.unreachedItems, states: { pending: s.unreachedItems } };
      rows.push(domainCells('not reached yet (domain not known)', u));
      kinds.push('unreached');
      add(u);
    }
    if (rows.length > 1) { rows.push(domainCells('all', all)); kinds.push('all'); }
    var node = $('domains');
    table(node, ['domain', 'items', 'waiting', 'sent', 'refused', 'failed', 'bounced', 'uncertain', 'skipped'], rows, ['', 'n', 'n', 'n', 'n', 'n', 'n', 'n', 'n']);
    kinds.forEach(function (kind, i) { var tr = node.children[i + 1]; tr.dataset.kind = kind; if (kind !== 'domain') tr.className = 'sum'; });
  }

  function render(s) {
    document.title = s.campaign + ' \u2013 tclmail campaign';
    $('campaign').textContent = s.campaign;
    var c = s.counts;
    var percent = Math.floor(s.progress * 1000) / 10;
    $('fill').style.width = percent + '%';
    $('bar').setAttribute('aria-valuenow', String(percent));
    $('summary').textContent = c.done + ' of ' + c.total + ' final (' + percent + '%) \u00b7 ' + s.rate.toFixed(1) + ' msg/s \u00b7 ' +
      (c.done >= c.total ? 'finished' : 'time left ' + duration(s.etaSeconds));
    var tiles = STATES.map(function (state) {
      var tile = el('div', 'state ' + state);
      tile.dataset.state = state;
      tile.append(el('b', null, c[state]), el('span', null, state));
      return tile;
    });
    $('states').replaceChildren.apply($('states'), tiles);
    chart(s.rates);
    var codes = Object.keys(s.byCode).sort().map(function (k) { return [k, s.byCode[k]]; });
    table($('codes'), ['code', 'items'], codes, ['', 'n']);
    domains(s);
    $('uncertain-count').textContent = s.uncertainTotal;
    $('uncertain-card').hidden = s.uncertainTotal === 0;
    table($('uncertain'), ['item', 'recipient', 'since'], s.uncertain.map(function (i) { return [i.id, i.recipient, i.at ? new Date(i.at).toLocaleString() : '']; }), []);
    $('problems-count').textContent = s.problemsTotal;
    table($('problems'), ['item', 'recipient', 'state', 'code', 'diagnostic'], s.problems.map(function (i) { return [i.id, i.recipient, i.state, i.code, i.diagnostic]; }), ['', '', '', 'n', '']);
    actions(s.actions);
    if (s.notice) $('notice').textContent = s.notice;
  }

  var events = new EventSource('/api/events' + (token ? '?token=' + encodeURIComponent(token) : ''));
  events.onopen = function () { $('live').textContent = 'live'; $('live').className = 'live on'; };
  events.onerror = function () { $('live').textContent = 'reconnecting'; $('live').className = 'live'; };
  events.addEventListener('snapshot', function (event) { render(JSON.parse(event.data)); });
  events.addEventListener('problem', function (event) { $('notice').textContent = JSON.parse(event.data).error; });
})();
`;
