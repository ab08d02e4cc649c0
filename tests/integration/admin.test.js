'use strict';
// Admin API over the Unix socket (SPEC: Admin API, [admin], sluicectl): socket mode and
// ownership of the path, status shape, every error path answering JSON and changing
// nothing, dry_run, the admin event log, metrics, the read-only metrics listener,
// readiness while draining, and sluicectl with its exit codes.
const fs = require('node:fs');
const path = require('node:path');
const { test, before, after } = require('node:test');
const h = require('./lib/harness');
const A = require('./lib/admin');
const { assert } = h;

let a;
let b;
let sl;
let sock;
let current = { a: 70, b: 30 }; // what the shared sluice's effective split must be

// The default harness config with a custom [admin] section.
function tomlWith({ port, pools, split = '{ a = 70, b = 30 }', socketPath, adminExtra = '', global = {} }) {
  let t = h.sluiceToml({
    port,
    global,
    pools,
    routes: `[[route]]\nname = "app"\nsplit = ${split}\nbaseline = "a"\n`,
  });
  const sockLine = 'socket = "{{dir}}/admin.sock"';
  assert.ok(t.includes(sockLine), 'harness config has the admin socket line');
  t = t.replace(sockLine, `socket = ${JSON.stringify(socketPath || '{{dir}}/admin.sock')}${adminExtra ? `\n${adminExtra}` : ''}`);
  return t;
}

before(async () => {
  a = await h.startUpstream({ pool: 'a' });
  b = await h.startUpstream({ pool: 'b' });
  sl = await h.startSluice(tomlWith({ port: await h.freePort(), pools: { a: [a.addr], b: [b.addr] } }));
  sock = `${sl.dir}/admin.sock`;
  await h.waitFor(() => fs.existsSync(sock), { timeout: 5000, what: 'the admin socket' });
});
after(h.cleanup);

async function expectUnchanged(what) {
  const r = await A.getRoute(sock);
  assert.deepEqual(r.effective, current, `${what}: effective weights unchanged`);
  assert.deepEqual(r.configured, { a: 70, b: 30 }, `${what}: configured weights unchanged`);
  return r;
}

const pools = async (n) => (await A.hitMany(sl.port, n)).tally;

// curl, as an operator would.
async function curlAdmin(method, p, body) {
  const args = ['--unix-socket', sock, '-X', method];
  if (body !== undefined) args.push('-H', 'Content-Type: application/json', '--data-binary', body);
  const res = await h.curlRequest(`http://sluice${p}`, args);
  assert.ok(res && res.status, `admin ${method} ${p}: ${JSON.stringify(res)}`);
  return res;
}

test('admin socket is a socket with mode 0600', () => {
  const st = fs.lstatSync(sock);
  assert.ok(st.isSocket());
  assert.equal(st.mode & 0o777, 0o600);
  assert.equal(st.uid, process.getuid());
});

test('curl --unix-socket http://sluice/v1/status works; status has the documented shape', async () => {
  const res = await curlAdmin('GET', '/v1/status');
  assert.equal(res.status, 200);
  assert.match(res.headers['content-type'] || '', /application\/json/);
  const s = JSON.parse(res.body);
  assert.equal(typeof s.version, 'string');
  assert.match(s.version, /\d+\.\d+\.\d+/);
  assert.equal(typeof s.uptime_s, 'number');
  assert.ok(s.uptime_s >= 0);
  assert.equal(s.workers, 1);
  assert.equal(typeof s.connections, 'object');
  assert.equal(typeof s.connections.active, 'number');
  assert.equal(typeof s.connections.idle, 'number');
  assert.ok(Array.isArray(s.routes));
  const r = s.routes.find((x) => x.name === 'app');
  assert.ok(r, JSON.stringify(s));
  assert.deepEqual(r.configured, { a: 70, b: 30 });
  assert.deepEqual(r.effective, { a: 70, b: 30 });
  assert.equal(r.rollback, null);
  assert.equal(r.rollout, null);
  assert.deepEqual(Object.keys(r.pools).sort(), ['a', 'b']);
  for (const [name, p] of Object.entries(r.pools)) {
    for (const k of ['window_requests', 'window_errors', 'error_rate']) assert.equal(typeof p[k], 'number', `${name}.${k}: ${JSON.stringify(p)}`);
    assert.ok(p.p99_ms === null || typeof p.p99_ms === 'number', `${name}.p99_ms`);
    assert.ok(['inconclusive', 'healthy', 'failed'].includes(p.verdict), `${name}.verdict ${p.verdict}`);
  }
  // uptime moves
  await h.sleep(1100);
  assert.ok((await A.getStatus(sock)).uptime_s >= 1, 'uptime_s counts seconds');
});

test('window stats in status follow the traffic', async () => {
  const { tally } = await A.hitMany(sl.port, 50);
  await h.sleep(300);
  const r = await A.getRoute(sock);
  assert.equal(r.pools.a.window_requests, tally.a, JSON.stringify({ tally, pools: r.pools }));
  assert.equal(r.pools.b.window_requests, tally.b);
  assert.equal(r.pools.a.window_errors, 0);
  assert.equal(r.pools.a.verdict, 'healthy', `${tally.a} >= min_requests (default) requests, no errors: ${JSON.stringify(r.pools.a)}`);
});

test('every error path answers JSON {"error": ...} with the right status and changes nothing', async () => {
  const cases = [
    // [method, path, body, status]
    ['GET', '/nope', undefined, 404],
    ['GET', '/v1/nope', undefined, 404],
    ['GET', '/v1/routes/app', undefined, 404],
    ['PUT', '/v1/routes/nope/split', '{"a":50,"b":50}', 404],
    ['POST', '/v1/routes/nope/rollback', undefined, 404],
    ['GET', '/v1/routes/app/split', undefined, 405],
    ['POST', '/v1/routes/app/split', '{"a":50,"b":50}', 405],
    ['DELETE', '/v1/routes/app/split', undefined, 405],
    ['GET', '/v1/routes/app/rollback', undefined, 405],
    ['PUT', '/v1/status', '{}', 405],
    ['POST', '/v1/status', '{}', 405],
    ['GET', '/v1/reload', undefined, 405],
    ['POST', '/metrics', '', 405],
    ['PUT', '/v1/routes/app/split', '{"a":50,', 400], // bad JSON
    ['PUT', '/v1/routes/app/split', 'not json', 400],
    ['PUT', '/v1/routes/app/split', '', 400], // no body
    ['PUT', '/v1/routes/app/split', '[50,50]', 400], // not an object
    ['PUT', '/v1/routes/app/split', '{"a":50,"b":50,"ghost":10}', 400], // unknown pool
    ['PUT', '/v1/routes/app/split', '{"ghost":10}', 400],
    ['PUT', '/v1/routes/app/split', '{"a":100}', 400], // missing pool
    ['PUT', '/v1/routes/app/split', '{"a":0,"b":0}', 400], // sum 0
    ['PUT', '/v1/routes/app/split', '{"a":-1,"b":50}', 400], // negative
    ['PUT', '/v1/routes/app/split', '{"a":50.5,"b":49.5}', 400], // non-integer
    ['PUT', '/v1/routes/app/split', '{"a":"50","b":"50"}', 400], // strings
    ['PUT', '/v1/routes/app/split', '{"a":null,"b":50}', 400],
    ['PUT', '/v1/routes/app/split', '{"a":50,"b":true}', 400],
    ['POST', '/v1/routes/app/rollback?pool=ghost', undefined, 400], // unknown pool
    ['POST', '/v1/routes/app/rollback?pool=a', undefined, 400], // the baseline
  ];
  const failures = [];
  for (const [method, p, body, status] of cases) {
    const res = await A.adminRequest(sock, method, p, body);
    const what = `${method} ${p} ${body === undefined ? '' : JSON.stringify(body)}`;
    if (res.status !== status) failures.push(`${what}: status ${res.status}, want ${status}: ${res.text}`);
    else if (!res.json || typeof res.json.error !== 'string' || !res.json.error) failures.push(`${what}: body not {"error": "..."}: ${res.text}`);
    else if (!/application\/json/.test(res.headers['content-type'] || '')) failures.push(`${what}: content-type ${res.headers['content-type']}`);
    else if (status === 405 && !res.headers.allow) failures.push(`${what}: 405 without Allow`);
    const r = await A.getRoute(sock);
    if (JSON.stringify(r.effective) !== JSON.stringify(current) || r.rollback !== null) {
      failures.push(`${what}: weights changed to ${JSON.stringify(r.effective)} rollback=${JSON.stringify(r.rollback)}`);
      current = r.effective; // report the next ones against the new state
    }
  }
  assert.deepEqual(failures, []);
  await expectUnchanged('after all refused calls');
  const { tally } = await A.hitMany(sl.port, 100);
  assert.deepEqual(tally, { a: 70, b: 30 }, 'traffic still follows 70/30');
});

test('dry_run validates and changes nothing', async () => {
  const ok = await A.setSplit(sock, 'app', { a: 0, b: 100 }, { dryRun: true });
  assert.equal(ok.status, 200, ok.text);
  await expectUnchanged('PUT split?dry_run=1');
  const bad = await A.setSplit(sock, 'app', { a: 0, b: 0 }, { dryRun: true });
  assert.equal(bad.status, 400, `dry_run still validates: ${bad.text}`);
  assert.equal(typeof bad.json.error, 'string');
  const rb = await A.adminRequest(sock, 'POST', '/v1/routes/app/rollback?dry_run=1');
  assert.equal(rb.status, 200, rb.text);
  const r = await expectUnchanged('POST rollback?dry_run=1');
  assert.equal(r.rollback, null);
  const rl = await A.adminRequest(sock, 'POST', '/v1/reload?dry_run=1');
  assert.equal(rl.status, 200, rl.text);
  await expectUnchanged('POST reload?dry_run=1');
  const { tally } = await A.hitMany(sl.port, 100);
  assert.deepEqual(tally, { a: 70, b: 30 });
  assert.equal(A.eventsNamed(sl, 'rollback').length, 0, 'no rollback event for a dry run');
});

test('PUT split applies at once, persists, and logs an admin event with the caller uid and pid', async () => {
  const res = await A.setSplit(sock, 'app', { a: 0, b: 100 });
  assert.equal(res.status, 200, res.text);
  current = { a: 0, b: 100 };
  assert.deepEqual(await pools(10), { b: 10 });
  const r = await A.getRoute(sock);
  assert.deepEqual(r.effective, { a: 0, b: 100 });
  assert.deepEqual(r.configured, { a: 70, b: 30 });
  const state = path.join(sl.dir, 'state', 'state.json');
  assert.ok(fs.existsSync(state), 'state.json written on an operator split');
  const ev = await h.waitFor(() => sl.events().find((e) => e.event === 'admin' && e.action === 'split' && !e.dry_run && e.status === 200), {
    timeout: 2000,
    what: 'admin event for the split',
  });
  assert.equal(ev.uid, process.getuid(), `uid from SO_PEERCRED: ${JSON.stringify(ev)}`);
  assert.equal(ev.pid, process.pid, `pid from SO_PEERCRED (this test process): ${JSON.stringify(ev)}`);
  // Every mutating call is logged, refused and dry runs included.
  const actions = new Set(sl.events().filter((e) => e.event === 'admin').map((e) => e.action));
  for (const act of ['split', 'rollback', 'reload']) assert.ok(actions.has(act), `admin event for ${act}: ${[...actions]}`);
  const dry = sl.events().find((e) => e.event === 'admin' && e.dry_run === true);
  assert.ok(dry, 'dry runs are logged too');
  assert.ok(typeof dry.uid === 'number' && typeof dry.pid === 'number');
});

test('POST rollback sets the non-baseline pool to 0 and names it in status; PUT split restores', async () => {
  let res = await A.setSplit(sock, 'app', { a: 70, b: 30 });
  assert.equal(res.status, 200, res.text);
  current = { a: 70, b: 30 };
  res = await A.adminRequest(sock, 'POST', '/v1/routes/app/rollback?pool=b');
  assert.equal(res.status, 200, res.text);
  current = { a: 100, b: 0 };
  const r = await A.getRoute(sock);
  assert.deepEqual(r.effective, { a: 100, b: 0 });
  assert.ok(r.rollback && r.rollback.pool === 'b', JSON.stringify(r.rollback));
  assert.deepEqual(await pools(20), { a: 20 });
  const m = await A.getMetrics(sock);
  assert.equal(A.metricSum(m, 'sluice_rollbacks_total', { route: 'app', pool: 'b' }), 1);
  assert.equal(A.metricSum(m, 'sluice_route_weight', { route: 'app', pool: 'b' }), 0);
  assert.equal(A.metricSum(m, 'sluice_route_weight', { route: 'app', pool: 'a' }), 100);
  res = await A.setSplit(sock, 'app', { a: 70, b: 30 });
  assert.equal(res.status, 200);
  current = { a: 70, b: 30 };
  assert.equal((await A.getRoute(sock)).rollback, null);
});

test('GET /metrics: Prometheus text; sluice_requests_total moves by exactly the requests sent', async () => {
  const res = await curlAdmin('GET', '/metrics');
  assert.equal(res.status, 200);
  assert.match(res.headers['content-type'] || '', /^text\/plain/);
  const text = res.body.toString();
  assert.match(text, /^# TYPE sluice_requests_total counter$/m);
  assert.match(text, /^sluice_requests_total\{[^}]*route="app"[^}]*\} \d+/m);
  assert.match(text, /^sluice_route_weight\{[^}]*\} \d+/m);
  assert.match(text, /^sluice_rollbacks_total\{[^}]*\} \d+/m);

  const sum = async (labels = {}) => A.metricSum(await A.getMetrics(sock), 'sluice_requests_total', { route: 'app', ...labels });
  const before0 = { all: await sum(), a: await sum({ pool: 'a' }), b: await sum({ pool: 'b' }), ok: await sum({ code_class: '2xx' }) };
  const N = 37;
  const { tally } = await A.hitMany(sl.port, N, { concurrency: 3 });
  const notFound = await A.hit(sl.port, { path: '/status/404' });
  assert.equal(notFound.status, 404);
  await h.waitFor(async () => (await sum()) - before0.all >= N + 1, { timeout: 3000, what: 'sluice_requests_total to move' });
  await h.sleep(300);
  const after0 = { all: await sum(), a: await sum({ pool: 'a' }), b: await sum({ pool: 'b' }), ok: await sum({ code_class: '2xx' }), c4: await sum({ code_class: '4xx' }) };
  assert.equal(after0.all - before0.all, N + 1, 'moves by exactly the requests sent');
  assert.equal(after0.ok - before0.ok, N, '2xx moved by N');
  assert.ok(after0.c4 >= 1, '4xx counted');
  assert.equal(after0.a - before0.a + (after0.b - before0.b), N + 1);
  assert.equal(after0.b - before0.b + (notFound.pool === 'b' ? -1 : 0), tally.b || 0, 'per pool counts match the pools that answered');
});

test('health endpoints', async () => {
  assert.equal((await curlAdmin('GET', '/health/live')).status, 200);
  assert.equal((await curlAdmin('GET', '/health/ready')).status, 200);
});

test('a stale admin socket file is replaced; a live one makes a second sluice refuse to start', { timeout: 60000 }, async () => {
  const dir = h.tmpDir('sluice-sock-');
  const sockPath = path.join(dir, 'admin.sock');
  const up = await h.startUpstream({ pool: 'a' });
  const mk = async () => tomlWith({ port: await h.freePort(), pools: { a: [up.addr], b: [up.addr] }, socketPath: sockPath });

  // A sluice killed with SIGKILL leaves its socket file behind.
  const first = await h.startSluice(await mk());
  await h.waitFor(() => fs.existsSync(sockPath), { timeout: 5000, what: 'socket' });
  first.kill('SIGKILL');
  await first.waitExit(5000);
  assert.ok(fs.lstatSync(sockPath).isSocket(), 'stale socket left behind');

  const second = await h.startSluice(await mk());
  await h.waitFor(async () => (await A.adminRequest(sockPath, 'GET', '/v1/status').catch(() => ({}))).status === 200, {
    timeout: 5000,
    what: 'the new sluice answering on the replaced socket',
  });
  assert.equal(fs.lstatSync(sockPath).mode & 0o777, 0o600);

  // A third one on the same (live) socket must refuse to start, and leave the socket alone.
  const third = await h.startSluice(await mk(), { waitListening: false });
  const ex = await third.waitExit(10000);
  assert.notEqual(ex.code, 0, `second sluice on a live socket exits non-zero: ${JSON.stringify(ex)}`);
  assert.match(third.stderr, /admin\.sock/, `message names the socket:\n${third.stderr}`);
  assert.match(third.stderr, /another sluice|in use|already|listening/i, `clear message:\n${third.stderr}`);
  assert.ok(fs.lstatSync(sockPath).isSocket(), 'the live socket file is still there');
  const st = await A.adminRequest(sockPath, 'GET', '/v1/status');
  assert.equal(st.status, 200, 'the running sluice still answers on its socket');
  assert.equal(second.exited, null, 'the running sluice is unaffected');
  await second.stop();
  assert.ok(!fs.existsSync(sockPath), 'a clean shutdown removes its socket file');
});

test('metrics_listen serves GET /metrics and /health/* over TCP, read-only', { timeout: 30000 }, async () => {
  const up = await h.startUpstream({ pool: 'a' });
  const mport = await h.freePort();
  const s = await h.startSluice(
    tomlWith({ port: await h.freePort(), pools: { a: [up.addr], b: [up.addr] }, adminExtra: `metrics_listen = "127.0.0.1:${mport}"` }),
  );
  const asock = `${s.dir}/admin.sock`;
  const tcp = { port: mport };
  await h.waitFor(async () => (await A.adminRequest(tcp, 'GET', '/health/live').catch(() => ({}))).status === 200, { timeout: 5000, what: 'metrics listener' });
  const m = await A.adminRequest(tcp, 'GET', '/metrics');
  assert.equal(m.status, 200);
  assert.match(m.text, /^sluice_requests_total\{/m);
  assert.equal((await A.adminRequest(tcp, 'GET', '/health/ready')).status, 200);
  for (const [method, p, body] of [
    ['PUT', '/v1/routes/app/split', '{"a":0,"b":100}'],
    ['POST', '/v1/routes/app/rollback', undefined],
    ['POST', '/v1/reload', undefined],
    ['GET', '/v1/status', undefined],
    ['PUT', '/metrics', '{}'],
  ]) {
    const r = await A.adminRequest(tcp, method, p, body);
    assert.ok(r.status === 404 || r.status === 405 || r.status === 403, `${method} ${p} over TCP refused: ${r.status} ${r.text}`);
  }
  const r = await A.getRoute(asock);
  assert.deepEqual(r.effective, { a: 70, b: 30 }, 'nothing changed through the TCP listener');
  assert.equal(r.rollback, null);
  assert.ok(!s.events().some((e) => e.event === 'admin'), 'no admin action was performed');
  await s.stop();
});

test('/health/ready turns 503 after SIGTERM while a slow request is still in flight', { timeout: 30000 }, async () => {
  const up = await h.startUpstream({ pool: 'a' });
  const mport = await h.freePort();
  const s = await h.startSluice(
    tomlWith({ port: await h.freePort(), pools: { a: [up.addr], b: [up.addr] }, adminExtra: `metrics_listen = "127.0.0.1:${mport}"`, global: { drain_timeout: '10s' } }),
  );
  const asock = `${s.dir}/admin.sock`;
  await h.waitFor(() => fs.existsSync(asock), { timeout: 5000, what: 'admin socket' });
  assert.equal((await A.adminRequest(asock, 'GET', '/health/ready')).status, 200);
  const slow = A.hit(s.port, { path: '/delay/2500', timeout: 10000 });
  await h.waitFor(() => up.seen('/delay/2500').length === 1, { timeout: 3000, what: 'the slow request at the upstream' });
  const t0 = Date.now();
  s.kill('SIGTERM');
  await h.waitFor(async () => (await A.adminRequest(asock, 'GET', '/health/ready').catch(() => ({}))).status === 503, {
    timeout: 1500,
    every: 20,
    what: '/health/ready 503 on the admin socket while draining',
  });
  const ready = await A.adminRequest(asock, 'GET', '/health/ready');
  assert.equal(ready.status, 503);
  const tcpReady = await A.adminRequest({ port: mport }, 'GET', '/health/ready');
  assert.equal(tcpReady.status, 503, 'and on the metrics listener');
  assert.equal(s.exited, null, 'still draining: the slow request is in flight');
  assert.ok(Date.now() - t0 < 2500);
  const res = await slow;
  assert.equal(res.status, 200, `the in-flight request completes: ${res.error || res.status}`);
  const ex = await s.waitExit(10000);
  assert.equal(ex.code, 0);
});

test('sluicectl: status, split, rollback, metrics, --json, and exit codes 1 / 2 / 3', { timeout: 60000 }, async () => {
  const run = (...args) => A.sluicectl(['-s', sock, ...args]);

  const st = await run('--json', 'status');
  assert.equal(st.code, 0, st.stderr);
  const doc = JSON.parse(st.stdout);
  assert.deepEqual(doc.routes.find((r) => r.name === 'app').effective, current);
  const human = await run('status');
  assert.equal(human.code, 0, human.stderr);
  assert.match(human.stdout, /app/);
  assert.match(human.stdout, /\ba\b/);
  assert.throws(() => JSON.parse(human.stdout), 'human output by default');

  const ok = await run('split', 'app', 'a=100', 'b=0');
  assert.equal(ok.code, 0, ok.stdout + ok.stderr);
  current = { a: 100, b: 0 };
  assert.deepEqual(await pools(5), { a: 5 });
  assert.deepEqual((await A.getRoute(sock)).effective, current);

  const okJson = await run('--json', 'split', 'app', 'a=50', 'b=50');
  assert.equal(okJson.code, 0, okJson.stderr);
  assert.doesNotThrow(() => JSON.parse(okJson.stdout), `--json split prints JSON: ${okJson.stdout}`);
  current = { a: 50, b: 50 };
  assert.deepEqual((await A.getRoute(sock)).effective, current);

  const rb = await run('rollback', 'app', 'b');
  assert.equal(rb.code, 0, rb.stdout + rb.stderr);
  current = { a: 100, b: 0 };
  const r = await A.getRoute(sock);
  assert.deepEqual(r.effective, current);
  assert.equal(r.rollback && r.rollback.pool, 'b');
  const st2 = JSON.parse((await run('--json', 'status')).stdout);
  assert.equal(st2.routes.find((x) => x.name === 'app').rollback.pool, 'b');

  const met = await run('metrics');
  assert.equal(met.code, 0, met.stderr);
  assert.match(met.stdout, /^sluice_requests_total\{/m);

  // 1: refused by the server, with its message, nothing changed.
  for (const args of [['split', 'app', 'ghost=1'], ['split', 'app', 'a=0', 'b=0'], ['split', 'nope', 'a=1', 'b=1'], ['rollback', 'app', 'ghost']]) {
    const bad = await run(...args);
    assert.equal(bad.code, 1, `${args.join(' ')}: exit ${bad.code}\n${bad.stdout}${bad.stderr}`);
    assert.ok(bad.stderr.trim().length > 0, `${args.join(' ')}: the server's error on stderr`);
  }
  const bad = await run('split', 'app', 'ghost=1');
  assert.match(bad.stderr, /ghost/, 'the server error names the pool');
  assert.deepEqual((await A.getRoute(sock)).effective, current, 'refused commands changed nothing');

  // 2: usage errors, nothing sent.
  for (const args of [[], ['frobnicate'], ['split'], ['split', 'app'], ['--no-such-option', 'status']]) {
    const u = await run(...args);
    assert.equal(u.code, 2, `sluicectl ${args.join(' ')}: exit ${u.code}\n${u.stdout}${u.stderr}`);
  }

  // 3: cannot connect.
  const missing = await A.sluicectl(['-s', path.join(sl.dir, 'no-such.sock'), 'status']);
  assert.equal(missing.code, 3, `no socket: exit ${missing.code}\n${missing.stderr}`);
  assert.ok(missing.stderr.trim().length > 0, 'says why');

  const back = await run('split', 'app', 'a=70', 'b=30');
  assert.equal(back.code, 0, back.stderr);
  current = { a: 70, b: 30 };
  assert.equal((await A.getRoute(sock)).rollback, null);

  // --dry-run changes nothing; SLUICE_ADMIN_SOCKET is honoured; reload and its refusal.
  const dry = await run('--dry-run', 'split', 'app', 'a=0', 'b=100');
  assert.equal(dry.code, 0, dry.stderr);
  assert.deepEqual((await A.getRoute(sock)).effective, current, '--dry-run changed nothing');
  const env = await A.sluicectl(['--json', 'status'], { env: { SLUICE_ADMIN_SOCKET: sock } });
  assert.equal(env.code, 0, `SLUICE_ADMIN_SOCKET: ${env.stderr}`);
  assert.ok(JSON.parse(env.stdout).routes);
  await h.sleep(300); // no traffic in the last control ticks (reload under traffic: its own test)
  const rl = await run('reload');
  assert.equal(rl.code, 0, rl.stderr);
  const good = fs.readFileSync(sl.configPath, 'utf8');
  fs.writeFileSync(sl.configPath, good.replace('split = { a = 70, b = 30 }', 'split = { ghost = 1 }'));
  try {
    const badReload = await run('reload');
    assert.equal(badReload.code, 1, `reload of a broken config: exit ${badReload.code}\n${badReload.stderr}`);
    assert.match(badReload.stderr, /ghost/, 'the config errors are printed');
  } finally {
    fs.writeFileSync(sl.configPath, good);
  }
  assert.deepEqual((await A.getRoute(sock)).effective, current);
});

test('POST /v1/reload re-reads the config (400 with errors on a bad file, running config kept)', async () => {
  const good = fs.readFileSync(sl.configPath, 'utf8');
  await h.sleep(300); // no traffic in the last control ticks (reload under traffic: its own test)
  const ok = await A.adminRequest(sock, 'POST', '/v1/reload');
  assert.equal(ok.status, 200, ok.text);
  fs.writeFileSync(sl.configPath, good.replace('split = { a = 70, b = 30 }', 'split = { ghost = 1 }'));
  try {
    const bad = await A.adminRequest(sock, 'POST', '/v1/reload');
    assert.equal(bad.status, 400, bad.text);
    assert.equal(typeof bad.json.error, 'string');
    assert.match(bad.json.error, /ghost/);
  } finally {
    fs.writeFileSync(sl.configPath, good);
  }
  await expectUnchanged('after a refused reload');
  const { tally } = await A.hitMany(sl.port, 20);
  assert.equal((tally.a || 0) + (tally.b || 0), 20);
});

test('workers = 2: metrics over metrics_listen move by exactly the requests sent', { timeout: 30000 }, async () => {
  const up = await h.startUpstream({ pool: 'a' });
  const mport = await h.freePort();
  const s = await h.startSluice(
    tomlWith({ port: await h.freePort(), pools: { a: [up.addr], b: [up.addr] }, adminExtra: `metrics_listen = "127.0.0.1:${mport}"`, global: { workers: 2 } }),
  );
  const tcp = { port: mport };
  await h.waitFor(async () => (await A.adminRequest(tcp, 'GET', '/metrics').catch(() => ({}))).status === 200, { timeout: 5000, what: 'metrics listener' });
  const sum = async () => A.metricSum(await A.getMetrics(tcp), 'sluice_requests_total', { route: 'app' });
  const before0 = await sum();
  const N = 123;
  const { results } = await A.hitMany(s.port, N, { concurrency: 6 });
  assert.ok(results.every((r) => r.status === 200));
  await h.waitFor(async () => (await sum()) - before0 >= N, { timeout: 3000, what: 'counters from both workers' });
  await h.sleep(300);
  assert.equal((await sum()) - before0, N, 'summed across workers, exactly once each');
  await s.stop();
});

test('/health/ready is 503 when a routed pool has no healthy server (health_check)', { timeout: 30000 }, async () => {
  const up = await h.startUpstream({ pool: 'a' });
  const dead = await A.deadPort();
  const hc = 'health_check = { path = "/health", interval = "200ms", timeout = "200ms", unhealthy = 1, healthy = 1 }';
  const s = await h.startSluice(
    tomlWith({
      port: await h.freePort(),
      pools: { a: { servers: [up.addr], extra: hc }, b: { servers: [`127.0.0.1:${dead}`], extra: hc } },
    }),
  );
  const asock = `${s.dir}/admin.sock`;
  await h.waitFor(() => fs.existsSync(asock), { timeout: 5000, what: 'admin socket' });
  assert.equal((await A.adminRequest(asock, 'GET', '/health/live')).status, 200, 'live regardless');
  let last;
  const ok = await h
    .waitFor(async () => (last = (await A.adminRequest(asock, 'GET', '/health/ready')).status) === 503, { timeout: 4000, every: 100, what: 'ready 503' })
    .catch(() => false);
  assert.ok(ok, `pool b's only server refuses connections and fails its health checks, yet /health/ready answers ${last}`);
  await s.stop();
});

test('POST /v1/reload while requests are flowing: sluice stays up and every request is counted once', { timeout: 60000 }, async () => {
  const up = await h.startUpstream({ pool: 'a' });
  const s = await h.startSluice(tomlWith({ port: await h.freePort(), pools: { a: [up.addr], b: [up.addr] } }));
  const asock = `${s.dir}/admin.sock`;
  await h.waitFor(() => fs.existsSync(asock), { timeout: 5000, what: 'admin socket' });
  const sum = async () => A.metricSum(await A.getMetrics(asock), 'sluice_requests_total', { route: 'app' });
  const before0 = await sum();
  let stop = false;
  let sent = 0;
  const statuses = {};
  const traffic = (async () => {
    while (!stop) {
      const r = await A.hit(s.port, { path: `/rl/${sent}` });
      sent++;
      statuses[r.status] = (statuses[r.status] || 0) + 1;
      if (r.status === 0) return;
    }
  })();
  const reloads = [];
  for (let i = 0; i < 6; i++) {
    await h.sleep(150);
    const r = await A.adminRequest(asock, 'POST', '/v1/reload').catch(async (e) => {
      await h.sleep(300);
      return { status: 0, text: `${e} — sluice exited: ${JSON.stringify(s.exited)}` };
    });
    reloads.push(`${r.status} ${r.status === 200 ? '' : r.text}`);
    if (r.status !== 200) break;
  }
  stop = true;
  await traffic;
  assert.deepEqual(reloads, Array(6).fill('200 '), `reloads under traffic (${sent} requests sent, statuses ${JSON.stringify(statuses)})`);
  assert.equal(s.exited, null, 'sluice still running');
  assert.deepEqual(Object.keys(statuses), ['200'], `every request answered 200: ${JSON.stringify(statuses)}`);
  await h.sleep(300);
  assert.equal((await sum()) - before0, sent, 'requests counted exactly once across reloads');
  await s.stop();
});

test('refused mutating calls are in the event log too, with uid and pid (audit trail)', async () => {
  const t0 = sl.events().length;
  const refused = [
    ['PUT', '/v1/routes/app/split', 'not json'],
    ['PUT', '/v1/routes/app/split', '{"a":-1,"b":50}'],
    ['PUT', '/v1/routes/app/split', '{"a":50.5,"b":49.5}'],
    ['PUT', '/v1/routes/app/split', '{"a":50,"b":50,"ghost":1}'],
    ['PUT', '/v1/routes/app/split', '{"a":0,"b":0}'],
    ['PUT', '/v1/routes/nope/split', '{"a":1,"b":1}'],
    ['POST', '/v1/routes/app/rollback?pool=ghost', undefined],
  ];
  for (const [method, p, body] of refused) {
    const r = await A.adminRequest(sock, method, p, body);
    assert.ok(r.status >= 400, `${method} ${p} ${body}: ${r.status}`);
  }
  await h.sleep(100);
  const evs = sl.events().slice(t0).filter((e) => e.event === 'admin');
  assert.equal(
    evs.length,
    refused.length,
    `one admin event per refused call.\ncalls:\n${refused.map(([m, p, b]) => `  ${m} ${p} ${b === undefined ? '' : b}`).join('\n')}\nlogged:\n${evs.map((e) => `  ${JSON.stringify(e)}`).join('\n')}`,
  );
  for (const e of evs) {
    assert.equal(e.uid, process.getuid());
    assert.equal(e.pid, process.pid);
  }
  await expectUnchanged('after the refused calls');
});

test('status connections: idle keep-alive and active in-flight client connections', { timeout: 30000 }, async () => {
  const http = require('node:http');
  const up = await h.startUpstream({ pool: 'a' });
  const s = await h.startSluice(tomlWith({ port: await h.freePort(), pools: { a: [up.addr], b: [up.addr] } }));
  const asock = `${s.dir}/admin.sock`;
  await h.waitFor(() => fs.existsSync(asock), { timeout: 5000, what: 'admin socket' });
  // The harness's readiness probe connects and closes; sluice counts it until
  // it has seen the close, so wait for the count to settle at zero.
  await h.waitFor(async () => {
    const c = (await A.getStatus(asock)).connections;
    return c.active === 0 && c.idle === 0;
  }, { timeout: 2000, what: 'no client connections after start' });
  const agent = new http.Agent({ keepAlive: true, maxSockets: 3 });
  try {
    await Promise.all(
      [1, 2, 3].map(
        (i) =>
          new Promise((resolve, reject) => {
            http.get({ port: s.port, path: `/ka/${i}`, agent }, (res) => {
              res.resume();
              res.on('end', resolve);
            }).on('error', reject);
          }),
      ),
    );
    await h.waitFor(async () => (await A.getStatus(asock)).connections.idle === 3, { timeout: 2000, what: '3 idle keep-alive connections' });
    const slow = A.hit(s.port, { path: '/delay/800' });
    await h.waitFor(() => up.seen('/delay/800').length === 1, { timeout: 2000, what: 'slow request upstream' });
    const conns = (await A.getStatus(asock)).connections;
    assert.deepEqual({ active: conns.active, idle: conns.idle }, { active: 1, idle: 3 });
    // Idle ones may already be parked (after a quiet second): a part of idle.
    assert.ok(Number.isInteger(conns.parked) && conns.parked <= conns.idle, JSON.stringify(conns));
    assert.equal((await slow).status, 200);
  } finally {
    agent.destroy();
  }
  await h.waitFor(async () => (await A.getStatus(asock)).connections.idle === 0, { timeout: 2000, what: 'closed connections leave the count' });
  await s.stop();
});

test('a peer whose uid is not allowed gets 403; allow_uids admits it (SO_PEERCRED)', { timeout: 30000, skip: process.getuid() !== 0 && 'needs root to run a client as another uid' }, async () => {
  const cp = require('node:child_process');
  const NOBODY = 65534;
  const asNobody = (sockPath, method, p) =>
    new Promise((resolve) => {
      const child = cp.spawn('curl', ['-sS', '--max-time', '5', '-o', '-', '-w', '\n%{http_code}', '--unix-socket', sockPath, '-X', method, `http://sluice${p}`], {
        uid: NOBODY,
        gid: NOBODY,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      let err = '';
      child.stdout.on('data', (d) => (out += d));
      child.stderr.on('data', (d) => (err += d));
      const t = setTimeout(() => child.kill('SIGKILL'), 8000);
      child.on('close', (code) => {
        clearTimeout(t);
        const lines = out.split('\n');
        resolve({ code, status: Number(lines.pop()), body: lines.join('\n'), err });
      });
    });
  const up = await h.startUpstream({ pool: 'a' });
  for (const [extra, want] of [['', 403], [`allow_uids = [${NOBODY}]`, 200]]) {
    const s = await h.startSluice(tomlWith({ port: await h.freePort(), pools: { a: [up.addr], b: [up.addr] }, adminExtra: extra }));
    const asock = `${s.dir}/admin.sock`;
    await h.waitFor(() => fs.existsSync(asock), { timeout: 5000, what: 'admin socket' });
    // Let the other uid reach the socket at all (the test opens the file mode; the uid check is sluice's).
    fs.chmodSync(s.dir, 0o711);
    fs.chmodSync(asock, 0o666);
    const st = await asNobody(asock, 'GET', '/v1/status');
    assert.equal(st.status, want, `uid ${NOBODY} with ${extra || 'default allow_uids'}: ${st.status} ${st.body} ${st.err}`);
    if (want === 403) {
      assert.equal(typeof JSON.parse(st.body).error, 'string', st.body);
      const put = await asNobody(asock, 'POST', '/v1/routes/app/rollback');
      assert.equal(put.status, 403);
      assert.deepEqual((await A.getRoute(asock)).effective, { a: 70, b: 30 }, 'a refused peer changed nothing');
    }
    await s.stop();
  }
});
