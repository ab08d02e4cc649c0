'use strict';
// Automatic canary rollback (SPEC: Traffic splitting and rollback): a canary that
// answers 5xx is taken to weight 0, its weight moves to the baseline, the rollback is
// logged and persisted in state_dir, and it survives a restart.
const { test, after } = require('node:test');
const h = require('./lib/harness');
const { assert } = h;

after(h.cleanup);

test('a failing canary is rolled back, logged, shown in status, and stays rolled back after a restart', { timeout: 60000 }, async () => {
  const blue = await h.startUpstream({ pool: 'blue' });
  const canary = await h.startUpstream({ pool: 'canary', status: 500 });
  const stateDir = h.tmpDir('sluice-state-');
  const port = await h.freePort();
  const toml = h.sluiceToml({
    port,
    global: { state_dir: stateDir },
    pools: { blue: [blue.addr], canary: [canary.addr] },
    routes: `
[[route]]
name = "app"
split = { blue = 50, canary = 50 }
baseline = "blue"

[route.rollback]
error_rate = 0.2
min_requests = 10
window = "30s"
`,
  });
  let sl = await h.startSluice(toml);
  const send = async (n) => {
    const seen = {};
    for (let i = 0; i < n; i++) {
      const res = await h.request(port, { path: `/rb/${i}`, headers: { Host: 'app.test' } });
      const key = `${res.headers['x-pool']}:${res.status}`;
      seen[key] = (seen[key] || 0) + 1;
    }
    return seen;
  };
  // Traffic until the controller rolls the canary back (it may judge on a timer, so
  // give it a few seconds of steady traffic), bounded.
  const first = {};
  let ev;
  const end = Date.now() + 10000;
  while (!ev && Date.now() < end) {
    for (const [k, v] of Object.entries(await send(10))) first[k] = (first[k] || 0) + v;
    await h.sleep(100);
    ev = sl.events().find((e) => /rollback/.test(e.event || ''));
  }
  assert.ok(first['canary:500'] >= 10, `the canary got traffic and failed: ${JSON.stringify(first)}`);
  assert.ok(ev, `a rollback event within 10 s of failing traffic: ${JSON.stringify(first)}\n${sl.stderr.slice(-2000)}`);
  assert.equal(ev.route, 'app');
  assert.equal(ev.pool, 'canary');

  assert.deepEqual(await send(20), { 'blue:200': 20 }, 'after the rollback everything goes to the baseline');
  const sock = `${sl.dir}/admin.sock`;
  const st = await h.curlRequest('http://sluice/v1/status', ['--unix-socket', sock]);
  const route = JSON.parse(st.body).routes.find((r) => r.name === 'app');
  assert.deepEqual(route.effective, { blue: 100, canary: 0 });
  assert.equal(route.rollback && route.rollback.pool, 'canary');

  await sl.stop();
  sl = await h.startSluice(toml);
  assert.deepEqual(await send(20), { 'blue:200': 20 }, 'still rolled back after a restart (state_dir)');
  await sl.stop();
});
