'use strict';
// [limits]: header timeout (slowloris), keep-alive idle timeout, body and header
// sizes, URI length, max_connections.
const { test, before, after } = require('node:test');
const h = require('./lib/harness');
const { assert } = h;

let up;
let sl;

before(async () => {
  up = await h.startUpstream({ pool: 'blue', keepAliveTimeout: 30000 });
  sl = await h.startSluice(
    h.sluiceToml({
      port: await h.freePort(),
      servers: [up.addr],
      limits: {
        client_header_timeout: '1s',
        keepalive_timeout: '2s',
        max_body_bytes: '1k',
        max_header_bytes: 16384,
      },
    }),
  );
});
after(h.cleanup);

const status = (r) => {
  const m = /^HTTP\/1\.[01] (\d{3})/.exec(r.text);
  return m ? Number(m[1]) : null;
};

test('client_header_timeout: a partial request gets 408 and the connection is closed', async () => {
  const r = await h.rawRequest(sl.port, 'GET /lim/slowloris HTTP/1.1\r\nHost: app.test\r\nX-Slow: 1\r\n', { timeout: 5000 });
  assert.ok(!r.timedOut, `connection not closed within 5 s; got ${JSON.stringify(r.text.slice(0, 200))}`);
  assert.equal(status(r), 408, r.text.slice(0, 200));
  assert.ok(r.elapsed >= 800, `closed too early (${r.elapsed} ms)`);
  assert.equal(up.seen('/lim/slowloris').length, 0);
});

test('client_header_timeout: trickling bytes does not extend the deadline', async () => {
  const parts = ['GET /lim/trickle HTTP/1.1\r\n', 'Host: app.test\r\n', 'X-A: 1\r\n', 'X-B: 2\r\n', 'X-C: 3\r\n', 'X-D: 4\r\n', 'X-E: 5\r\n', 'X-F: 6\r\n'];
  const r = await h.rawRequest(sl.port, parts, { gap: 400, timeout: 6000 });
  assert.ok(!r.timedOut, 'connection closed before all the trickled header lines were sent');
  assert.ok(r.elapsed < 2500, `closed after ${r.elapsed} ms; expected about 1 s`);
  assert.equal(status(r), 408, r.text.slice(0, 200));
});

test('keepalive_timeout: an idle keep-alive connection is closed', async () => {
  const c = await h.rawConnect(sl.port);
  c.write('GET /lim/idle HTTP/1.1\r\nHost: app.test\r\n\r\n');
  await c.waitFor(() => c.responses().some((r) => !r.incomplete), 3000);
  const t0 = Date.now();
  const got = c.data.length;
  await c.waitClosed(6000);
  const idle = Date.now() - t0;
  assert.ok(idle >= 1500, `closed after ${idle} ms, keepalive_timeout is 2 s`);
  assert.ok(idle < 4500, `closed after ${idle} ms, keepalive_timeout is 2 s`);
  assert.equal(c.data.length, got, 'an idle keep-alive connection is closed silently (no 408)');
});

test('Content-Length over max_body_bytes gets 413 and the upstream never sees it', async () => {
  const body = 'x'.repeat(2000);
  const r = await h.rawRequest(sl.port, `POST /lim/413 HTTP/1.1\r\nHost: app.test\r\nContent-Length: ${body.length}\r\n\r\n${body}`, {
    timeout: 3000,
    until: h.completeResponses(1),
  });
  assert.equal(status(r), 413, r.text.slice(0, 200));
  await h.sleep(200);
  assert.equal(up.seen('/lim/413').length, 0);
});

test('chunked body over max_body_bytes: connection closed/reset, upstream gets no complete request', async () => {
  const chunk = `258\r\n${'y'.repeat(600)}\r\n`;
  const r = await h.rawRequest(
    sl.port,
    ['POST /lim/chunked-over HTTP/1.1\r\nHost: app.test\r\nTransfer-Encoding: chunked\r\n\r\n', chunk, chunk, chunk, chunk, '0\r\n\r\n'],
    { gap: 50, timeout: 5000 },
  );
  assert.ok(r.closed && !r.timedOut, 'sluice must close the connection');
  const st = status(r);
  assert.ok(st === null || st === 413, `either reset or 413, got ${st}`);
  assert.ok(!/^HTTP\/1\.1 200/.test(r.text), 'no 200 for an over-limit body');
  await h.sleep(300);
  const seen = up.seen('/lim/chunked-over');
  assert.ok(seen.every((x) => !x.complete), 'upstream must not receive a complete request');
});

test('URI longer than 8 KiB gets 414', async () => {
  const r = await h.rawRequest(sl.port, `GET /lim/${'u'.repeat(9000)} HTTP/1.1\r\nHost: app.test\r\n\r\n`, { timeout: 3000, until: h.completeResponses(1) });
  assert.equal(status(r), 414, r.text.slice(0, 200));
  assert.equal(up.seen('/lim/uuu').length, 0);
});

test('headers over max_header_bytes get 431', async () => {
  let hdrs = '';
  for (let i = 0; i < 20; i++) hdrs += `X-Big-${i}: ${'v'.repeat(1000)}\r\n`;
  const r = await h.rawRequest(sl.port, `GET /lim/431 HTTP/1.1\r\nHost: app.test\r\n${hdrs}\r\n`, { timeout: 3000, until: h.completeResponses(1) });
  assert.equal(status(r), 431, r.text.slice(0, 200));
  assert.equal(up.seen('/lim/431').length, 0);
});

test('a request just under the limits is served', async () => {
  let hdrs = '';
  for (let i = 0; i < 10; i++) hdrs += `X-Big-${i}: ${'v'.repeat(1000)}\r\n`;
  const r = await h.rawRequest(sl.port, `POST /lim/ok HTTP/1.1\r\nHost: app.test\r\n${hdrs}Content-Length: 1024\r\n\r\n${'z'.repeat(1024)}`, {
    timeout: 3000,
    until: h.completeResponses(1),
  });
  assert.equal(status(r), 200, r.text.slice(0, 200));
});

test('max_connections = 2: a third connection waits until one closes', { timeout: 30000 }, async () => {
  const s2 = await h.startSluice(
    h.sluiceToml({ port: await h.freePort(), servers: [up.addr], global: { workers: 1 }, limits: { max_connections: 2 } }),
  );
  await h.sleep(200); // let the readiness probe's connection go away
  const c1 = await h.rawConnect(s2.port);
  const c2 = await h.rawConnect(s2.port);
  for (const [c, n] of [
    [c1, 1],
    [c2, 2],
  ]) {
    c.write(`GET /maxconn/${n} HTTP/1.1\r\nHost: app.test\r\n\r\n`);
    await c.waitFor(() => c.responses().some((r) => !r.incomplete), 3000);
    assert.equal(c.responses()[0].status, 200);
  }
  // Both stay open (keep-alive). A third connection must not be served now.
  let c3;
  try {
    c3 = await h.rawConnect(s2.port);
  } catch (e) {
    assert.fail(`third connect failed outright (${e.message}); it should queue`);
  }
  c3.write('GET /maxconn/3 HTTP/1.1\r\nHost: app.test\r\n\r\n');
  await h.sleep(1000);
  assert.equal(c3.data.length, 0, `third connection got a response while two were open: ${c3.text().slice(0, 100)}`);
  assert.equal(up.seen('/maxconn/3').length, 0);
  c1.close();
  await c3.waitFor(() => c3.responses().some((r) => !r.incomplete), 5000);
  assert.equal(c3.responses()[0].status, 200, 'served once a slot is free');
  c2.close();
  c3.close();
  await s2.stop();
});
