'use strict';
// Request and response header handling (SPEC: "Proxy behaviour").
const { test, before, after } = require('node:test');
const h = require('./lib/harness');
const { assert } = h;

const SECURITY = {
  'x-frame-options': 'DENY',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'strict-origin-when-cross-origin',
  'content-security-policy': "default-src 'self'",
  'x-test-header': 'yes',
};

let up;
let sl;

before(async () => {
  up = await h.startUpstream({ pool: 'blue', headers: { Server: 'NodeUp/1.0', 'X-Powered-By': 'Express' } });
  const dead = await h.freePort(); // nobody listens here
  const port = await h.freePort();
  sl = await h.startSluice(
    h.sluiceToml({
      port,
      headers: [
        '"Strict-Transport-Security" = "max-age=63072000; includeSubDomains"',
        '"X-Frame-Options" = "DENY"',
        '"X-Content-Type-Options" = "nosniff"',
        '"Referrer-Policy" = "strict-origin-when-cross-origin"',
        `"Content-Security-Policy" = "default-src 'self'"`,
        '"X-Test-Header" = "yes"',
        'strip = ["Server", "X-Powered-By"]',
      ].join('\n'),
      pools: {
        app: [up.addr],
        dead: [`127.0.0.1:${dead}`],
        slow: { servers: [up.addr], read_timeout: '1s' },
      },
      routes: `
[[route]]
name = "app"
path_prefix = "/p/"
split = { app = 100 }

[[route]]
name = "dead"
path_prefix = "/dead/"
split = { dead = 100 }

[[route]]
name = "slow"
path_prefix = "/slow/"
split = { slow = 100 }
`,
    }),
  );
});
after(h.cleanup);

const get = (p, headers = {}) => h.request(sl.port, { path: p, headers: { Host: 'app.test', ...headers } });

function assertSecurityHeaders(res, what) {
  for (const [k, v] of Object.entries(SECURITY)) {
    assert.equal(res.headers[k], v, `${what}: header ${k}`);
  }
  assert.equal(res.headers['strict-transport-security'], undefined, `${what}: no HSTS on plain HTTP`);
}

test('Host is passed through unchanged', async () => {
  const res = await get('/p/host', { Host: 'App.Example.com:8080' });
  assert.equal(res.status, 200);
  assert.equal(h.json(res).headers.host, 'App.Example.com:8080');
});

test('X-Forwarded-For is appended to an existing one; set when absent', async () => {
  let res = await get('/p/xff1', { 'X-Forwarded-For': '203.0.113.7, 198.51.100.2' });
  assert.equal(h.json(res).headers['x-forwarded-for'], '203.0.113.7, 198.51.100.2, 127.0.0.1');
  res = await get('/p/xff2');
  assert.equal(h.json(res).headers['x-forwarded-for'], '127.0.0.1');
});

test('X-Real-IP is the client address, X-Forwarded-Proto is http, X-Forwarded-Host the Host', async () => {
  // A client-supplied X-Real-IP must not survive: it is set from the socket.
  const res = await get('/p/real', { 'X-Real-IP': '10.9.8.7' });
  const seen = h.json(res).headers;
  assert.equal(seen['x-real-ip'], '127.0.0.1');
  assert.equal(seen['x-forwarded-proto'], 'http');
  assert.equal(seen['x-forwarded-host'], 'app.test');
});

test('X-Request-Id: generated (32 hex) when absent, sent upstream and echoed', async () => {
  const res = await get('/p/rid1');
  const id = res.headers['x-request-id'];
  assert.match(id || '', /^[0-9a-f]{32}$/i, 'response echoes a 32-hex request id');
  assert.equal(h.json(res).headers['x-request-id'], id, 'upstream got the same id');
  const res2 = await get('/p/rid1');
  assert.notEqual(res2.headers['x-request-id'], id, 'ids are unique');
});

test('X-Request-Id: kept when the client sends one', async () => {
  const res = await get('/p/rid2', { 'X-Request-Id': 'client-chosen-42' });
  assert.equal(res.headers['x-request-id'], 'client-chosen-42');
  assert.equal(h.json(res).headers['x-request-id'], 'client-chosen-42');
});

test('hop-by-hop request headers are not forwarded upstream', async () => {
  const before = up.requests.length;
  const r = await h.rawRequest(
    sl.port,
    'GET /p/hop-req HTTP/1.1\r\n' +
      'Host: app.test\r\n' +
      'Connection: keep-alive, X-Hop-Req\r\n' +
      'X-Hop-Req: secret\r\n' +
      'Keep-Alive: timeout=9\r\n' +
      'Proxy-Connection: keep-alive\r\n' +
      'TE: trailers\r\n' +
      'Trailer: X-Never\r\n' +
      'Upgrade: h2c\r\n' +
      'X-End-To-End: kept\r\n' +
      '\r\n',
    { until: h.completeResponses(1), timeout: 5000 },
  );
  const [res] = h.parseResponses(r.data, { allowIncomplete: true }).responses;
  assert.equal(res && res.status, 200, r.text.slice(0, 300));
  const seen = up.requests.slice(before).find((x) => x.url === '/p/hop-req');
  assert.ok(seen, 'upstream got the request');
  for (const k of ['x-hop-req', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'upgrade', 'transfer-encoding']) {
    assert.equal(seen.headers[k], undefined, `upstream must not see ${k}`);
  }
  assert.ok(!/x-hop-req/i.test(seen.headers.connection || ''), 'Connection must not carry client tokens');
  assert.equal(seen.headers['x-end-to-end'], 'kept');
});

test('hop-by-hop response headers are not forwarded to the client', async () => {
  const res = await get('/p/rawhop');
  assert.equal(res.status, 200);
  assert.equal(res.body.toString(), 'ok');
  assert.equal(res.headers['x-end-to-end'], 'kept');
  for (const k of ['x-hop-resp', 'proxy-connection', 'te', 'trailer', 'upgrade']) {
    assert.equal(res.headers[k], undefined, `client must not see ${k}`);
  }
  assert.ok(!/max=777/.test(res.headers['keep-alive'] || ''), "upstream's Keep-Alive must not be forwarded");
  assert.ok(!/x-hop-resp/i.test(res.headers.connection || ''), "upstream's Connection tokens must not be forwarded");
});

test('security headers on proxied responses, no HSTS on plain HTTP; Server/X-Powered-By stripped', async () => {
  const res = await get('/p/sec');
  assert.equal(res.status, 200);
  assertSecurityHeaders(res, 'proxied 200');
  assert.notEqual(res.headers.server, 'NodeUp/1.0', 'upstream Server header stripped');
  assert.equal(res.headers['x-powered-by'], undefined, 'X-Powered-By stripped');
  assert.equal(res.headers['x-pool'], 'blue', 'other upstream headers kept');
});

test("security headers on sluice's own 400", async () => {
  const r = await h.rawRequest(sl.port, 'GET /p/nohost HTTP/1.1\r\n\r\n', { timeout: 3000 });
  const [res] = h.parseResponses(r.data, { allowIncomplete: true }).responses;
  assert.equal(res && res.status, 400, r.text.slice(0, 300));
  assertSecurityHeaders(res, '400');
});

test("security headers on sluice's own 404 (no route matches)", async () => {
  const res = await get('/nowhere');
  assert.equal(res.status, 404);
  assertSecurityHeaders(res, '404');
});

test("security headers on sluice's own 502 (connect refused)", async () => {
  const res = await get('/dead/x');
  assert.equal(res.status, 502);
  assertSecurityHeaders(res, '502');
});

test("security headers on sluice's own 504 (upstream read timeout)", async () => {
  const t0 = Date.now();
  const res = await get('/slow/hang');
  assert.equal(res.status, 504);
  assert.ok(Date.now() - t0 < 5000, 'read_timeout = 1s honoured');
  assertSecurityHeaders(res, '504');
});

test('with no [headers] table the five default security headers are set (HSTS not on plain HTTP)', async () => {
  const port = await h.freePort();
  const s2 = await h.startSluice(h.sluiceToml({ port, servers: [up.addr] }));
  const res = await h.request(s2.port, { path: '/defaults', headers: { Host: 'app.test' } });
  assert.equal(res.status, 200);
  assert.equal(res.headers['x-frame-options'], 'DENY');
  assert.equal(res.headers['x-content-type-options'], 'nosniff');
  assert.equal(res.headers['referrer-policy'], 'strict-origin-when-cross-origin');
  assert.equal(res.headers['content-security-policy'], "default-src 'self'");
  assert.equal(res.headers['strict-transport-security'], undefined);
  await s2.stop();
});
