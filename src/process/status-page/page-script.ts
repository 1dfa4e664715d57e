/**
 * The status page's script, inline: it renders each snapshot (status.json's
 * shape, src/process/status-page/status-snapshot.ts) with textContent only,
 * never as HTML, so a name from the configuration cannot inject markup. It
 * listens to server-sent events (`/events`, EventSource reconnects by
 * itself); when the stream is refused, the session has ended: back to the
 * login form. Written without template literals: it lives inside one.
 */
export const PAGE_SCRIPT = `
'use strict';
(function () {
  var $ = function (id) { return document.getElementById(id); };
  function el(tag, text, cls) { var e = document.createElement(tag); if (text !== undefined && text !== null) e.textContent = String(text); if (cls) e.className = cls; return e; }
  function pad(n) { return (n < 10 ? '0' : '') + n; }
  function when(iso) { if (!iso) return '-'; var d = new Date(iso); return d.getFullYear() + '-' + pad(d.getMonth() + 1) + '-' + pad(d.getDate()) + ' ' + pad(d.getHours()) + ':' + pad(d.getMinutes()) + ':' + pad(d.getSeconds()); }
  function dash(v) { return v === null || v === undefined ? '-' : String(v); }
  function fill(tbody, rows, empty, columns) {
    tbody.replaceChildren();
    if (rows.length === 0) { var tr = el('tr'); var td = el('td', empty, 'muted'); td.colSpan = columns; tr.appendChild(td); tbody.appendChild(tr); return; }
    rows.forEach(function (r) { tbody.appendChild(r); });
  }
  function row(cells, attrs) {
    var tr = el('tr');
    Object.keys(attrs || {}).forEach(function (k) { tr.setAttribute(k, attrs[k]); });
    cells.forEach(function (c) { var td = el('td', c.text, c.cls); if (c.key) td.dataset.key = c.key; tr.appendChild(td); });
    return tr;
  }
  function lastContact(m) {
    if (m.self) return 'this node';
    if (m.unreachableSince) return 'unreachable since ' + when(m.unreachableSince);
    if (m.lastContactAgo === null) return 'never';
    return (m.lastContactAgo < 10 ? m.lastContactAgo.toFixed(1) : Math.round(m.lastContactAgo)) + ' s ago';
  }
  function members(s) {
    var c = s.cluster;
    if (!c) { $('cluster-summary').textContent = 'This node is not a member of a cluster (standalone).'; fill($('members'), [], 'no cluster', 6); return; }
    var q = c.quorum;
    $('cluster-summary').textContent = 'State ' + c.state + ' \\u00b7 term ' + c.term + ' \\u00b7 commit ' + c.commitIndex + ' \\u00b7 applied ' + c.appliedIndex + ' \\u00b7 quorum ' + (q.lost ? 'LOST' : 'ok') + ' (' + q.reachable + ' of ' + q.voters + ' reachable)';
    fill($('members'), c.members.map(function (m) {
      var role = m.role + (m.self ? ' (this node)' : '');
      return row([
        { text: m.name, key: 'name' }, { text: m.endpoint, key: 'endpoint' },
        { text: role, key: 'role', cls: m.leader ? 'ok' : m.role === 'candidate' ? 'warn' : '' },
        { text: lastContact(m), key: 'lastContact', cls: m.unreachableSince ? 'bad' : '' },
        { text: dash(m.match), key: 'match', cls: 'num' }, { text: dash(m.lag), key: 'lag', cls: 'num' }
      ], { 'data-member': m.name });
    }), 'no members', 6);
  }
  function bridges(s) {
    fill($('callbridges'), s.callbridges.map(function (b) {
      return row([
        { text: b.name, key: 'name' }, { text: b.node || 'not connected', key: 'node', cls: b.node ? '' : 'muted' },
        { text: dash(b.address), key: 'address' }, { text: dash(b.peer), key: 'peer' }, { text: when(b.since), key: 'since' }
      ], { 'data-callbridge': b.name });
    }), 'No callbridges configured.', 5);
  }
  function federation(s) {
    var f = s.federation;
    $('federation-summary').textContent = !f ? 'Federation does not run on this node.' : f.unanswered.length ? 'No answer from ' + f.unanswered.join(', ') + '; their streams are missing.' : '';
    fill($('federation'), (f ? f.rows : []).map(function (r) {
      return row([
        { text: r.node }, { text: r.direction }, { text: r.localDomain }, { text: r.remoteDomain }, { text: r.peerAddress },
        { text: r.tls || 'none' }, { text: r.auth }, { text: r.idleSeconds + ' s', cls: 'num' }
      ], { 'data-stream': r.direction + ' ' + r.remoteDomain });
    }), 'No federation streams.', 8);
  }
  var NS = 'http://www.w3.org/2000/svg';
  function svg(tag, attrs, text) { var e = document.createElementNS(NS, tag); Object.keys(attrs).forEach(function (k) { e.setAttribute(k, attrs[k]); }); if (text !== undefined) e.textContent = text; return e; }
  function step(v) { var p = Math.pow(10, Math.floor(Math.log10(v))); var m = v / p; return (m <= 1 ? 1 : m <= 2 ? 2 : m <= 5 ? 5 : 10) * p; }
  function ago(t) { return t < 60 || t % 60 ? '-' + t + ' s' : '-' + t / 60 + ' min'; }
  function chart(s) {
    var W = 720, H = 180, L = 44, R = 14, T = 8, B = 22;
    var samples = s.rate, now = Date.parse(s.now);
    // The span grows with the samples held, from one minute to the five the ring keeps.
    var oldest = samples.length ? (now - samples[0].at) / 1000 : 0;
    var span = Math.min(300, Math.max(60, Math.ceil(oldest / 60) * 60));
    var tick = span <= 60 ? 10 : span <= 120 ? 20 : span <= 180 ? 30 : 60;
    var peak = samples.reduce(function (m, x) { return Math.max(m, x.routed, x.forwarded); }, 0);
    var grid = Math.max(1, step(peak / 4)), max = grid * 4;
    var root = $('chart'); root.replaceChildren(); root.setAttribute('viewBox', '0 0 ' + W + ' ' + H);
    var x = function (at) { return L + (W - L - R) * (1 - Math.min(span, Math.max(0, (now - at) / 1000)) / span); };
    var y = function (v) { return T + (H - T - B) * (1 - v / max); };
    for (var i = 0; i <= 4; i++) {
      root.appendChild(svg('line', { x1: L, x2: W - R, y1: y(grid * i), y2: y(grid * i), class: 'grid' }));
      root.appendChild(svg('text', { x: L - 6, y: y(grid * i) + 4, 'text-anchor': 'end', class: 'axis' }, String(grid * i)));
    }
    for (var t = 0; t <= span; t += tick) root.appendChild(svg('text', { x: L + (W - L - R) * (1 - t / span), y: H - 6, 'text-anchor': t === 0 ? 'end' : 'middle', class: 'axis' }, t === 0 ? 'now' : ago(t)));
    ['routed', 'forwarded'].forEach(function (k) {
      var pts = samples.filter(function (p) { return now - p.at <= span * 1000; }).map(function (p) { return x(p.at).toFixed(1) + ',' + y(p[k]).toFixed(1); });
      if (pts.length) root.appendChild(svg('polyline', { points: pts.join(' '), class: k }));
      root.dataset[k + 'Peak'] = String(samples.reduce(function (m, p) { return Math.max(m, p[k]); }, 0));
    });
    var last = samples[samples.length - 1];
    $('rate-now').textContent = last ? 'now: ' + last.routed.toFixed(1) + ' routed/s, ' + last.forwarded.toFixed(1) + ' forwarded/s' : 'collecting the first samples';
  }
  function render(s) {
    $('service').textContent = s.service;
    $('service').className = 'badge ' + (s.service === 'running' ? 'ok' : 'warn');
    members(s); bridges(s); federation(s); chart(s);
    $('updated').textContent = 'updated ' + when(s.now);
    document.body.dataset.rendered = String(Number(document.body.dataset.rendered || '0') + 1);
  }
  var source = new EventSource('events');
  source.onmessage = function (e) { render(JSON.parse(e.data)); };
  source.addEventListener('logout', function () { location.href = 'login'; });
  source.onerror = function () {
    $('updated').textContent = 'connection lost; retrying';
    if (source.readyState === EventSource.CLOSED) fetch('status.json', { credentials: 'same-origin' }).then(function (r) { if (r.status === 401) location.href = 'login'; });
  };
})();
`;
