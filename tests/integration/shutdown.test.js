'use strict';
// SIGTERM: close listeners at once, finish in-flight requests, close idle
// keep-alive connections, exit 0 within drain_timeout.
const net = require('node:net');
const { test, after } = require('node:test');
const h = require('./lib/harness');
const { assert } = h;

after(h.cleanup);

function connectOutcome(port) {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port });
    const t = setTimeout(() => {
      s.destroy();
      resolve('timeout');
    }, 1000);
    s.on('connect', () => {
      clearTimeout(t);
      s.destroy();
      resolve('connected');
    });
    s.on('error', (e) => {
      clearTimeout(t);
      resolve(e.code);
    });
  });
}

test('SIGTERM drains: in-flight request completes, new connections refused, idle closed, exit 0', { timeout: 30000 }, async () => {
  const up = await h.startUpstream({ pool: 'blue', keepAliveTimeout: 30000 });
  const sl = await h.startSluice(h.sluiceToml({ port: await h.freePort(), servers: [up.addr], global: { drain_timeout: '5s' } }));

  // An idle keep-alive client connection.
  const idle = await h.rawConnect(sl.port);
  idle.write('GET /drain/idle HTTP/1.1\r\nHost: app.test\r\n\r\n');
  await idle.waitFor(() => idle.responses().some((r) => !r.incomplete), 3000);
  assert.ok(!idle.closed);

  // A slow request in flight.
  const slow = h.request(sl.port, { path: '/drain/delay/2000', headers: { Host: 'app.test' }, timeout: 10000 });
  await h.waitFor(() => up.seen('/drain/delay').length === 1, { timeout: 3000, what: 'the slow request to reach the upstream' });

  const t0 = Date.now();
  sl.kill('SIGTERM');

  // New connections are refused right after the signal.
  const outcome = await h.waitFor(
    async () => {
      const o = await connectOutcome(sl.port);
      return o === 'ECONNREFUSED' && o;
    },
    { timeout: 1000, every: 50, what: 'new connections to be refused after SIGTERM' },
  );
  assert.equal(outcome, 'ECONNREFUSED');

  // Idle keep-alive connections are closed promptly (not after drain_timeout).
  await idle.waitClosed(2000);

  // The in-flight request completes.
  const res = await slow;
  assert.equal(res.status, 200);
  assert.equal(h.json(res).url, '/drain/delay/2000');

  const exit = await sl.waitExit(5000 + 3000);
  assert.deepEqual({ code: exit.code, signal: exit.signal }, { code: 0, signal: null });
  assert.ok(Date.now() - t0 < 8000, `exited ${Date.now() - t0} ms after SIGTERM`);
});

test('SIGTERM with a request that outlives drain_timeout: exit anyway, bounded', { timeout: 30000 }, async () => {
  const up = await h.startUpstream({ pool: 'blue' });
  const sl = await h.startSluice(h.sluiceToml({ port: await h.freePort(), servers: [up.addr], global: { drain_timeout: '1s' } }));
  const hung = h.request(sl.port, { path: '/drain2/hang', headers: { Host: 'app.test' }, timeout: 10000 }).catch((e) => e);
  await h.waitFor(() => up.seen('/drain2/hang').length === 1, { timeout: 3000, what: 'the hanging request to reach the upstream' });
  const t0 = Date.now();
  sl.kill('SIGTERM');
  const exit = await sl.waitExit(1000 + 4000);
  assert.equal(exit.signal, null, 'exited by itself');
  assert.ok(Date.now() - t0 < 5000);
  await hung;
});

test('SIGINT drains like SIGTERM', { timeout: 20000 }, async () => {
  const up = await h.startUpstream({ pool: 'blue' });
  const sl = await h.startSluice(h.sluiceToml({ port: await h.freePort(), servers: [up.addr], global: { drain_timeout: '2s' } }));
  assert.equal((await h.request(sl.port, { path: '/int', headers: { Host: 'app.test' } })).status, 200);
  sl.kill('SIGINT');
  const exit = await sl.waitExit(5000);
  assert.deepEqual({ code: exit.code, signal: exit.signal }, { code: 0, signal: null });
});
