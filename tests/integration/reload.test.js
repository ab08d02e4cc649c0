'use strict';
// SIGHUP: reload the config without dropping established connections; an invalid
// new config is rejected with its errors logged and the running config kept.
const fs = require('node:fs');
const { test, after } = require('node:test');
const h = require('./lib/harness');
const { assert } = h;

after(h.cleanup);

const routeTo = (pool) => `[[route]]\nname = "app"\nsplit = { ${pool} = 100 }\nbaseline = "${pool}"\n`;

test('SIGHUP switches routing to the new config; an idle keep-alive connection survives', { timeout: 30000 }, async () => {
  const a = await h.startUpstream({ pool: 'a', keepAliveTimeout: 30000 });
  const b = await h.startUpstream({ pool: 'b', keepAliveTimeout: 30000 });
  const port = await h.freePort();
  const conf = (pool) => h.sluiceToml({ port, pools: { a: [a.addr], b: [b.addr] }, routes: routeTo(pool) });
  const sl = await h.startSluice(conf('a'));
  const get = async (p) => (await h.request(port, { path: p, headers: { Host: 'app.test' } })).headers['x-pool'];
  assert.equal(await get('/before'), 'a');

  // An established keep-alive connection, idle during the reload.
  const c = await h.rawConnect(port);
  c.write('GET /ka-1 HTTP/1.1\r\nHost: app.test\r\n\r\n');
  await c.waitFor(() => c.responses().filter((r) => !r.incomplete).length >= 1, 3000);

  fs.writeFileSync(sl.configPath, conf('b').replaceAll('{{dir}}', sl.dir));
  sl.kill('SIGHUP');
  await h.waitFor(() => sl.events().some((e) => e.event === 'reloaded'), { timeout: 5000, what: 'a "reloaded" event' });
  assert.equal(await get('/after'), 'b');

  assert.ok(!c.closed, 'the idle keep-alive connection was not dropped by the reload');
  c.write('GET /ka-2 HTTP/1.1\r\nHost: app.test\r\n\r\n');
  await c.waitFor(() => c.responses().filter((r) => !r.incomplete).length >= 2, 3000);
  const rs = c.responses();
  assert.equal(rs[1].status, 200);
  assert.equal(rs[1].headers['x-pool'], 'b', 'the surviving connection uses the new routes');
  c.close();
  assert.equal(sl.exited, null, 'still running');
});

test('SIGHUP with an invalid config keeps the running one and logs the errors', { timeout: 30000 }, async () => {
  const a = await h.startUpstream({ pool: 'a' });
  const port = await h.freePort();
  const sl = await h.startSluice(h.sluiceToml({ port, pools: { a: [a.addr] }, routes: routeTo('a') }));
  fs.writeFileSync(sl.configPath, '[global]\nworkers = "many"\n[[route]]\nname = "app"\nsplit = { ghost = 1 }\n');
  sl.kill('SIGHUP');
  const ev = await h.waitFor(() => sl.events().find((e) => e.level === 'error' && /reload/.test(e.event)), {
    timeout: 5000,
    what: 'a reload error event',
  });
  assert.match(JSON.stringify(ev), /workers/, `the errors are in the event: ${JSON.stringify(ev)}`);
  const res = await h.request(port, { path: '/still', headers: { Host: 'app.test' } });
  assert.equal(res.status, 200);
  assert.equal(res.headers['x-pool'], 'a');
  assert.equal(sl.exited, null);
});
