'use strict';
// Runtime: several workers each with its own SO_REUSEPORT listening socket; IPv6.
const fs = require('node:fs');
const { test, after } = require('node:test');
const h = require('./lib/harness');
const { assert } = h;

after(h.cleanup);

// Inodes of LISTEN sockets on `port` (state 0A) in /proc/net/tcp{,6}.
function listeningInodes(port) {
  const hex = port.toString(16).toUpperCase().padStart(4, '0');
  const inodes = [];
  for (const f of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text = '';
    try {
      text = fs.readFileSync(f, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      if (cols.length < 10) continue;
      if (cols[1].endsWith(`:${hex}`) && cols[3] === '0A') inodes.push(cols[9]);
    }
  }
  return inodes;
}

function socketInodesOf(pid) {
  const out = new Set();
  for (const fd of fs.readdirSync(`/proc/${pid}/fd`)) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(fs.readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m) out.add(m[1]);
    } catch { /* fd went away */ }
  }
  return out;
}

test('workers = 2: two listening sockets on the port, requests work', async () => {
  const up = await h.startUpstream({ pool: 'blue' });
  const sl = await h.startSluice(h.sluiceToml({ port: await h.freePort(), servers: [up.addr], global: { workers: 2 } }));
  const mine = socketInodesOf(sl.pid);
  const listening = listeningInodes(sl.port).filter((i) => mine.has(i));
  assert.equal(listening.length, 2, `listening sockets of sluice on :${sl.port}: ${listening.length}`);
  const statuses = [];
  for (let i = 0; i < 20; i++) statuses.push((await h.request(sl.port, { path: `/w/${i}`, headers: { Host: 'app.test' } })).status);
  assert.deepEqual(statuses, Array(20).fill(200));
});

test('an IPv6 listener [::1]:PORT works', async (t) => {
  if (!(await h.hasIPv6Loopback())) {
    t.skip('this machine has no IPv6 loopback (::1): cannot test an IPv6 listener');
    return;
  }
  const up = await h.startUpstream({ pool: 'blue' });
  const port = await h.freePort('::1');
  const sl = await h.startSluice(
    h.sluiceToml({ port, servers: [up.addr], listeners: `[[listener]]\nlisten = "[::1]:${port}"` }),
  );
  const res = await h.request(port, { host: '::1', path: '/v6', headers: { Host: `[::1]:${port}` } });
  assert.equal(res.status, 200);
  const seen = h.json(res);
  assert.equal(seen.headers['x-real-ip'], '::1');
  assert.equal(seen.headers['x-forwarded-for'], '::1');
  const c = await h.curl(['-g', '-o', '/dev/null', '-w', '%{http_code}', `http://[::1]:${port}/v6curl`]);
  assert.equal(c.stdout, '200');
  await sl.stop();
});

test('an upstream on IPv6 [::1] works', async (t) => {
  if (!(await h.hasIPv6Loopback())) {
    t.skip('this machine has no IPv6 loopback (::1)');
    return;
  }
  const up = await h.startUpstream({ pool: 'v6', host: '::1' });
  const sl = await h.startSluice(h.sluiceToml({ port: await h.freePort(), servers: [up.addr] }));
  const res = await h.request(sl.port, { path: '/to-v6', headers: { Host: 'app.test' } });
  assert.equal(res.status, 200);
  assert.equal(res.headers['x-pool'], 'v6');
});
