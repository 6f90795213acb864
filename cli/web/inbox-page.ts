/**
 * The inbox page: HTML, CSS and plain JavaScript shipped as strings, so the
 * program serves them with no build step and no files to find at run time.
 * The script builds every element with `textContent`: nothing a message says
 * is ever parsed as HTML in the page's origin. The HTML body is shown in an
 * iframe with an empty `sandbox` (no scripts, an opaque origin), loaded from
 * a URL whose answer carries its own strict policy.
 */
import { pageHead } from './http';

export const INBOX_HTML = `${pageHead('tclmail inbox', '/app.css', '/app.js')}<body>
<header class="bar">
  <h1>tclmail inbox</h1>
  <input id="q" type="search" placeholder="Search address or subject" aria-label="Search by address or subject" autocomplete="off">
  <span id="count" role="status"></span>
  <span id="live" class="live" title="live updates">offline</span>
</header>
<main>
  <section id="list-pane" aria-label="Messages">
    <ul id="list"></ul>
    <button id="more" type="button" hidden>Show more</button>
  </section>
  <section id="detail" aria-label="Message" hidden></section>
</main>
</body>
</html>
`;

export const INBOX_CSS = String.raw`
:root { --fg: #1d2330; --muted: #5b6475; --line: #dfe3ea; --bg: #f6f7f9; --accent: #2457c5; --pick: #e8eefc; --bad: #b3261e; --good: #1e7b34; color-scheme: light; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.4 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg); background: var(--bg); }
.bar { display: flex; gap: 12px; align-items: center; padding: 8px 14px; background: #fff; border-bottom: 1px solid var(--line); position: sticky; top: 0; z-index: 1; }
.bar h1 { font-size: 16px; margin: 0; white-space: nowrap; }
#q { flex: 1; min-width: 0; max-width: 420px; padding: 6px 10px; border: 1px solid var(--line); border-radius: 6px; font: inherit; }
#count { color: var(--muted); white-space: nowrap; }
.live { font-size: 12px; color: var(--muted); }
.live.on { color: var(--good); }
main { display: grid; grid-template-columns: minmax(280px, 38%) 1fr; height: calc(100vh - 49px); }
#list-pane { overflow-y: auto; border-right: 1px solid var(--line); background: #fff; }
#list { list-style: none; margin: 0; padding: 0; }
#list li a { display: grid; grid-template-columns: 1fr auto; gap: 0 8px; padding: 8px 12px; border-bottom: 1px solid var(--line); color: inherit; text-decoration: none; }
#list li a:hover { background: var(--bg); }
#list li.current a { background: var(--pick); }
#list span { overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.from { font-weight: 600; }
.date, .meta, .to { color: var(--muted); font-size: 12px; }
.date, .meta { text-align: right; }
.att { display: inline-block; padding: 0 5px; border-radius: 4px; background: var(--pick); color: var(--accent); font-size: 11px; }
#more { display: block; margin: 10px auto; padding: 6px 14px; font: inherit; }
#more[hidden] { display: none; }
#detail { overflow-y: auto; padding: 14px 18px; min-width: 0; }
#detail h2 { margin: 0 0 8px; font-size: 18px; overflow-wrap: anywhere; }
.back { display: none; margin-bottom: 8px; }
.fields { display: grid; grid-template-columns: max-content 1fr; gap: 2px 12px; margin: 0 0 10px; }
.fields dt { color: var(--muted); }
.fields dd { margin: 0; overflow-wrap: anywhere; }
.badge { display: inline-block; padding: 0 6px; border-radius: 4px; font-size: 12px; background: var(--line); margin-right: 4px; }
.badge.pass { background: #d7f0dd; color: var(--good); }
.badge.fail { background: #f8d9d6; color: var(--bad); }
.attachments { list-style: none; padding: 0; margin: 0 0 10px; display: flex; flex-wrap: wrap; gap: 6px; }
.attachments a { display: inline-block; padding: 4px 8px; border: 1px solid var(--line); border-radius: 6px; background: #fff; color: var(--accent); text-decoration: none; }
.tabs { display: flex; gap: 4px; border-bottom: 1px solid var(--line); margin-bottom: 8px; flex-wrap: wrap; }
.tabs button { font: inherit; border: 1px solid transparent; border-bottom: 0; background: none; padding: 6px 10px; cursor: pointer; border-radius: 6px 6px 0 0; }
.tabs button[aria-selected="true"] { background: #fff; border-color: var(--line); }
.pane { background: #fff; border: 1px solid var(--line); border-radius: 6px; }
.pane pre { margin: 0; padding: 10px; white-space: pre-wrap; overflow-wrap: anywhere; font: 12px/1.45 ui-monospace, SFMono-Regular, Menlo, monospace; }
.pane iframe { width: 100%; height: 70vh; border: 0; display: block; background: #fff; }
.pane table { border-collapse: collapse; width: 100%; }
.pane td { border-bottom: 1px solid var(--line); padding: 4px 8px; vertical-align: top; overflow-wrap: anywhere; }
.pane td:first-child { color: var(--muted); white-space: nowrap; }
.tree, .tree ul { list-style: none; margin: 0; padding-left: 16px; }
.tree { padding: 8px; }
.tree .part { font-family: ui-monospace, monospace; }
.tree .field { color: var(--muted); font-size: 12px; overflow-wrap: anywhere; }
.actions { margin: 8px 0; display: flex; gap: 8px; }
.actions button, .actions a { font: inherit; padding: 4px 10px; }
.error { color: var(--bad); }
.empty { color: var(--muted); padding: 20px; text-align: center; }
@media (max-width: 760px) {
  main { display: block; height: auto; }
  #list-pane { border-right: 0; }
  body.reading #list-pane { display: none; }
  .back { display: inline-block; }
  .bar h1 { display: none; }
}
`;

export const INBOX_JS = String.raw`'use strict';
(function () {
  var token = new URLSearchParams(location.search).get('token');
  var PAGE = 100;
  var state = { q: '', loaded: 0, total: 0, ids: new Set(), current: null };
  var list = document.getElementById('list');
  var more = document.getElementById('more');
  var count = document.getElementById('count');
  var detail = document.getElementById('detail');
  var live = document.getElementById('live');

  function withToken(path) {
    return token ? path + (path.indexOf('?') < 0 ? '?' : '&') + 'token=' + encodeURIComponent(token) : path;
  }
  function api(path, init) {
    var options = init || {};
    options.headers = token ? { Authorization: 'Bearer ' + token } : {};
    return fetch(path, options).then(function (response) {
      if (response.ok) return response;
      return response.json().then(function (body) { throw new Error(body.error || response.statusText); }, function () { throw new Error(response.statusText); });
    });
  }
  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }
  function size(n) {
    if (n < 1024) return n + ' B';
    if (n < 1048576) return (n / 1024).toFixed(1) + ' KB';
    return (n / 1048576).toFixed(1) + ' MB';
  }
  // One formatter each: toLocale*String builds a new one per call, which costs more than the row.
  var timeFormat = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' });
  var dateFormat = new Intl.DateTimeFormat(undefined, { year: 'numeric', month: 'short', day: 'numeric' });
  var sameDay = new Date().toDateString();
  function when(iso) {
    var d = new Date(iso);
    if (isNaN(d.getTime())) return '';
    return d.toDateString() === sameDay ? timeFormat.format(d) : dateFormat.format(d);
  }
  function matches(m, q) {
    if (!q) return true;
    var hay = [m.from, m.to, m.subject, m.mailFrom || ''].concat(m.rcptTo || []);
    for (var i = 0; i < hay.length; i++) if (String(hay[i]).toLowerCase().indexOf(q) >= 0) return true;
    return false;
  }

  // The attachment marker is a styled word, not an emoji: a browser without an emoji font shows a box.
  function meta(m) {
    var span = el('span', 'meta');
    if (m.attachments) span.append(el('span', 'att', m.attachments === 1 ? '1 file' : m.attachments + ' files'), document.createTextNode(' '));
    span.append(document.createTextNode(size(m.size)));
    return span;
  }
  function row(m) {
    var li = el('li');
    li.dataset.id = m.id;
    if (m.id === state.current) li.className = 'current';
    var a = el('a');
    a.href = '#/m/' + m.id;
    var to = m.to || (m.rcptTo || []).join(', ');
    a.append(
      el('span', 'from', m.from || m.mailFrom || '(no sender)'),
      el('span', 'date', when(m.date)),
      el('span', 'subject', m.subject || '(no subject)'),
      meta(m),
      el('span', 'to', 'to ' + to)
    );
    a.lastChild.title = to;
    li.append(a);
    return li;
  }
  function showCount() {
    count.textContent = state.total + (state.total === 1 ? ' message' : ' messages');
    more.hidden = state.loaded >= state.total;
    if (state.total === 0) list.replaceChildren(el('li', 'empty', state.q ? 'Nothing matches.' : 'No messages yet: send one to the capture server.'));
  }
  function load(reset) {
    var q = state.q;
    var offset = reset ? 0 : state.loaded;
    return api('/api/messages?limit=' + PAGE + '&offset=' + offset + '&q=' + encodeURIComponent(q)).then(function (response) {
      var total = Number(response.headers.get('X-Total-Count'));
      return response.json().then(function (items) {
        if (q !== state.q) return;
        if (reset) { state.ids.clear(); state.loaded = 0; list.replaceChildren(); }
        state.total = total;
        var fragment = document.createDocumentFragment();
        items.forEach(function (m) {
          if (state.ids.has(m.id)) return;
          state.ids.add(m.id);
          fragment.append(row(m));
        });
        list.append(fragment);
        state.loaded = offset + items.length;
        showCount();
        // For bench/web.ts: when the first list was on screen, in the page's own clock.
        if (!performance.getEntriesByName('inbox-listed').length) performance.mark('inbox-listed');
      });
    }).catch(function (error) { count.textContent = error.message; });
  }

  var timer = 0;
  document.getElementById('q').addEventListener('input', function (event) {
    clearTimeout(timer);
    timer = setTimeout(function () { state.q = event.target.value.trim().toLowerCase(); load(true); }, 120);
  });
  more.addEventListener('click', function () { load(false); });

  function connect() {
    var events = new EventSource(withToken('/api/events'));
    var dropped = false;
    events.onopen = function () {
      live.textContent = 'live';
      live.className = 'live on';
      // Events sent while the stream was down are lost: read the list again.
      if (dropped) { dropped = false; load(true); }
    };
    events.onerror = function () { dropped = true; live.textContent = 'reconnecting'; live.className = 'live'; };
    events.addEventListener('message', function (event) {
      var m = JSON.parse(event.data);
      if (!matches(m, state.q) || state.ids.has(m.id)) return;
      if (state.total === 0) list.replaceChildren();
      state.ids.add(m.id);
      state.total += 1;
      state.loaded += 1;
      list.prepend(row(m));
      showCount();
    });
    events.addEventListener('delete', function (event) {
      var id = JSON.parse(event.data).id;
      var li = list.querySelector('li[data-id="' + id + '"]');
      if (li) { li.remove(); state.ids.delete(id); state.total -= 1; state.loaded -= 1; showCount(); }
      if (id === state.current) location.hash = '#/';
    });
  }

  function field(dl, name, value) {
    if (value === undefined || value === null || value === '') return;
    dl.append(el('dt', null, name));
    var dd = el('dd');
    if (value instanceof Node) dd.append(value); else dd.textContent = String(value);
    dl.append(dd);
  }
  function badge(text, kind) { return el('span', 'badge' + (kind ? ' ' + kind : ''), text); }
  function dkimNode(results) {
    var span = el('span');
    results.forEach(function (r) {
      span.append(badge(r.result === 'pass' ? 'pass' : r.result === 'fail' ? 'fail' : 'not verified', r.result === 'unverified' ? '' : r.result));
      span.append(document.createTextNode('d=' + r.domain + ' s=' + r.selector + ' (' + r.algorithm + '): ' + r.reason + ' '));
    });
    return span;
  }
  function treeNode(part) {
    var li = el('li');
    var params = Object.keys(part.params).map(function (k) { return '; ' + k + '=' + part.params[k]; }).join('');
    li.append(el('div', 'part', (part.section || 'message') + '  ' + part.content + params + '  (' + [part.encoding, part.size + ' bytes'].filter(Boolean).join(', ') + ')'));
    part.headers.forEach(function (h) { li.append(el('div', 'field', h[0] + ': ' + h[1])); });
    if (part.parts.length) {
      var ul = el('ul');
      part.parts.forEach(function (child) { ul.append(treeNode(child)); });
      li.append(ul);
    }
    return li;
  }
  function headersTable(headers) {
    var table = el('table');
    headers.forEach(function (h) {
      var tr = el('tr');
      tr.append(el('td', null, h[0]), el('td', null, h[1]));
      table.append(tr);
    });
    return table;
  }

  function render(m) {
    var base = '/api/messages/' + m.id;
    detail.replaceChildren();
    var back = el('a', 'back', '\u2190 Inbox');
    back.href = '#/';
    detail.append(back, el('h2', null, m.subject || '(no subject)'));
    var dl = el('dl', 'fields');
    field(dl, 'From', m.from);
    field(dl, 'To', m.to);
    field(dl, 'Date', new Date(m.date).toLocaleString());
    field(dl, 'Size', size(m.size));
    if (m.envelope) {
      field(dl, 'MAIL FROM', '<' + m.envelope.from + '>');
      field(dl, 'RCPT TO', m.envelope.to.map(function (a) { return '<' + a + '>'; }).join(', '));
      field(dl, 'Client', m.envelope.client + (m.envelope.secure ? ', TLS' : '') + (m.envelope.user ? ', user ' + m.envelope.user : ''));
    } else {
      field(dl, 'Envelope', 'not recorded (captured without --web)');
    }
    if (m.dkim && m.dkim.length) field(dl, 'DKIM', dkimNode(m.dkim));
    detail.append(dl);
    if (m.error) detail.append(el('p', 'error', m.error));

    var actions = el('div', 'actions');
    var raw = el('a', null, 'Open raw');
    raw.href = withToken(base + '/raw');
    raw.target = '_blank';
    raw.rel = 'noopener noreferrer';
    var remove = el('button', 'delete', 'Delete');
    remove.type = 'button';
    remove.addEventListener('click', function () {
      api(base, { method: 'DELETE' }).then(function () { location.hash = '#/'; }, function (error) { alert(error.message); });
    });
    actions.append(raw, remove);
    detail.append(actions);

    if (m.attachments && m.attachments.length) {
      var ul = el('ul', 'attachments');
      m.attachments.forEach(function (a) {
        var li = el('li');
        var link = el('a', null, (a.filename || 'part ' + a.section) + ' (' + size(a.size) + ')');
        link.href = withToken(base + '/parts/' + a.section);
        link.setAttribute('download', a.filename || 'part-' + a.section);
        link.title = a.contentType;
        li.append(link);
        ul.append(li);
      });
      detail.append(ul);
    }

    var tabs = el('div', 'tabs');
    tabs.setAttribute('role', 'tablist');
    var pane = el('div', 'pane');
    var views = [];
    if (m.htmlSection) views.push(['HTML', function () {
      var frame = el('iframe');
      frame.setAttribute('sandbox', '');
      frame.setAttribute('referrerpolicy', 'no-referrer');
      frame.title = 'HTML body';
      frame.src = withToken(base + '/html');
      return frame;
    }]);
    if (m.text !== undefined) views.push(['Text', function () { return el('pre', null, m.text); }]);
    views.push(['Headers', function () { return headersTable(m.headers || []); }]);
    if (m.tree) views.push(['Parts', function () { var ul = el('ul', 'tree'); ul.append(treeNode(m.tree)); return ul; }]);
    views.push(['Raw', function () {
      var pre = el('pre', null, 'loading\u2026');
      api(base + '/raw').then(function (r) { return r.text(); }).then(function (text) { pre.textContent = text; }, function (e) { pre.textContent = e.message; });
      return pre;
    }]);
    views.forEach(function (view, i) {
      var button = el('button', null, view[0]);
      button.type = 'button';
      button.setAttribute('role', 'tab');
      button.addEventListener('click', function () {
        tabs.querySelectorAll('button').forEach(function (b) { b.setAttribute('aria-selected', 'false'); });
        button.setAttribute('aria-selected', 'true');
        pane.replaceChildren(view[1]());
      });
      tabs.append(button);
      if (i === 0) { button.setAttribute('aria-selected', 'true'); pane.append(view[1]()); }
    });
    detail.append(tabs, pane);
  }

  function route() {
    var match = /^#\/m\/([0-9a-f]{16})$/.exec(location.hash);
    var previous = list.querySelector('li.current');
    if (previous) previous.className = '';
    if (!match) {
      state.current = null;
      detail.hidden = true;
      document.body.classList.remove('reading');
      return;
    }
    var id = match[1];
    state.current = id;
    var li = list.querySelector('li[data-id="' + id + '"]');
    if (li) li.className = 'current';
    detail.hidden = false;
    document.body.classList.add('reading');
    detail.replaceChildren(el('p', 'empty', 'Loading\u2026'));
    api('/api/messages/' + id).then(function (r) { return r.json(); }).then(function (m) {
      if (state.current === id) render(m);
    }, function (error) { detail.replaceChildren(el('p', 'error', error.message)); });
  }

  window.addEventListener('hashchange', route);
  load(true).then(route);
  connect();
})();
`;
