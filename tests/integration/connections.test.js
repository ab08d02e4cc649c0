'use strict';
// Keep-alive, pipelining and HTTP/1.0 on the client side; upstream connection reuse.
const { test, before, after } = require('node:test');
const h = require('./lib/harness');
const { assert } = h;

let up;
let sl;

before(async () => {
  // Upstream keeps idle connections for 30 s so reuse is not cut short by Node.
  up = await h.startUpstream({ pool: 'blue', keepAliveTimeout: 30000 });
  sl = await h.startSluice(h.sluiceToml({ port: await h.freePort(), servers: [up.addr] }));
});
after(h.cleanup);

const req = (p, extra = '') => `GET ${p} HTTP/1.1\r\nHost: app.test\r\n${extra}\r\n`;

test('keep-alive: several requests on one client socket; upstream connection reused', async () => {
  const c = await h.rawConnect(sl.port);
  const bodies = [];
  for (let i = 1; i <= 4; i++) {
    c.write(req(`/ka/${i}`));
    await c.waitFor(() => c.responses().filter((r) => !r.incomplete).length >= i, 5000);
    assert.ok(!c.closed, `client connection still open after response ${i}`);
    const rs = c.responses();
    assert.equal(rs[i - 1].status, 200);
    bodies.push(JSON.parse(rs[i - 1].body));
    await h.sleep(50);
  }
  assert.deepEqual(bodies.map((b) => b.url), ['/ka/1', '/ka/2', '/ka/3', '/ka/4']);
  const sockets = new Set(bodies.map((b) => b.socket));
  assert.equal(sockets.size, 1, `upstream saw one reused connection, got source ports ${[...sockets]}`);
  c.close();
});

test('upstream connections are reused across client connections too', async () => {
  const a = h.json(await h.request(sl.port, { path: '/reuse/1', headers: { Host: 'app.test' } }));
  await h.sleep(100);
  const b = h.json(await h.request(sl.port, { path: '/reuse/2', headers: { Host: 'app.test' } }));
  assert.equal(a.socket, b.socket, 'the idle upstream connection from the first request serves the second');
});

test('pipelining: 3 requests in one write get 3 responses in order', async () => {
  // The first one is slow so an out-of-order implementation would show.
  const r = await h.rawRequest(sl.port, req('/pipe/1/delay/300') + req('/pipe/2') + req('/pipe/3', 'Connection: close\r\n'), {
    timeout: 5000,
  });
  const rs = h.parseResponses(r.data).responses;
  assert.equal(rs.length, 3, r.text.slice(0, 500));
  assert.deepEqual(
    rs.map((x) => [x.status, JSON.parse(x.body).url]),
    [
      [200, '/pipe/1/delay/300'],
      [200, '/pipe/2'],
      [200, '/pipe/3'],
    ],
  );
  assert.ok(r.closed && !r.timedOut, 'closed after Connection: close');
});

test('HTTP/1.0 request: response is not chunked and the connection is closed', async () => {
  const r = await h.rawRequest(sl.port, 'GET /old/chunked/5/100 HTTP/1.0\r\nHost: app.test\r\n\r\n', { timeout: 5000 });
  assert.ok(r.closed && !r.timedOut, 'sluice closes an HTTP/1.0 connection without keep-alive');
  const [res] = h.parseResponses(r.data).responses;
  assert.equal(res.status, 200);
  assert.ok(!/chunked/i.test(res.headers['transfer-encoding'] || ''), 'no chunked encoding to an HTTP/1.0 client');
  assert.equal(res.body.length, 500);
  assert.equal(h.sha256(res.body), res.headers['x-body-sha256']);
});

test('HTTP/1.0 with a Content-Length response', async () => {
  const r = await h.rawRequest(sl.port, 'GET /old/json HTTP/1.0\r\nHost: app.test\r\n\r\n', { timeout: 5000 });
  assert.ok(r.closed && !r.timedOut);
  const [res] = h.parseResponses(r.data).responses;
  assert.equal(res.status, 200);
  assert.equal(JSON.parse(res.body).url, '/old/json');
});
