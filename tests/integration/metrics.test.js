'use strict';
// GET /metrics as a Prometheus server would read it: a strict parser of the
// text exposition format 0.0.4 checks every line, and the counters, the
// latency histograms and the TLS handshake counts move by exactly what the
// test sent. Passive ejection (live-traffic failures) is checked here too,
// since its evidence is the metrics and the server-state events.
const path = require('node:path');
const { test, after } = require('node:test');
const h = require('./lib/harness');
const A = require('./lib/admin');
const t = require('./lib/tls');
const { assert } = h;

after(h.cleanup);

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const TYPES = new Set(['counter', 'gauge', 'histogram', 'summary', 'untyped']);

function parseValue(s, where) {
  if (s === '+Inf') return Infinity;
  if (s === '-Inf') return -Infinity;
  if (s === 'NaN') return NaN;
  if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(s)) throw new Error(`${where}: bad value ${JSON.stringify(s)}`);
  return Number(s);
}

// Labels inside {...}: name="value" pairs, comma-separated, values with only
// \\, \" and \n escapes. Returns [labels object, rest of the line].
function parseLabels(s, where) {
  const labels = {};
  let i = 0;
  const skipSpaces = () => {
    while (s[i] === ' ') i++;
  };
  skipSpaces();
  if (s[i] === '}') return [labels, s.slice(i + 1)];
  for (;;) {
    skipSpaces();
    const m = /^[a-zA-Z_][a-zA-Z0-9_]*/.exec(s.slice(i));
    if (!m) throw new Error(`${where}: bad label name at ${JSON.stringify(s.slice(i))}`);
    const name = m[0];
    i += name.length;
    skipSpaces();
    if (s[i] !== '=' || s[i + 1] !== '"') throw new Error(`${where}: expected ="value" after ${name}`);
    i += 2;
    let value = '';
    for (;;) {
      if (i >= s.length) throw new Error(`${where}: unterminated label value`);
      const c = s[i++];
      if (c === '"') break;
      if (c === '\\') {
        const e = s[i++];
        if (e === '\\') value += '\\';
        else if (e === '"') value += '"';
        else if (e === 'n') value += '\n';
        else throw new Error(`${where}: bad escape \\${e}`);
      } else {
        value += c;
      }
    }
    if (Object.prototype.hasOwnProperty.call(labels, name)) throw new Error(`${where}: label ${name} twice`);
    if (!LABEL_NAME.test(name) || name.startsWith('__')) throw new Error(`${where}: reserved label name ${name}`);
    labels[name] = value;
    skipSpaces();
    if (s[i] === ',') {
      i++;
      skipSpaces();
      if (s[i] === '}') return [labels, s.slice(i + 1)];
      continue;
    }
    if (s[i] === '}') return [labels, s.slice(i + 1)];
    throw new Error(`${where}: expected , or } at ${JSON.stringify(s.slice(i))}`);
  }
}

// Strict text-format 0.0.4 parse. Returns Map family -> {type, help, samples:[{name, labels, value}]}.
// Throws on: malformed lines, TYPE after samples or twice, samples of one family
// not contiguous, duplicate series, invalid names, histogram inconsistencies.
function parseExposition(text) {
  if (!text.endsWith('\n')) throw new Error('exposition must end with a newline');
  const families = new Map();
  const seen = new Set();
  let current = null;
  const familyOf = (name) => {
    for (const suffix of ['_bucket', '_sum', '_count']) {
      if (name.endsWith(suffix)) {
        const base = name.slice(0, -suffix.length);
        if (families.has(base) && ['histogram', 'summary'].includes(families.get(base).type)) return base;
      }
    }
    return name;
  };
  const family = (name) => {
    if (!families.has(name)) families.set(name, { name, type: 'untyped', help: null, samples: [], closed: false });
    return families.get(name);
  };
  text.split('\n').slice(0, -1).forEach((line, n) => {
    const where = `line ${n + 1} ${JSON.stringify(line)}`;
    if (line === '') return;
    if (line.startsWith('#')) {
      const m = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(line);
      if (!m) return; // a plain comment
      const [, kind, name, rest] = m;
      if (!METRIC_NAME.test(name)) throw new Error(`${where}: bad metric name`);
      const f = family(name);
      if (f.closed || f.samples.length) throw new Error(`${where}: ${kind} after the family's samples`);
      if (kind === 'TYPE') {
        if (f.typeSet) throw new Error(`${where}: TYPE twice`);
        if (!TYPES.has(rest)) throw new Error(`${where}: unknown type`);
        f.type = rest;
        f.typeSet = true;
      } else {
        if (f.help !== null) throw new Error(`${where}: HELP twice`);
        f.help = rest;
      }
      if (current && current !== f) current.closed = true;
      current = f;
      return;
    }
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(.*)$/.exec(line);
    if (!m) throw new Error(`${where}: not a sample`);
    const name = m[1];
    let rest = m[2];
    let labels = {};
    if (rest.startsWith('{')) [labels, rest] = parseLabels(rest.slice(1), where);
    const parts = rest.trim().split(/\s+/);
    if (!rest.startsWith(' ') || parts.length < 1 || parts.length > 2) throw new Error(`${where}: expected " value [timestamp]"`);
    const value = parseValue(parts[0], where);
    if (parts[1] !== undefined && !/^-?\d+$/.test(parts[1])) throw new Error(`${where}: bad timestamp`);
    const f = family(familyOf(name));
    if (f.closed) throw new Error(`${where}: samples of ${f.name} are not together`);
    if (current && current !== f) current.closed = true;
    current = f;
    const key = name + JSON.stringify(Object.entries(labels).sort());
    if (seen.has(key)) throw new Error(`${where}: duplicate series`);
    seen.add(key);
    if (f.type === 'counter' && !(value >= 0)) throw new Error(`${where}: counter below zero`);
    if (f.type === 'histogram') {
      if (name === f.name) throw new Error(`${where}: histogram sample without _bucket/_sum/_count`);
      if (name.endsWith('_bucket') && labels.le === undefined) throw new Error(`${where}: _bucket without le`);
      if (!name.endsWith('_bucket') && labels.le !== undefined) throw new Error(`${where}: le outside _bucket`);
    }
    f.samples.push({ name, labels, value });
  });
  for (const f of families.values()) {
    if (f.type === 'histogram') checkHistogram(f);
  }
  return families;
}

function checkHistogram(f) {
  const series = new Map();
  for (const s of f.samples) {
    const { le, ...rest } = s.labels;
    const key = JSON.stringify(Object.entries(rest).sort());
    if (!series.has(key)) series.set(key, { buckets: [], sum: null, count: null });
    const e = series.get(key);
    if (s.name.endsWith('_bucket')) e.buckets.push([parseValue(le, f.name), s.value]);
    else if (s.name.endsWith('_sum')) e.sum = s.value;
    else e.count = s.value;
  }
  for (const [key, e] of series) {
    const where = `${f.name}${key}`;
    if (e.sum === null || e.count === null) throw new Error(`${where}: missing _sum or _count`);
    const last = e.buckets[e.buckets.length - 1];
    if (!last || last[0] !== Infinity) throw new Error(`${where}: no le="+Inf" bucket last`);
    if (last[1] !== e.count) throw new Error(`${where}: +Inf bucket ${last[1]} != _count ${e.count}`);
    for (let i = 1; i < e.buckets.length; i++) {
      if (!(e.buckets[i][0] > e.buckets[i - 1][0])) throw new Error(`${where}: le not increasing`);
      if (e.buckets[i][1] < e.buckets[i - 1][1]) throw new Error(`${where}: buckets not cumulative`);
    }
    if (e.count > 0 && !(e.sum >= 0)) throw new Error(`${where}: bad _sum`);
  }
}

// One family's samples with the given name and label subset.
function samples(fams, family, name, labels = {}) {
  const f = fams.get(family);
  if (!f) return [];
  return f.samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
}
const value = (fams, family, name, labels) => samples(fams, family, name, labels).reduce((a, s) => a + s.value, 0);

test('the strict parser refuses what Prometheus refuses (it can fail)', () => {
  const bad = [
    'x 1', // no newline at the end
    'x{a="1} 2\n',
    'x{a="\\q"} 2\n',
    '# TYPE x counter\nx 1\n# TYPE x counter\n',
    '# TYPE x counter\nx -1\n',
    'x 1\ny 1\nx 2\n',
    'x{a="1"} 1\nx{a="1"} 2\n',
    '# TYPE h histogram\nh_bucket{le="1"} 2\nh_bucket{le="+Inf"} 1\nh_sum 1\nh_count 1\n',
    '# TYPE h histogram\nh_bucket{le="1"} 1\nh_sum 1\nh_count 1\n',
    '# TYPE h histogram\nh_bucket{le="+Inf"} 3\nh_sum 1\nh_count 2\n',
  ];
  for (const b of bad) assert.throws(() => parseExposition(b), undefined, JSON.stringify(b));
  const good = '# HELP h Help.\n# TYPE h histogram\nh_bucket{a="x\\"y",le="0.5"} 1\nh_bucket{a="x\\"y",le="+Inf"} 2\nh_sum{a="x\\"y"} 1.5\nh_count{a="x\\"y"} 2\n';
  assert.equal(parseExposition(good).get('h').samples.length, 4);
});

test('/metrics: valid 0.0.4 text; requests, histograms, upstream connections and TLS handshakes move by exactly what was sent', { timeout: 60000 }, async () => {
  const certs = await t.makeTestCerts(h.tmpDir('sluice-certs-'));
  const blue = await h.startUpstream({ pool: 'blue' });
  const slow = await h.startUpstream({ pool: 'slow' });
  const port = await h.freePort();
  const tport = await h.freePort();
  const mport = await h.freePort();
  const toml = h
    .sluiceToml({
      port,
      pools: { blue: [blue.addr], slow: [slow.addr] },
      routes: [
        '[[route]]', 'name = "app"', 'path_prefix = "/"', 'split = { blue = 100 }', 'baseline = "blue"', '',
        '[[route]]', 'name = "slow"', 'path_prefix = "/slow"', 'split = { slow = 100 }', 'baseline = "slow"',
      ].join('\n'),
      listeners: `[[listener]]\nlisten = "127.0.0.1:${port}"\n\n${t.tlsListenerToml({ port: tport, certs: [certs.rsa] })}`,
    })
    .replace('[admin]\n', `[admin]\nmetrics_listen = "127.0.0.1:${mport}"\n`);
  const sl = await h.startSluice(toml);
  const tcp = { host: '127.0.0.1', port: mport };
  const scrape = async () => parseExposition(await A.getMetrics(tcp));

  let m = await scrape();
  for (const fam of ['sluice_requests_total', 'sluice_request_duration_seconds', 'sluice_upstream_response_seconds', 'sluice_upstream_connections',
    'sluice_tls_handshakes_total', 'sluice_certificate_expiry_timestamp_seconds', 'sluice_route_weight', 'sluice_rollbacks_total',
    'sluice_config_reloads_total', 'sluice_upstream_server_healthy', 'sluice_connections', 'sluice_upstream_errors_total', 'sluice_upstream_ejections_total']) {
    assert.ok(m.has(fam) && m.get(fam).typeSet, `family ${fam} with a TYPE`);
  }
  assert.equal(m.get('sluice_request_duration_seconds').type, 'histogram');
  assert.equal(m.get('sluice_tls_handshakes_total').type, 'counter');

  // Certificate expiry = the certificate's notAfter.
  const end = (await t.openssl(['x509', '-noout', '-enddate', '-in', certs.rsa.cert])).stdout.trim().replace(/^notAfter=/, '');
  assert.equal(value(m, 'sluice_certificate_expiry_timestamp_seconds', 'sluice_certificate_expiry_timestamp_seconds', { cert: certs.rsa.cert }),
    Math.floor(Date.parse(end) / 1000));

  const before = m;
  const N = 23;
  const S = 5;
  for (let i = 0; i < N; i++) assert.equal((await A.hit(port)).status, 200);
  for (let i = 0; i < S; i++) assert.equal((await A.hit(port, { path: '/slow/delay/30' })).status, 200);
  // One full TLS handshake that saves its session, then one resumption (TLS 1.2: the session is there at once).
  const sess = path.join(sl.dir, 'tls.sess');
  const full = await t.sClient(tport, ['-tls1_2', '-servername', 'localhost', '-sess_out', sess], { input: '' });
  assert.ok(full.handshake && full.newSession, full.all);
  const resumed = await t.sClient(tport, ['-tls1_2', '-servername', 'localhost', '-sess_in', sess], { input: '' });
  assert.ok(resumed.reused, resumed.all);

  const d = (after, fam, name, labels) => value(after, fam, name, labels) - value(before, fam, name, labels);
  await h.waitFor(async () => d(await scrape(), 'sluice_requests_total', 'sluice_requests_total') >= N + S, { what: 'requests counted' });
  m = await scrape();
  assert.equal(d(m, 'sluice_requests_total', 'sluice_requests_total', { route: 'app', pool: 'blue', code_class: '2xx' }), N);
  assert.equal(d(m, 'sluice_requests_total', 'sluice_requests_total', { route: 'slow', pool: 'slow' }), S);
  for (const fam of ['sluice_request_duration_seconds', 'sluice_upstream_response_seconds']) {
    assert.equal(d(m, fam, `${fam}_count`, { route: 'app', pool: 'blue' }), N, `${fam}_count moved by N`);
    assert.equal(d(m, fam, `${fam}_bucket`, { route: 'app', pool: 'blue', le: '+Inf' }), N);
    assert.equal(d(m, fam, `${fam}_count`, { route: 'slow', pool: 'slow' }), S);
    // The slow upstream waits 30 ms: none of its requests is in the 25 ms bucket, every one in 50 ms... or later.
    assert.equal(d(m, fam, `${fam}_bucket`, { route: 'slow', pool: 'slow', le: '0.025' }), 0, `${fam}: nothing under 25 ms`);
    assert.ok(d(m, fam, `${fam}_sum`, { route: 'slow', pool: 'slow' }) >= S * 0.03, `${fam}_sum counts the 30 ms waits`);
  }
  assert.equal(d(m, 'sluice_tls_handshakes_total', 'sluice_tls_handshakes_total', { result: 'full' }), 1);
  assert.equal(d(m, 'sluice_tls_handshakes_total', 'sluice_tls_handshakes_total', { result: 'resumed' }), 1);
  // A.hit closes each connection, so the upstream side keeps its keep-alive ones idle.
  const idle = value(m, 'sluice_upstream_connections', 'sluice_upstream_connections', { state: 'idle' });
  assert.ok(idle >= 1 && idle <= 2, `idle upstream connections: ${idle}`);
  assert.equal(value(m, 'sluice_upstream_connections', 'sluice_upstream_connections', { state: 'active' }), 0);
  await sl.stop();
});

test('passive ejection: consecutive connect failures take a server out at once; without health checks it comes back half-open after the cool-down', { timeout: 60000 }, async () => {
  const good = await h.startUpstream({ pool: 'good' });
  const deadPort = await A.deadPort();
  const port = await h.freePort();
  const sl = await h.startSluice(h.sluiceToml({ port, pools: { app: [good.addr, `127.0.0.1:${deadPort}`] } }));
  const failures = () => sl.events().filter((e) => e.event === 'upstream_connect_failed').length;
  const states = () => sl.events().filter((e) => e.event === 'upstream_server_state');

  // Every request is answered (a failed connect is retried on the other server) and after
  // three failures the dead server gets no more attempts.
  for (let i = 0; i < 30; i++) assert.equal((await A.hit(port)).status, 200);
  assert.equal(failures(), 3, 'three connect failures, then no more tries');
  const out = await h.waitFor(() => states().find((e) => e.state === 'unhealthy'), { what: 'passive ejection event' });
  assert.equal(out.check, 'passive');
  assert.equal(out.server, `127.0.0.1:${deadPort}`);
  let m = await A.getMetrics(path.join(sl.dir, "admin.sock"));
  assert.equal(A.metricSum(m, 'sluice_upstream_ejections_total', { cause: 'passive' }), 1);
  assert.equal(A.metricSum(m, 'sluice_upstream_server_healthy', { server: `127.0.0.1:${deadPort}` }), 0);
  // /v1/status says who took it out.
  const ups = (await A.getStatus(path.join(sl.dir, 'admin.sock'))).upstreams;
  assert.deepEqual(ups.find((u) => u.server === `127.0.0.1:${deadPort}`), { pool: 'app', server: `127.0.0.1:${deadPort}`, healthy: false, ejected_by: 'passive', health_check: false });
  assert.equal(ups.find((u) => u.server === good.addr).ejected_by, null);

  // After 10 s it is tried again; one more failure takes it out again.
  await h.waitFor(() => states().some((e) => e.state === 'healthy'), { timeout: 15000, what: 'half-open re-admission' });
  for (let i = 0; i < 10; i++) assert.equal((await A.hit(port)).status, 200);
  assert.equal(failures(), 4, 'half-open: a single failure ejects again');
  await h.waitFor(() => states().filter((e) => e.state === 'unhealthy').length === 2, { what: 'second ejection event' });
  m = await A.getMetrics(path.join(sl.dir, "admin.sock"));
  assert.equal(A.metricSum(m, 'sluice_upstream_ejections_total', { cause: 'passive' }), 2);
  await sl.stop();
});

test('passive ejection with active checks: re-admitted only by `healthy` passing checks, then gets traffic again', { timeout: 60000 }, async () => {
  const good = await h.startUpstream({ pool: 'good' });
  // A port that refuses now and gets a server later.
  const laterPort = await A.deadPort();
  const port = await h.freePort();
  const hc = 'health_check = { path = "/health", interval = "500ms", timeout = "300ms", unhealthy = 4, healthy = 2 }';
  const sl = await h.startSluice(h.sluiceToml({ port, pools: { app: { servers: [good.addr, `127.0.0.1:${laterPort}`], extra: hc } } }));
  const states = () => sl.events().filter((e) => e.event === 'upstream_server_state');
  // Traffic finds the dead server before 4 checks (2 s) do.
  for (let i = 0; i < 12; i++) assert.equal((await A.hit(port)).status, 200);
  const out = await h.waitFor(() => states().find((e) => e.state === 'unhealthy'), { what: 'ejection' });
  assert.equal(out.check, 'passive', JSON.stringify(states()));
  assert.equal(sl.events().filter((e) => e.event === 'upstream_connect_failed').length, 4, 'the pool\'s `unhealthy` = 4 failures');

  // The server comes up: the active checks re-admit it after two passes.
  await h.startUpstream({ pool: 'later', port: laterPort });
  const back = await h.waitFor(() => states().find((e) => e.state === 'healthy'), { timeout: 10000, what: 're-admission' });
  assert.equal(back.check, 'active');
  const pools = new Set();
  for (let i = 0; i < 10; i++) pools.add((await A.hit(port)).pool);
  assert.ok(pools.has('later'), `traffic reaches the re-admitted server: ${[...pools]}`);
  await sl.stop();
});

test('a pool whose servers are all ejected answers 503 at once, and that counts as an error of the pool', { timeout: 30000 }, async () => {
  const deadPort = await A.deadPort();
  const port = await h.freePort();
  const sl = await h.startSluice(h.sluiceToml({ port, pools: { app: [`127.0.0.1:${deadPort}`] } }));
  const codes = [];
  for (let i = 0; i < 8; i++) codes.push((await A.hit(port)).status);
  assert.deepEqual(codes, [502, 502, 502, 503, 503, 503, 503, 503]);
  await h.waitFor(async () => A.metricSum(await A.getMetrics(path.join(sl.dir, "admin.sock")), 'sluice_requests_total', { route: 'app' }) === 8, { what: 'counted' });
  const m = await A.getMetrics(path.join(sl.dir, "admin.sock"));
  assert.equal(A.metricSum(m, 'sluice_upstream_errors_total', { route: 'app', kind: 'connect' }), 8);
  await sl.stop();
});
