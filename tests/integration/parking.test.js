'use strict';
// Idle keep-alive connections are parked out of the event loop after five to
// six quiet seconds (proxy/park.h): the next byte brings one back with its TLS
// session, the keep-alive deadline closes it where it lies (up to a second
// late), a client that goes away is noticed, and SIGTERM closes parked
// connections at once. The
// parked count is in /v1/status (connections.parked) and /metrics
// (sluice_connections_parked). Also here: a keep-alive connection idle after
// one of sluice's own responses (404) is held to keepalive_timeout too.
// Each test has its own sluice, and they run concurrently: most of their time
// is waiting for connections to be parked.
const path = require('node:path');
const { describe, it, before, after } = require('node:test');
const h = require('./lib/harness');
const A = require('./lib/admin');
const t = require('./lib/tls');
const { assert } = h;

let certs;
let up;
before(async () => {
  certs = await t.makeTestCerts(h.tmpDir('sluice-certs-'));
  up = await h.startUpstream({ keepAliveTimeout: 30000 });
});
after(h.cleanup);

const REQ = (p) => `GET ${p} HTTP/1.1\r\nHost: app.test\r\n\r\n`;
const sockOf = (sl) => path.join(sl.dir, 'admin.sock');
const connections = async (sl) => (await A.getStatus(sockOf(sl))).connections;
const answered = (c, n) => c.waitFor(() => c.responses().filter((r) => !r.incomplete).length >= n, 5000);
// Parking happens on the worker's once-a-second housekeeping, five to six
// seconds after the last byte.
const waitParked = (sl, n, what) =>
  h.waitFor(async () => (await connections(sl)).parked === n, { timeout: 12000, every: 100, what });

async function plainSluice(limits = {}) {
  const port = await h.freePort();
  return h.startSluice(h.sluiceToml({ port, servers: [up.addr], limits: { keepalive_timeout: '30s', ...limits } }));
}

describe('parked connections', { concurrency: true }, () => {
  it('an idle keep-alive connection is parked, and its next request is answered on the same socket', { timeout: 60000 }, async () => {
    const sl = await plainSluice();
    const c = await h.rawConnect(sl.port);
    c.write(REQ('/park/1'));
    await answered(c, 1);
    await waitParked(sl, 1, 'the idle connection parked');
    const st = await connections(sl);
    assert.equal(st.idle, 1, `parked connections stay counted as idle: ${JSON.stringify(st)}`);
    assert.equal(A.metricSum(await A.getMetrics(sockOf(sl)), 'sluice_connections_parked'), 1);

    c.write(REQ('/park/2'));
    await answered(c, 2);
    assert.ok(!c.closed, 'still open after the second response');
    const rs = c.responses();
    assert.equal(rs[1].status, 200);
    assert.equal(JSON.parse(rs[1].body).url, '/park/2');
    assert.equal((await connections(sl)).parked, 0, 'back in the loop while it works');
    // Parked again, and back again: the cycle repeats.
    await waitParked(sl, 1, 'parked a second time');
    c.write(REQ('/park/3'));
    await answered(c, 3);
    assert.equal(JSON.parse(c.responses()[2].body).url, '/park/3');
    const lines = await h.waitFor(() => {
      const l = sl.accessLog().filter((x) => typeof x.path === 'string' && x.path.startsWith('/park/'));
      return l.length >= 3 && l;
    }, { timeout: 3000, what: 'three access lines' });
    assert.deepEqual(lines.map((l) => l.client_ip), ['127.0.0.1', '127.0.0.1', '127.0.0.1'], 'the client address survives parking');
    c.close();
    await h.waitFor(async () => (await connections(sl)).idle === 0, { timeout: 5000, what: 'the closed connection uncounted' });
  });

  it('300 parked connections each get their own answer back', { timeout: 60000 }, async () => {
    const sl = await plainSluice();
    const cs = [];
    for (let i = 0; i < 300; i++) cs.push(await h.rawConnect(sl.port));
    for (let i = 0; i < cs.length; i++) cs[i].write(REQ(`/many/${i}/a`));
    await Promise.all(cs.map((c) => answered(c, 1)));
    await waitParked(sl, 300, '300 parked');
    // Back in an order unlike the parking order, with a second burst while the
    // first comes back.
    const order = cs.map((c, i) => i).sort((a, b) => ((a * 7919) % 300) - ((b * 7919) % 300));
    for (const i of order) cs[i].write(REQ(`/many/${i}/b`));
    await Promise.all(cs.map((c) => answered(c, 2)));
    for (let i = 0; i < cs.length; i++) {
      const rs = cs[i].responses();
      assert.equal(rs[1].status, 200, `connection ${i}`);
      assert.equal(JSON.parse(rs[1].body).url, `/many/${i}/b`, `connection ${i} got its own answer`);
      assert.ok(!cs[i].closed, `connection ${i} still open`);
    }
    const st = await connections(sl);
    assert.equal(st.active + st.idle, 300, JSON.stringify(st));
    for (const c of cs) c.close();
    await h.waitFor(async () => {
      const s = await connections(sl);
      return s.active + s.idle === 0 && s.parked === 0;
    }, { timeout: 10000, every: 100, what: 'every connection uncounted' });
  });

  it('a parked connection closes on its keep-alive deadline, silently', { timeout: 60000 }, async () => {
    const sl = await plainSluice({ keepalive_timeout: '9s' });
    const c = await h.rawConnect(sl.port);
    c.write(REQ('/deadline'));
    await answered(c, 1);
    const t0 = Date.now();
    const got = c.data.length;
    await waitParked(sl, 1, 'parked before its deadline');
    await c.waitClosed(12000);
    const idle = Date.now() - t0;
    assert.ok(idle >= 8500 && idle < 11500, `closed after ${idle} ms, keepalive_timeout is 9 s`);
    assert.equal(c.data.length, got, 'no bytes on the way out (no 408)');
    await h.waitFor(async () => {
      const s = await connections(sl);
      return s.idle === 0 && s.parked === 0 && s.active === 0;
    }, { timeout: 3000, what: 'the counts back to zero' });
  });

  it('a parked client that goes away is closed and uncounted; a half request wakes one', { timeout: 60000 }, async () => {
    const sl = await plainSluice({ client_header_timeout: '10s' });
    const gone = await h.rawConnect(sl.port);
    const slow = await h.rawConnect(sl.port);
    gone.write(REQ('/gone'));
    slow.write(REQ('/slow/1'));
    await answered(gone, 1);
    await answered(slow, 1);
    await waitParked(sl, 2, 'both parked');
    gone.close();
    await waitParked(sl, 1, 'the one that left is no longer parked');
    await h.waitFor(async () => (await connections(sl)).idle === 1, { timeout: 3000, what: 'one idle connection left' });
    // A request in two pieces a second apart: the first wakes the connection,
    // the second completes the head.
    const r2 = REQ('/slow/2');
    slow.write(r2.slice(0, 10));
    await h.sleep(1200);
    slow.write(r2.slice(10));
    await answered(slow, 2);
    assert.equal(JSON.parse(slow.responses()[1].body).url, '/slow/2');
  });

  it('TLS: a parked connection resumes with its session', { timeout: 60000 }, async () => {
    const port = await h.freePort();
    const listeners = t.tlsListenerToml({ port, certs: [certs.rsa] });
    const sl = await h.startSluice(h.sluiceToml({ port, servers: [up.addr], listeners, limits: { keepalive_timeout: '30s' } }));
    for (const maxVersion of ['TLSv1.2', 'TLSv1.3']) {
      const c = await t.tlsConnect(port, { ca: certs.ca.cert, maxVersion });
      c.write('GET /tls-park/1 HTTP/1.1\r\nHost: localhost\r\n\r\n');
      await answered(c, 1);
      await waitParked(sl, 1, `${maxVersion}: parked`);
      c.write('GET /tls-park/2 HTTP/1.1\r\nHost: localhost\r\n\r\n');
      await answered(c, 2);
      const rs = c.responses();
      assert.equal(rs[1].status, 200, maxVersion);
      assert.equal(JSON.parse(rs[1].body).url, '/tls-park/2');
      assert.equal(c.sock.getProtocol(), maxVersion);
      assert.ok(!c.closed, `${maxVersion}: the TLS connection is still open`);
      c.close();
      await h.waitFor(async () => (await connections(sl)).idle === 0, { timeout: 5000, what: 'closed' });
    }
  });

  it('SIGTERM closes parked connections at once and exits 0', { timeout: 60000 }, async () => {
    const port = await h.freePort();
    const sl = await h.startSluice(h.sluiceToml({ port, servers: [up.addr], global: { drain_timeout: '20s' }, limits: { keepalive_timeout: '30s' } }));
    const cs = [];
    for (let i = 0; i < 3; i++) {
      const c = await h.rawConnect(sl.port);
      c.write(REQ(`/term/${i}`));
      await answered(c, 1);
      cs.push(c);
    }
    await waitParked(sl, 3, 'three parked');
    const t0 = Date.now();
    sl.kill('SIGTERM');
    const ex = await sl.waitExit(10000);
    assert.equal(ex.code, 0, sl.stderr.slice(-2000));
    assert.ok(Date.now() - t0 < 5000, `exited after ${Date.now() - t0} ms, well before drain_timeout (20 s)`);
    await Promise.all(cs.map((c) => c.waitClosed(3000)));
  });

  it('keepalive_timeout also applies after one of sluice\'s own responses (404)', { timeout: 60000 }, async () => {
    const port = await h.freePort();
    const routes = '[[route]]\nname = "app"\nhosts = ["app.test"]\nsplit = { app = 100 }\n';
    const sl = await h.startSluice(h.sluiceToml({ port, servers: [up.addr], routes, limits: { keepalive_timeout: '2s' } }));
    const c = await h.rawConnect(sl.port);
    c.write('GET /nowhere HTTP/1.1\r\nHost: other.test\r\n\r\n');
    await answered(c, 1);
    assert.equal(c.responses()[0].status, 404);
    assert.ok(!/close/i.test(c.responses()[0].headers.connection || ''), 'the 404 keeps the connection alive');
    const t0 = Date.now();
    await c.waitClosed(6000);
    const idle = Date.now() - t0;
    assert.ok(idle >= 1500 && idle < 4500, `closed after ${idle} ms, keepalive_timeout is 2 s`);
  });
});
