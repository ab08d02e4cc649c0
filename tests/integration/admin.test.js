'use strict';
// Admin API over the Unix socket (SPEC: Admin API). curl --unix-socket, as an operator would.
const fs = require('node:fs');
const { test, before, after } = require('node:test');
const h = require('./lib/harness');
const { assert } = h;

let a;
let b;
let sl;
let sock;

before(async () => {
  a = await h.startUpstream({ pool: 'a' });
  b = await h.startUpstream({ pool: 'b' });
  sl = await h.startSluice(
    h.sluiceToml({
      port: await h.freePort(),
      pools: { a: [a.addr], b: [b.addr] },
      routes: '[[route]]\nname = "app"\nsplit = { a = 100, b = 0 }\nbaseline = "a"\n',
    }),
  );
  sock = `${sl.dir}/admin.sock`;
  await h.waitFor(() => fs.existsSync(sock), { timeout: 5000, what: 'the admin socket' });
});
after(h.cleanup);

async function admin(method, p, body) {
  const args = ['--unix-socket', sock, '-X', method];
  if (body !== undefined) args.push('-H', 'Content-Type: application/json', '--data-binary', body);
  const res = await h.curlRequest(`http://sluice${p}`, args);
  assert.ok(res && res.status, `admin ${method} ${p}: ${JSON.stringify(res)}`);
  return res;
}

const pools = async (n) => {
  const count = {};
  for (let i = 0; i < n; i++) {
    const p = (await h.request(sl.port, { path: `/adm/${i}`, headers: { Host: 'app.test' } })).headers['x-pool'];
    count[p] = (count[p] || 0) + 1;
  }
  return count;
};

test('admin socket is mode 0600', () => {
  const st = fs.statSync(sock);
  assert.ok(st.isSocket());
  assert.equal(st.mode & 0o777, 0o600);
});

test('GET /v1/status shows version, workers and the route split', async () => {
  const res = await admin('GET', '/v1/status');
  assert.equal(res.status, 200);
  const s = JSON.parse(res.body);
  assert.match(s.version, /\d+\.\d+\.\d+/);
  assert.equal(s.workers, 1);
  const route = s.routes.find((r) => r.name === 'app');
  assert.ok(route, JSON.stringify(s));
  assert.deepEqual(route.configured, { a: 100, b: 0 });
  assert.deepEqual(route.effective, { a: 100, b: 0 });
});

test('PUT /v1/routes/app/split changes the split at once', async () => {
  assert.deepEqual(await pools(10), { a: 10 });
  const res = await admin('PUT', '/v1/routes/app/split', '{"a":0,"b":100}');
  assert.equal(res.status, 200, res.body.toString());
  assert.deepEqual(await pools(10), { b: 10 });
  const s = JSON.parse((await admin('GET', '/v1/status')).body);
  assert.deepEqual(s.routes.find((r) => r.name === 'app').effective, { a: 0, b: 100 });
});

test('dry_run validates and changes nothing', async () => {
  const res = await admin('PUT', '/v1/routes/app/split?dry_run=1', '{"a":100,"b":0}');
  assert.equal(res.status, 200, res.body.toString());
  assert.deepEqual(await pools(5), { b: 5 });
});

test('invalid splits are refused with 400 / 404 and {"error": ...}', async () => {
  for (const body of ['{"a":0,"b":0}', '{"a":-1,"b":5}', '{"a":1.5}', '{"ghost":10}', 'not json']) {
    const res = await admin('PUT', '/v1/routes/app/split', body);
    assert.equal(res.status, 400, `${body}: ${res.status} ${res.body}`);
    assert.ok(typeof JSON.parse(res.body).error === 'string');
  }
  const res = await admin('PUT', '/v1/routes/nope/split', '{"a":1}');
  assert.equal(res.status, 404);
  assert.ok(typeof JSON.parse(res.body).error === 'string');
  assert.deepEqual(await pools(5), { b: 5 }, 'refused changes changed nothing');
});

test('GET /metrics is Prometheus text with sluice_ metrics', async () => {
  const res = await admin('GET', '/metrics');
  assert.equal(res.status, 200);
  const text = res.body.toString();
  assert.match(text, /^sluice_requests_total\{[^}]*route="app"[^}]*\} \d+/m);
  assert.match(text, /^sluice_route_weight\{[^}]*\} \d+/m);
});

test('health endpoints', async () => {
  assert.equal((await admin('GET', '/health/live')).status, 200);
  assert.equal((await admin('GET', '/health/ready')).status, 200);
});

test('sluicectl: status, split, and exit 1 with the server error on a refused command', async () => {
  const path = require('node:path');
  const ctl = path.join(path.dirname(h.SLUICE_BIN), 'sluicectl');
  assert.ok(fs.existsSync(ctl), `sluicectl next to sluice: ${ctl}`);
  const run = (...args) => h.runCmd(ctl, ['-s', sock, ...args], { timeout: 10000 });

  const st = await run('--json', 'status');
  assert.equal(st.code, 0, st.stderr);
  assert.ok(JSON.parse(st.stdout).routes.some((r) => r.name === 'app'));
  const human = await run('status');
  assert.equal(human.code, 0, human.stderr);
  assert.match(human.stdout, /app/);

  const ok = await run('split', 'app', 'a=100', 'b=0');
  assert.equal(ok.code, 0, ok.stdout + ok.stderr);
  assert.deepEqual(await pools(5), { a: 5 });

  const bad = await run('split', 'app', 'ghost=1');
  assert.equal(bad.code, 1, bad.stdout + bad.stderr);
  assert.match(bad.stdout + bad.stderr, /ghost/);
  assert.deepEqual(await pools(5), { a: 5 }, 'nothing changed');
});
