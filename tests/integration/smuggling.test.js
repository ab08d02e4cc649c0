'use strict';
// Request smuggling and malformed input: 400, connection closed, and the upstream
// never sees the request (nor anything pipelined behind it).
const { test, before, after } = require('node:test');
const h = require('./lib/harness');
const { assert } = h;

let up;
let sl;

before(async () => {
  up = await h.startUpstream({ pool: 'blue', keepAliveTimeout: 30000 });
  sl = await h.startSluice(h.sluiceToml({ port: await h.freePort(), servers: [up.addr] }));
});
after(h.cleanup);

const CASES = [
  {
    name: 'both Content-Length and Transfer-Encoding',
    id: 'cl-te',
    bytes: 'POST /smug/cl-te HTTP/1.1\r\nHost: app.test\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /smug/cl-te-inner HTTP/1.1\r\nHost: app.test\r\n\r\n',
  },
  {
    name: 'Transfer-Encoding then Content-Length',
    id: 'te-cl',
    bytes: 'POST /smug/te-cl HTTP/1.1\r\nHost: app.test\r\nTransfer-Encoding: chunked\r\nContent-Length: 30\r\n\r\n0\r\n\r\nGET /smug/te-cl-inner HTTP/1.1\r\nHost: app.test\r\n\r\n',
  },
  {
    name: 'two differing Content-Length headers',
    id: 'cl-cl',
    bytes: 'POST /smug/cl-cl HTTP/1.1\r\nHost: app.test\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!',
  },
  {
    name: 'invalid chunk size',
    id: 'chunk',
    bytes: 'POST /smug/chunk HTTP/1.1\r\nHost: app.test\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n',
    // The head is valid; a streaming proxy may have started the upstream request
    // before reaching the bad chunk, but it must never complete it.
    headOnlyMaySeen: true,
  },
  {
    name: 'obs-fold (header continuation line)',
    id: 'fold',
    bytes: 'GET /smug/fold HTTP/1.1\r\nHost: app.test\r\nX-Folded: first\r\n  second\r\n\r\n',
  },
  {
    name: 'bare CR inside a header',
    id: 'cr',
    bytes: 'GET /smug/cr HTTP/1.1\r\nHost: app.test\r\nX-Bad: a\rb\r\n\r\n',
  },
  {
    name: 'bare LF as line end',
    id: 'lf',
    bytes: 'GET /smug/lf HTTP/1.1\nHost: app.test\nX-A: 1\n\n',
  },
  {
    name: 'NUL in a header value',
    id: 'nul',
    bytes: 'GET /smug/nul HTTP/1.1\r\nHost: app.test\r\nX-Bad: a\0b\r\n\r\n',
  },
  {
    name: 'malformed request line',
    id: 'reqline',
    bytes: 'GET /smug/reqline HTTX/1.1\r\nHost: app.test\r\n\r\n',
  },
  {
    name: 'space before the colon in a header name',
    id: 'space',
    bytes: 'POST /smug/space HTTP/1.1\r\nHost: app.test\r\nTransfer-Encoding : chunked\r\nContent-Length: 3\r\n\r\nabc',
  },
  {
    name: 'a header line with an empty name',
    id: 'emptyname',
    bytes: 'GET /smug/emptyname HTTP/1.1\r\nHost: app.test\r\n: x\r\n\r\n',
  },
  {
    name: 'a form feed in the request target',
    id: 'ctl',
    bytes: 'GET /smug/ctl\f HTTP/1.1\r\nHost: app.test\r\n\r\n',
  },
  {
    name: 'HTTP/1.1 without Host',
    id: 'nohost',
    bytes: 'GET /smug/nohost HTTP/1.1\r\nX-A: 1\r\n\r\n',
  },
];

for (const c of CASES) {
  test(`${c.name} → 400, closed, upstream never saw it`, async () => {
    const r = await h.rawRequest(sl.port, c.bytes, { timeout: 4000 });
    assert.ok(!r.timedOut, `connection still open after 4 s; got ${JSON.stringify(r.text.slice(0, 200))}`);
    assert.match(r.text, /^HTTP\/1\.1 400 /, `expected 400, got ${JSON.stringify(r.text.slice(0, 200))}`);
    const responses = (r.text.match(/HTTP\/1\.1 \d{3} /g) || []).length;
    assert.equal(responses, 1, 'exactly one response, then close');
    await h.sleep(100);
    const seen = up.seen(`/smug/${c.id}`);
    if (c.headOnlyMaySeen) assert.ok(seen.every((x) => !x.complete), 'upstream must not get a complete request');
    else assert.equal(seen.length, 0, `upstream saw ${seen.map((x) => x.url)}`);
  });
}

test('after a 400 the connection is closed even if more pipelined requests follow', async () => {
  const r = await h.rawRequest(
    sl.port,
    'GET /smug/pipe-bad HTTP/1.1\r\nX-No-Host: 1\r\n\r\n' + 'GET /smug/pipe-after-1 HTTP/1.1\r\nHost: app.test\r\n\r\n' + 'GET /smug/pipe-after-2 HTTP/1.1\r\nHost: app.test\r\n\r\n',
    { timeout: 4000 },
  );
  assert.ok(r.closed && !r.timedOut, 'closed');
  assert.match(r.text, /^HTTP\/1\.1 400 /);
  assert.equal((r.text.match(/HTTP\/1\.1 \d{3} /g) || []).length, 1, 'no response to the requests after the bad one');
  await h.sleep(100);
  assert.equal(up.seen('/smug/pipe').length, 0);
});

test('a good request after the bad ones still works (sluice is fine)', async () => {
  const res = await h.request(sl.port, { path: '/smug-ok', headers: { Host: 'app.test' } });
  assert.equal(res.status, 200);
});
