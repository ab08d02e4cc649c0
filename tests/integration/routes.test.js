'use strict';
// Routing: exact host, wildcard host, any-host default, longest path_prefix,
// no route → 404, weighted split between two pools.
const { test, before, after } = require('node:test');
const h = require('./lib/harness');
const { assert } = h;

const ups = {};
let sl;

before(async () => {
  for (const name of ['exact', 'wild', 'def', 'api', 'apiv2', 'a', 'b']) ups[name] = await h.startUpstream({ pool: name, keepAliveTimeout: 30000 });
  const pools = {};
  for (const [name, u] of Object.entries(ups)) pools[name] = [u.addr];
  sl = await h.startSluice(
    h.sluiceToml({
      port: await h.freePort(),
      pools,
      routes: `
[[route]]
name = "exact"
hosts = ["exact.test"]
split = { exact = 100 }

[[route]]
name = "wild"
hosts = ["*.example.com"]
split = { wild = 100 }

[[route]]
name = "def"
path_prefix = "/"
split = { def = 100 }

[[route]]
name = "api"
path_prefix = "/api/"
split = { api = 100 }

[[route]]
name = "apiv2"
path_prefix = "/api/v2/"
split = { apiv2 = 100 }

[[route]]
name = "split"
hosts = ["split.test"]
split = { a = 50, b = 50 }
baseline = "a"
`,
    }),
  );
});
after(h.cleanup);

async function poolFor(host, p) {
  const res = await h.request(sl.port, { path: p, headers: { Host: host } });
  return res.status === 200 ? res.headers['x-pool'] : res.status;
}

test('exact host match', async () => {
  assert.equal(await poolFor('exact.test', '/'), 'exact');
  assert.equal(await poolFor('EXACT.test', '/x'), 'exact', 'host match is case-insensitive');
  assert.equal(await poolFor('exact.test:8080', '/x'), 'exact', 'the port is not part of the host match');
});

test('wildcard host match', async () => {
  assert.equal(await poolFor('shop.example.com', '/'), 'wild');
  assert.equal(await poolFor('a.b.example.com', '/'), 'wild');
  assert.equal(await poolFor('example.com', '/'), 'def', '*.example.com does not match example.com itself');
  assert.equal(await poolFor('notexample.com', '/'), 'def');
});

test('any-host default route', async () => {
  assert.equal(await poolFor('other.test', '/anything'), 'def');
});

test('longest path_prefix wins', async () => {
  assert.equal(await poolFor('other.test', '/api/users'), 'api');
  assert.equal(await poolFor('other.test', '/api/v2/users'), 'apiv2');
  assert.equal(await poolFor('other.test', '/api'), 'def', '/api does not match the /api/ prefix');
  assert.equal(await poolFor('other.test', '/apix'), 'def');
});

test('split { a = 50, b = 50 } over 100 requests gives both pools traffic', async () => {
  const count = { a: 0, b: 0 };
  for (let i = 0; i < 100; i++) {
    const pool = await poolFor('split.test', `/split/${i}`);
    count[pool] = (count[pool] || 0) + 1;
  }
  assert.equal(count.a + count.b, 100, JSON.stringify(count));
  assert.ok(count.a >= 35 && count.b >= 35, `split within a few percent of 50/50: ${JSON.stringify(count)}`);
});

test('no route matches → 404', async () => {
  const up = ups.def;
  const s2 = await h.startSluice(
    h.sluiceToml({
      port: await h.freePort(),
      pools: { only: [up.addr] },
      routes: '[[route]]\nname = "only"\nhosts = ["only.test"]\npath_prefix = "/app/"\nsplit = { only = 100 }\n',
    }),
  );
  const n = up.requests.length;
  assert.equal((await h.request(s2.port, { path: '/app/x', headers: { Host: 'only.test' } })).status, 200);
  assert.equal((await h.request(s2.port, { path: '/app/x', headers: { Host: 'nope.test' } })).status, 404);
  assert.equal((await h.request(s2.port, { path: '/other', headers: { Host: 'only.test' } })).status, 404);
  assert.equal(up.requests.length, n + 1, 'the 404s never reached an upstream');
  await s2.stop();
});
