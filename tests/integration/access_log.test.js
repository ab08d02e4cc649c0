'use strict';
// Access log (stdout, one JSON line per request) and event log (stderr, JSON lines).
const { test, before, after } = require('node:test');
const h = require('./lib/harness');
const { assert } = h;

const FIELDS = ['time', 'request_id', 'client_ip', 'method', 'path', 'status', 'bytes', 'duration_ms', 'route', 'pool', 'upstream', 'upstream_ms'];

let up;
let sl;

before(async () => {
  up = await h.startUpstream({ pool: 'blue' });
  sl = await h.startSluice(
    h.sluiceToml({
      port: await h.freePort(),
      global: { access_log: '-' },
      routes: '[[route]]\nname = "web"\npath_prefix = "/log/"\nsplit = { app = 100 }\n',
      servers: [up.addr],
    }),
  );
});
after(h.cleanup);

const requestLines = (s) => s.accessLog().filter((l) => l.request_id !== undefined || l.path !== undefined);

test('one JSON line per request with the documented fields', async () => {
  const before = requestLines(sl).length;
  const r1 = await h.request(sl.port, { path: '/log/one', headers: { Host: 'app.test', 'X-Request-Id': 'log-test-id-1' } });
  const r2 = await h.request(sl.port, { method: 'POST', path: '/log/two', headers: { Host: 'app.test' }, body: 'twelve bytes' });
  assert.equal(r1.status, 200);
  assert.equal(r2.status, 200);
  const lines = await h.waitFor(() => {
    const l = requestLines(sl).slice(before);
    return l.length >= 2 && l;
  }, { timeout: 3000, what: 'two access log lines' });
  assert.equal(lines.length, 2, JSON.stringify(lines));
  assert.equal(sl.accessLog().filter((l) => l._unparsed).length, 0, `every stdout line is JSON: ${sl.stdout.slice(0, 500)}`);
  const [a, b] = lines;
  for (const f of FIELDS) {
    assert.ok(f in a, `field ${f} in ${JSON.stringify(a)}`);
  }
  assert.ok(!Number.isNaN(Date.parse(a.time)), `time parses: ${a.time}`);
  assert.equal(a.request_id, 'log-test-id-1');
  assert.equal(a.client_ip, '127.0.0.1');
  assert.equal(a.method, 'GET');
  assert.equal(a.path, '/log/one');
  assert.equal(a.status, 200);
  assert.equal(typeof a.bytes, 'number');
  assert.ok(a.bytes >= r1.body.length, `bytes ${a.bytes} >= body ${r1.body.length}`);
  assert.equal(typeof a.duration_ms, 'number');
  assert.equal(typeof a.upstream_ms, 'number');
  assert.ok(a.upstream_ms <= a.duration_ms + 1);
  assert.equal(a.route, 'web');
  assert.equal(a.pool, 'app');
  assert.equal(a.upstream, up.addr);
  assert.equal(b.method, 'POST');
  assert.equal(b.path, '/log/two');
  assert.equal(b.request_id, r2.headers['x-request-id'], 'generated id logged and echoed');
});

test('errors are logged too (404 without route/pool)', async () => {
  const before = requestLines(sl).length;
  const r = await h.request(sl.port, { path: '/not-routed', headers: { Host: 'app.test' } });
  assert.equal(r.status, 404);
  const [line] = await h.waitFor(() => {
    const l = requestLines(sl).slice(before);
    return l.length >= 1 && l;
  }, { timeout: 3000, what: 'an access log line for the 404' });
  assert.equal(line.status, 404);
  assert.equal(line.path, '/not-routed');
});

test('events on stderr are JSON lines with time, level and event', async () => {
  const events = sl.events();
  assert.ok(events.length >= 1, 'at least the start-up event');
  for (const e of events) {
    assert.ok(!e._unparsed, `stderr line is not JSON: ${e._unparsed}`);
    assert.ok(e.time && e.level && e.event, `event has time/level/event: ${JSON.stringify(e)}`);
  }
  assert.ok(events.some((e) => e.event === 'started'), `a "started" event: ${sl.stderr.slice(0, 500)}`);
});

test('access_log = "off" writes no access lines', async () => {
  const s2 = await h.startSluice(h.sluiceToml({ port: await h.freePort(), servers: [up.addr], global: { access_log: 'off' } }));
  for (let i = 0; i < 3; i++) {
    assert.equal((await h.request(s2.port, { path: `/off/${i}`, headers: { Host: 'app.test' } })).status, 200);
  }
  await h.sleep(300);
  assert.equal(s2.stdout.trim(), '', 'nothing on stdout');
  await s2.stop();
});

test('access_log = PATH writes the lines to that file', async () => {
  const dir = h.tmpDir();
  const file = `${dir}/access.log`;
  const s3 = await h.startSluice(h.sluiceToml({ port: await h.freePort(), servers: [up.addr], global: { access_log: file } }));
  assert.equal((await h.request(s3.port, { path: '/tofile', headers: { Host: 'app.test' } })).status, 200);
  const fs = require('node:fs');
  const line = await h.waitFor(() => fs.existsSync(file) && fs.readFileSync(file, 'utf8').split('\n').find((l) => l.includes('/tofile')), {
    timeout: 3000,
    what: 'the access line in the file',
  });
  assert.equal(JSON.parse(line).path, '/tofile');
  await s3.stop();
});
