'use strict';
// sluice status page: polls status.json every second and redraws everything.
// Served under "Content-Security-Policy: default-src 'self'": no inline script
// or style; the DOM is built with createElement/textContent (no innerHTML) and
// sizes are set through the CSSOM, which that policy allows.
// Stable attributes for tests and scripts: data-route, data-split
// (effective|configured), data-pool, data-weight, data-server, data-healthy,
// data-ejected-by (passive|active|empty), data-kind, data-reason;
// body[data-loaded] after the first render.
(function () {
  const POLL_MS = 1000;
  const PALETTE = 6; // .c0 .. .c5 in status.css, same order as COLORS
  const COLORS = ['#2563eb', '#d97706', '#7c3aed', '#0891b2', '#db2777', '#65a30d'];
  const ERR = '#dc2626';
  const colorIndex = new Map(); // pool name -> palette slot, stable while the page is open

  const $ = (id) => document.getElementById(id);

  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === 'class') e.className = v;
      else e.setAttribute(k, String(v));
    }
    for (const c of children) {
      if (c !== null && c !== undefined) e.append(c instanceof Node ? c : String(c));
    }
    return e;
  }

  function poolColor(name) {
    if (!colorIndex.has(name)) colorIndex.set(name, colorIndex.size % PALETTE);
    return colorIndex.get(name);
  }

  const pct = (rate) => (rate * 100).toFixed(1) + '%';
  const clock = (iso) => (iso || '').replace('T', ' ').replace(/\.\d+Z$|Z$/, '');
  const weightsText = (w) => Object.entries(w).map(([p, v]) => `${p} ${v}`).join(' / ');

  function duration(s) {
    const d = Math.floor(s / 86400), h = Math.floor((s % 86400) / 3600), m = Math.floor((s % 3600) / 60);
    if (d) return `${d}d ${h}h`;
    if (h) return `${h}h ${m}m`;
    return m ? `${m}m ${s % 60}s` : `${s}s`;
  }

  function renderSummary(s) {
    const items = [
      ['version', s.version],
      ['uptime', duration(s.uptime_s)],
      ['workers', s.workers],
      ['connections', `${s.connections.active} active, ${s.connections.idle} idle`],
    ];
    if (s.draining) items.push(['state', 'draining']);
    $('summary').replaceChildren(...items.flatMap(([k, v]) => [el('dt', null, k), el('dd', null, v)]));
  }

  function renderAlerts(s) {
    const out = [];
    for (const r of s.routes) {
      for (const rb of r.rollbacks || []) {
        const why = rb.reason === 'manual' ? 'by an operator' : `${rb.reason.replace('_', ' ')} ${pct(rb.observed_rate)} over ${rb.requests} requests, limit ${pct(r.policy.error_rate)}`;
        out.push(el('div', { class: 'alert', 'data-alert': 'rollback', 'data-route': r.name, 'data-pool': rb.pool },
          el('strong', null, `Rolled back: ${r.name} / ${rb.pool}`),
          ` at ${clock(rb.at)} UTC (${why}). Weight ${rb.weight_moved} moved to ${r.baseline}; it stays at 0 until an operator sets the split.`));
      }
    }
    const down = s.upstreams.filter((u) => !u.healthy);
    if (down.length) {
      out.push(el('div', { class: 'alert', 'data-alert': 'unhealthy' },
        el('strong', null, `Unhealthy servers: ${down.length}`), ` (${down.map((u) => `${u.pool} ${u.server}`).join(', ')})`));
    }
    $('alerts').replaceChildren(...out);
  }

  function bar(kind, route, weights) {
    const total = Object.values(weights).reduce((a, b) => a + b, 0) || 1;
    const segs = route.order.map((p) => {
      const w = weights[p] || 0;
      const share = (w * 100) / total;
      const seg = el('div', { class: `seg c${poolColor(p)}`, 'data-pool': p, 'data-weight': w, title: `${p}: weight ${w} (${share.toFixed(1)}%)` },
        share >= 6 ? `${p} ${share.toFixed(share % 1 ? 1 : 0)}%` : '');
      seg.style.flexGrow = String(w);
      return seg;
    });
    return el('div', { class: 'barrow' }, el('span', { class: 'barlabel' }, kind),
      el('div', { class: `bar ${kind}`, 'data-split': kind, 'data-route': route.name }, ...segs));
  }

  function routeMeta(r) {
    const p = r.policy;
    const parts = [`baseline ${r.baseline}`, `sticky ${r.sticky}`,
      `rolls back a pool above ${pct(p.error_rate)} errors` + (p.p99_ms !== null ? ` or p99 over ${p.p99_ms} ms` : '') +
      ` (at least ${p.min_requests} requests in ${p.window_s} s)`];
    if (r.rollout) {
      const ro = r.rollout;
      parts.push(`rollout ${ro.status}: step ${ro.step + 1} of ${ro.steps.length} (${ro.percent}%)` +
        (ro.next_step_in_s !== null ? `, next in ${Math.ceil(ro.next_step_in_s)} s` : ''));
    }
    if (r.operator_set) parts.push('weights set by an operator');
    return parts.join(' \u00b7 ');
  }

  function poolTable(r) {
    const head = ['pool', 'effective', 'configured', 'requests (window)', 'errors', 'error rate', 'p99', 'verdict', 'rollbacks'];
    const rows = r.order.map((name) => {
      const p = r.pools[name];
      return el('tr', { 'data-pool': name },
        el('td', null, el('span', { class: `swatch c${poolColor(name)}` }), name),
        el('td', { class: 'num' }, r.effective[name]), el('td', { class: 'num' }, r.configured[name]),
        el('td', { class: 'num' }, p.window_requests), el('td', { class: 'num' }, p.window_errors),
        el('td', { class: 'num' }, pct(p.error_rate)), el('td', { class: 'num' }, p.p99_ms === null ? '\u2013' : `${p.p99_ms} ms`),
        el('td', null, el('span', { class: `verdict ${p.verdict}` }, p.verdict)), el('td', { class: 'num' }, p.rollbacks));
    });
    return el('table', { class: 'grid' }, el('thead', null, el('tr', null, ...head.map((h) => el('th', null, h)))), el('tbody', null, ...rows));
  }

  function chartBox(r, name) {
    const p = r.pools[name];
    const ser = p.series || { requests_per_s: [], window_error_rate: [] };
    const last = (a) => (a.length ? a[a.length - 1] : 0);
    const canvas = el('canvas', { 'data-pool': name, width: 300, height: 130 });
    const fig = el('figure', { class: 'chart', 'data-pool': name },
      el('figcaption', null, el('span', { class: `swatch c${poolColor(name)}` }), el('strong', null, name),
        ` ${last(ser.requests_per_s).toFixed(1)} req/s (left axis) \u00b7 `,
        el('span', { class: last(ser.window_error_rate) > 0 ? 'errtext' : null }, `${pct(last(ser.window_error_rate))} errors`), ' over the window (right axis)'),
      canvas);
    return { fig, draw: () => drawChart(canvas, ser, r.policy.error_rate, COLORS[poolColor(name)]) };
  }

  function niceMax(v) {
    const e = Math.pow(10, Math.floor(Math.log10(v)));
    for (const m of [1, 2, 5, 10]) if (v <= m * e) return m * e;
    return 10 * e;
  }

  // Requests/s (left axis, pool colour) and the window's error rate (right
  // axis, red, with the rollback threshold dashed) over the last minute.
  function drawChart(canvas, ser, threshold, color) {
    const dpr = window.devicePixelRatio || 1;
    const w = canvas.clientWidth || 300, h = canvas.clientHeight || 130;
    canvas.width = Math.round(w * dpr);
    canvas.height = Math.round(h * dpr);
    const g = canvas.getContext('2d');
    g.scale(dpr, dpr);
    const L = 40, R = 40, T = 8, B = 18, pw = w - L - R, ph = h - T - B, N = 60;
    const rps = ser.requests_per_s.slice(-N), err = ser.window_error_rate.slice(-N);
    const top = niceMax(Math.max(1, ...rps));
    const x = (i, n) => L + (pw * (N - n + i)) / (N - 1);
    const yR = (v) => T + ph - (ph * v) / top;
    const yE = (v) => T + ph - ph * Math.min(1, v);
    g.font = '11px system-ui, sans-serif';
    g.lineWidth = 1;
    g.strokeStyle = '#e5e7eb';
    g.fillStyle = '#6b7280';
    for (const f of [0, 0.5, 1]) {
      const y = T + ph - ph * f;
      g.beginPath(); g.moveTo(L, y); g.lineTo(L + pw, y); g.stroke();
      g.textAlign = 'right'; g.fillText(String(+(top * f).toFixed(1)), L - 5, y + 4);
      g.textAlign = 'left'; g.fillText(`${f * 100}%`, L + pw + 5, y + 4);
    }
    g.textAlign = 'left'; g.fillText('60 s ago', L, h - 4);
    g.textAlign = 'center'; g.fillText(`dashed: rollback at ${pct(threshold)}`, L + pw / 2, h - 4);
    g.textAlign = 'right'; g.fillText('now', L + pw, h - 4);
    g.strokeStyle = ERR;
    g.setLineDash([4, 3]);
    g.beginPath(); g.moveTo(L, yE(threshold)); g.lineTo(L + pw, yE(threshold)); g.stroke();
    g.setLineDash([]);
    if (!rps.length) {
      g.textAlign = 'center'; g.fillText('collecting samples\u2026', L + pw / 2, T + ph / 2);
      return;
    }
    g.fillStyle = 'rgba(220, 38, 38, 0.12)';
    g.beginPath(); g.moveTo(x(0, err.length), yE(0));
    err.forEach((v, i) => g.lineTo(x(i, err.length), yE(v)));
    g.lineTo(x(err.length - 1, err.length), yE(0)); g.closePath(); g.fill();
    const line = (vals, y, c, width) => {
      g.strokeStyle = c; g.lineWidth = width; g.beginPath();
      vals.forEach((v, i) => (i ? g.lineTo(x(i, vals.length), y(v)) : g.moveTo(x(i, vals.length), y(v))));
      g.stroke();
    };
    line(err, yE, ERR, 1.5);
    line(rps, yR, color, 2);
  }

  function renderRoutes(s) {
    const draws = [];
    const sections = s.routes.map((r) => {
      r.order = Object.keys(r.configured);
      const charts = r.order.map((name) => chartBox(r, name));
      draws.push(...charts.map((c) => c.draw));
      return el('section', { class: 'panel route', 'data-route': r.name },
        el('h2', null, `Route ${r.name}`, r.rollback ? el('span', { class: 'tag bad' }, 'rolled back') : null),
        el('p', { class: 'meta' }, routeMeta(r)),
        bar('effective', r, r.effective), bar('configured', r, r.configured),
        poolTable(r), el('div', { class: 'charts' }, ...charts.map((c) => c.fig)));
    });
    $('routes').replaceChildren(...sections);
    draws.forEach((d) => d()); // after layout: canvases take their CSS width
  }

  // Who took a server out: traffic (consecutive failures) or the health checks.
  function unhealthyText(u) {
    if (u.ejected_by === 'passive') return 'unhealthy: ejected by failing requests';
    if (u.ejected_by === 'active') return 'unhealthy: failing health checks';
    return 'unhealthy';
  }

  function renderUpstreams(s) {
    const rows = s.upstreams.map((u) => el('tr', { 'data-pool': u.pool, 'data-server': u.server, 'data-healthy': u.healthy, 'data-ejected-by': u.ejected_by || '' },
      el('td', null, el('span', { class: `swatch c${poolColor(u.pool)}` }), u.pool), el('td', { class: 'mono' }, u.server),
      el('td', null, el('span', { class: `verdict ${u.healthy ? 'healthy' : 'failed'}` }, u.healthy ? 'healthy' : unhealthyText(u))),
      el('td', null, u.health_check ? 'active' : 'no active check')));
    $('upstreams').replaceChildren(...rows);
  }

  function renderHistory(s) {
    const rows = s.history.map((e) => el('tr', { 'data-kind': e.kind, 'data-route': e.route, 'data-pool': e.pool, 'data-reason': e.reason, class: `kind-${e.kind}` },
      el('td', { class: 'mono' }, clock(e.at)), el('td', null, e.route), el('td', null, e.pool || '\u2013'),
      el('td', null, el('span', { class: `event ${e.kind}` }, e.kind)), el('td', null, e.reason.replace('_', ' ')),
      el('td', null, e.detail), el('td', { class: 'mono' }, weightsText(e.effective))));
    if (!rows.length) rows.push(el('tr', null, el('td', { colspan: 7, class: 'empty' }, 'No weight changes since sluice started.')));
    $('history').replaceChildren(...rows);
  }

  function setConn(ok, text) {
    const c = $('conn');
    c.dataset.state = ok ? 'live' : 'down';
    c.textContent = text;
  }

  async function poll() {
    try {
      const res = await fetch('status.json', { cache: 'no-store' });
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      const s = await res.json();
      renderSummary(s);
      renderAlerts(s);
      renderRoutes(s);
      renderUpstreams(s);
      renderHistory(s);
      document.body.dataset.loaded = 'true';
      setConn(true, `live \u00b7 updated ${new Date().toISOString().slice(11, 19)} UTC`);
    } catch (e) {
      setConn(false, `no data (${e.message}); retrying`);
    }
    setTimeout(poll, POLL_MS);
  }

  poll();
})();
