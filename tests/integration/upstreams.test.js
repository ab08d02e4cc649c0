'use strict';
// Upstream failures: refused → 502, retry on another server, read timeout → 504.
const { test, before, after } = require('node:test');
const h = require('./lib/harness');
const { assert } = h;

let up;
let sl;
let deadPort;

before(async () => {
  up = await h.startUpstream({ pool: 'live', keepAliveTimeout: 30000 });
  deadPort = await h.freePort(); // nobody listens here: connect is refused
  const dead2 = await h.freePort();
  sl = await h.startSluice(
    h.sluiceToml({
      port: await h.freePort(),
      pools: {
        dead: [`127.0.0.1:${deadPort}`],
        mixed: [`127.0.0.1:${dead2}`, up.addr],
        slow: { servers: [up.addr], read_timeout: '1s' },
        // One pool per malformed response: the failure ejects the server from its pool.
        ...Object.fromEntries(Object.keys(h.RAW_BAD).map((k) => [`bad_${k}`, [up.addr]])),
      },
      routes: `
[[route]]
name = "dead"
path_prefix = "/dead/"
split = { dead = 100 }

[[route]]
name = "mixed"
path_prefix = "/mixed/"
split = { mixed = 100 }

[[route]]
name = "slow"
path_prefix = "/slow/"
split = { slow = 100 }
${Object.keys(h.RAW_BAD)
  .map((k) => `\n[[route]]\nname = "bad_${k}"\npath_prefix = "/bad_${k}/"\nsplit = { bad_${k} = 100 }\n`)
  .join('')}`,
    }),
  );
});
after(h.cleanup);

const get = (p, opts = {}) => h.request(sl.port, { path: p, headers: { Host: 'app.test' }, ...opts });

test('connection refused → 502', async () => {
  const res = await get('/dead/x');
  assert.equal(res.status, 502);
  const res2 = await get('/dead/y', { method: 'POST', body: 'abc' });
  assert.equal(res2.status, 502);
});

test('pool with one dead and one live server: every request succeeds (one retry on another server)', async () => {
  const statuses = [];
  for (let i = 0; i < 12; i++) {
    // New client connection each time; methods mixed (a failed connect is retried for any method).
    const method = i % 3 === 0 ? 'POST' : 'GET';
    const res = await get(`/mixed/${i}`, { method, body: method === 'POST' ? 'payload' : undefined });
    statuses.push(res.status);
  }
  assert.deepEqual(statuses, Array(12).fill(200));
  assert.equal(up.seen('/mixed/').length, 12, 'each request reached the live server exactly once');
});

test('upstream that never answers with read_timeout = 1s → 504', async () => {
  const t0 = Date.now();
  const res = await get('/slow/hang');
  const took = Date.now() - t0;
  assert.equal(res.status, 504);
  assert.ok(took >= 900 && took < 4000, `504 after ${took} ms, read_timeout is 1 s`);
});

test('upstream closing the connection without a response → 502', async () => {
  const res = await get('/slow/close', { method: 'POST', body: 'x' });
  assert.equal(res.status, 502);
});

for (const kind of Object.keys(h.RAW_BAD)) {
  test(`a malformed upstream response (${kind}) → 502, never passed on`, async () => {
    const res = await get(`/bad_${kind}/rawbad/${kind}`);
    assert.equal(res.status, 502, `got ${res.status} ${JSON.stringify(res.headers)}`);
  });
}

test('upstream 5xx statuses are passed through, not rewritten', async () => {
  const res = await get('/slow/status/503');
  assert.equal(res.status, 503);
  assert.equal(h.json(res).url, '/slow/status/503');
});
