'use strict';
// The Node keep-alive race: Node closes idle keep-alive sockets after 5 s
// (server.keepAliveTimeout) and says so in `Keep-Alive: timeout=5`. Requests that
// arrive around that moment must never surface as 502s: sluice retires idle
// connections before the upstream's timeout and retries an idempotent request
// once when a reused connection dies before any response byte.
// In its own file so its ~30 s run in parallel with the other files.
const { test, before, after } = require('node:test');
const h = require('./lib/harness');
const { assert } = h;

let up;
let sl;

before(async () => {
  up = await h.startUpstream({ pool: 'node-default' }); // Node's default keepAliveTimeout (5 s)
  sl = await h.startSluice(h.sluiceToml({ port: await h.freePort(), servers: [up.addr] }));
});
after(h.cleanup);

test('requests at 4.8 .. 5.2 s idle intervals never get a 502', { timeout: 90000 }, async () => {
  assert.equal(up.server.keepAliveTimeout, 5000, "the upstream uses Node's default keep-alive timeout");
  const intervals = [4800, 4900, 5000, 5050, 5100, 5200];
  const results = [];
  let res = await h.request(sl.port, { path: '/race/0', headers: { Host: 'app.test' } });
  results.push(res.status);
  for (let i = 0; i < intervals.length; i++) {
    await h.sleep(intervals[i]);
    res = await h.request(sl.port, { path: `/race/${i + 1}`, headers: { Host: 'app.test' } });
    results.push(res.status);
  }
  assert.deepEqual(results, Array(intervals.length + 1).fill(200), `statuses: ${results}`);
  assert.equal(up.seen('/race/').length, intervals.length + 1);
});
