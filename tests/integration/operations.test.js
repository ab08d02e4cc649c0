'use strict';
// Operations: dropping root (global.user), W3C trace context, health checks
// and health verdicts across reloads.
const fs = require('node:fs');
const path = require('node:path');
const { test, after } = require('node:test');
const h = require('./lib/harness');
const A = require('./lib/admin');
const { assert } = h;

after(h.cleanup);

function procIds(pid) {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const field = (name) => status.match(new RegExp(`^${name}:\\s+(.*)$`, 'm'))[1].trim().split(/\s+/).map(Number);
  return { uid: field('Uid'), gid: field('Gid'), groups: field('Groups') };
}

test('global.user: binds as root, then every thread runs as that user', { skip: process.getuid() !== 0 && 'needs root' }, async () => {
  const up = await h.startUpstream({ pool: 'blue' });
  const port = await h.freePort();
  const sl = await h.startSluice(h.sluiceToml({ port, servers: [up.addr], global: { workers: 2, user: 'nobody' } }));
  const nobody = Number(require('node:child_process').execFileSync('id', ['-u', 'nobody']).toString());
  for (const tid of fs.readdirSync(`/proc/${sl.pid}/task`)) {
    const { uid, gid, groups } = procIds(`${sl.pid}/task/${tid}`);
    assert.deepEqual(uid, [nobody, nobody, nobody, nobody], `thread ${tid} uid`);
    assert.ok(gid.every((g) => g !== 0), `thread ${tid} gid ${gid}`);
    assert.ok(!groups.includes(0), `thread ${tid} groups ${groups}`);
  }
  const res = await h.request(port, { headers: { Host: 'app.test' } });
  assert.equal(res.status, 200);
  assert.ok(sl.events().some((e) => e.event === 'privileges_dropped' && e.user === 'nobody'));
  // The admin socket is still served and the state dir is writable by the user.
  const st = fs.statSync(`${sl.dir}/admin.sock`);
  assert.equal(st.uid, nobody);
  assert.equal(st.mode & 0o777, 0o600);
});

test('global.user that does not exist: refuses to start', async () => {
  const port = await h.freePort();
  const sl = await h.startSluice(h.sluiceToml({ port, servers: ['127.0.0.1:9'], global: { user: 'no-such-user-here' } }), { waitListening: false });
  const r = await sl.waitExit(10000);
  assert.notEqual(r.code, 0);
  const ev = sl.events().find((e) => e.event === 'privilege_drop_failed');
  assert.ok(ev, sl.stderr);
  assert.match(ev.message, /no user named "no-such-user-here"/);
});

test('traceparent: a valid one is passed through; none or an invalid one is replaced by a new trace; trace_id in the access log', async () => {
  const up = await h.startUpstream({ pool: 'blue' });
  const port = await h.freePort();
  const sl = await h.startSluice(h.sluiceToml({ port, servers: [up.addr] }));
  const given = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
  let res = await h.request(port, { headers: { Host: 'app.test', traceparent: given } });
  assert.equal(h.json(res).headers.traceparent, given);

  res = await h.request(port, { headers: { Host: 'app.test' } });
  const made = h.json(res).headers.traceparent;
  assert.match(made, /^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);

  res = await h.request(port, { headers: { Host: 'app.test', traceparent: '00-00000000000000000000000000000000-b7ad6b7169203331-01' } });
  const replaced = h.json(res).headers.traceparent;
  assert.match(replaced, /^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
  assert.notEqual(replaced.slice(3, 35), '0'.repeat(32));

  await h.waitFor(() => sl.accessLog().length >= 3, { what: 'three access lines' });
  const ids = sl.accessLog().map((l) => l.trace_id);
  assert.deepEqual(ids, ['0af7651916cd43dd8448eb211c80319c', made.slice(3, 35), replaced.slice(3, 35)]);
});

test('health checks: a failing server is ejected after `unhealthy` checks, gets no traffic, and is re-admitted after `healthy` checks', { timeout: 30000 }, async () => {
  let badHealthy = true;
  const good = await h.startUpstream({ pool: 'good' });
  const flaky = await h.startUpstream({
    pool: 'flaky',
    onRequest: (req, res) => {
      if (req.url === '/health' && !badHealthy) {
        res.statusCode = 503;
        res.end('down');
        return true;
      }
      return false;
    },
  });
  const port = await h.freePort();
  const hc = 'health_check = { path = "/health", interval = "100ms", timeout = "80ms", unhealthy = 2, healthy = 2 }';
  const sl = await h.startSluice(
    h.sluiceToml({ port, pools: { app: { servers: [good.addr, flaky.addr], extra: hc } } }),
  );
  const poolsOf = async (n) => {
    const seen = {};
    for (let i = 0; i < n; i++) {
      const r = await h.request(port, { path: `/hc/${i}`, headers: { Host: 'app.test' } });
      assert.equal(r.status, 200);
      seen[r.headers['x-pool']] = (seen[r.headers['x-pool']] || 0) + 1;
    }
    return seen;
  };
  assert.ok((await poolsOf(20)).flaky > 0, 'both servers serve while healthy');

  badHealthy = false;
  await h.waitFor(() => sl.events().some((e) => e.event === 'upstream_server_state' && e.state === 'unhealthy' && e.server === flaky.addr), { timeout: 3000, what: 'flaky marked unhealthy' });
  assert.equal((await poolsOf(20)).flaky, undefined, 'an unhealthy server gets no traffic');
  const sock = path.join(sl.dir, 'admin.sock');
  const server = async (addr) => (await A.getStatus(sock)).upstreams.find((u) => u.server === addr);
  assert.deepEqual(await server(flaky.addr), { pool: 'app', server: flaky.addr, healthy: false, ejected_by: 'active', health_check: true });
  assert.equal((await server(good.addr)).ejected_by, null);

  badHealthy = true;
  await h.waitFor(() => sl.events().some((e) => e.event === 'upstream_server_state' && e.state === 'healthy' && e.server === flaky.addr), { timeout: 3000, what: 'flaky healthy again' });
  assert.ok((await poolsOf(20)).flaky > 0, 're-admitted');
  assert.deepEqual(await server(flaky.addr), { pool: 'app', server: flaky.addr, healthy: true, ejected_by: null, health_check: true });
  assert.ok(flaky.requests.some((r) => r.url === '/health' && /sluice-health-check/.test(r.headers['user-agent'] || '')));
});

test('health checks: a pool with no healthy server answers 503 at once', { timeout: 30000 }, async () => {
  const up = await h.startUpstream({ pool: 'a', status: 500 });
  const port = await h.freePort();
  const hc = 'health_check = { path = "/health", interval = "100ms", timeout = "80ms", unhealthy = 1, healthy = 1 }';
  const sl = await h.startSluice(h.sluiceToml({ port, pools: { app: { servers: [up.addr], extra: hc } } }));
  await h.waitFor(() => sl.events().some((e) => e.event === 'upstream_server_state' && e.state === 'unhealthy'), { timeout: 3000, what: 'unhealthy' });
  const before = up.requests.filter((r) => r.url !== '/health').length;
  const r = await h.request(port, { path: '/x', headers: { Host: 'app.test' } });
  assert.equal(r.status, 503);
  assert.equal(up.requests.filter((q) => q.url !== '/health').length, before, 'nothing was sent upstream');
});

test('reload: a server the active check found down stays out (no traffic until it passes again)', { timeout: 30000 }, async () => {
  const good = await h.startUpstream({ pool: 'good' });
  const down = await h.startUpstream({
    pool: 'down',
    onRequest: (req, res) => {
      if (req.url !== '/health') return false;
      res.statusCode = 503;
      res.end('down');
      return true;
    },
  });
  const port = await h.freePort();
  const conf = (interval) =>
    h.sluiceToml({
      port,
      pools: { app: { servers: [good.addr, down.addr], extra: `health_check = { path = "/health", interval = "${interval}", timeout = "80ms", unhealthy = 2, healthy = 2 }` } },
    });
  const sl = await h.startSluice(conf('100ms'));
  await h.waitFor(() => sl.events().some((e) => e.event === 'upstream_server_state' && e.state === 'unhealthy' && e.server === down.addr), { timeout: 3000, what: 'the down server marked unhealthy' });

  // After the reload a fresh check would need 2 failures, 5 s apart, to find
  // it down again: any traffic it gets meanwhile came from a forgotten verdict.
  fs.writeFileSync(sl.configPath, conf('5s').replaceAll('{{dir}}', sl.dir));
  sl.kill('SIGHUP');
  await h.waitFor(() => sl.events().some((e) => e.event === 'reloaded'), { timeout: 5000, what: 'a "reloaded" event' });
  const served = down.requests.filter((r) => r.url !== '/health').length;
  for (let i = 0; i < 20; i++) {
    const r = await h.request(port, { path: `/after/${i}`, headers: { Host: 'app.test' } });
    assert.equal(r.status, 200);
    assert.equal(r.headers['x-pool'], 'good', `request ${i} went to the server known to be down`);
  }
  assert.equal(down.requests.filter((r) => r.url !== '/health').length, served);
});

test('reload: a passively ejected server stays out for its cool-down', { timeout: 30000 }, async () => {
  const good = await h.startUpstream({ pool: 'good' });
  const deadPort = await h.freePort(); // nothing listens: connect fails at once
  const dead = `127.0.0.1:${deadPort}`;
  const port = await h.freePort();
  const conf = (tag) =>
    h.sluiceToml({ port, pools: { app: { servers: [good.addr, dead] } } }) + `\n# ${tag}\n`;
  const sl = await h.startSluice(conf('first'));
  const ejected = () => sl.events().some((e) => e.event === 'upstream_server_state' && e.check === 'passive' && e.state === 'unhealthy' && e.server === dead);
  for (let i = 0; i < 40 && !ejected(); i++) {
    const r = await h.request(port, { path: `/before/${i}`, headers: { Host: 'app.test' } });
    assert.equal(r.status, 200, 'a failed connect is retried on the good server');
    if (!ejected()) await h.sleep(30);
  }
  await h.waitFor(ejected, { timeout: 3000, what: 'the dead server ejected passively' });

  fs.writeFileSync(sl.configPath, conf('second').replaceAll('{{dir}}', sl.dir));
  sl.kill('SIGHUP');
  await h.waitFor(() => sl.events().some((e) => e.event === 'reloaded'), { timeout: 5000, what: 'a "reloaded" event' });
  const mark = sl.events().length;
  for (let i = 0; i < 20; i++) {
    const r = await h.request(port, { path: `/after/${i}`, headers: { Host: 'app.test' } });
    assert.equal(r.status, 200);
  }
  const after = sl.events().slice(mark);
  // upstream_connect_failed, upstream_error or a second ejection: any event
  // naming the dead server means it was tried again.
  const tried = after.filter((e) => JSON.stringify(e).includes(dead));
  assert.equal(tried.length, 0, `the ejected server was tried again after the reload: ${JSON.stringify(tried[0])}`);
});
