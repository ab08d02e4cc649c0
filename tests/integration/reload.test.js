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

test('a reload adds and removes listeners: the new port serves at once, the removed one refuses new connections while its open ones finish (workers = 2)', { timeout: 30000 }, async () => {
  const a = await h.startUpstream({ pool: 'a', keepAliveTimeout: 30000 });
  const [p1, p2] = [await h.freePort(), await h.freePort()];
  const listeners = (...ports) => ports.map((p) => `[[listener]]\nlisten = "127.0.0.1:${p}"\n`).join('\n');
  const conf = (...ports) => h.sluiceToml({ pools: { a: [a.addr] }, routes: routeTo('a'), listeners: listeners(...ports), global: { workers: 2 } });
  const sl = await h.startSluice(conf(p1));
  const c = await h.rawConnect(p1);
  c.write('GET /ka-1 HTTP/1.1\r\nHost: app.test\r\n\r\n');
  await c.waitFor(() => c.responses().filter((r) => !r.incomplete).length >= 1, 3000);
  assert.equal(await h.canConnect('127.0.0.1', p2), false, 'p2 is not served yet');

  fs.writeFileSync(sl.configPath, conf(p2).replaceAll('{{dir}}', sl.dir));
  sl.kill('SIGHUP');
  const ev = await h.waitFor(() => sl.events().find((e) => e.event === 'reloaded'), { timeout: 5000, what: 'a "reloaded" event' });
  assert.equal(ev.listen, `127.0.0.1:${p2}`);
  for (let i = 0; i < 6; i++) {
    const res = await h.request(p2, { path: `/new-${i}`, headers: { Host: 'app.test' } });
    assert.equal(res.status, 200);
  }
  await h.waitFor(async () => !(await h.canConnect('127.0.0.1', p1)), { timeout: 3000, what: 'p1 refusing new connections' });
  // The connection accepted on p1 before the reload still works.
  assert.ok(!c.closed, 'the established connection on the removed listener stays');
  c.write('GET /ka-2 HTTP/1.1\r\nHost: app.test\r\n\r\n');
  await c.waitFor(() => c.responses().filter((r) => !r.incomplete).length >= 2, 3000);
  assert.equal(c.responses()[1].status, 200);
  c.close();

  // A listener whose port is taken refuses the whole reload; nothing changes.
  const net = require('node:net');
  const blocker = net.createServer();
  const p3 = await h.freePort();
  await new Promise((r) => blocker.listen(p3, '127.0.0.1', r));
  fs.writeFileSync(sl.configPath, conf(p2, p3).replaceAll('{{dir}}', sl.dir));
  sl.kill('SIGHUP');
  const bad = await h.waitFor(() => sl.events().find((e) => e.event === 'reload_failed'), { timeout: 5000, what: 'reload_failed' });
  assert.match(JSON.stringify(bad), new RegExp(`127\\.0\\.0\\.1:${p3}`), JSON.stringify(bad));
  assert.equal((await h.request(p2, { headers: { Host: 'app.test' } })).status, 200, 'the running listeners serve on');
  blocker.close();
  assert.equal(sl.exited, null);
});
