'use strict';
// WebSocket / Upgrade: tunnelled both ways after 101, byte for byte.
const crypto = require('node:crypto');
const net = require('node:net');
const { test, before, after } = require('node:test');
const h = require('./lib/harness');
const { assert } = h;

let up;
let sl;

before(async () => {
  up = await h.startUpstream({ pool: 'ws' });
  sl = await h.startSluice(h.sluiceToml({ port: await h.freePort(), servers: [up.addr] }));
});
after(h.cleanup);

test('Upgrade: websocket gets 101 and bytes are echoed both ways, binary included', async () => {
  const c = await h.rawConnect(sl.port);
  c.write(
    'GET /ws/chat HTTP/1.1\r\n' +
      'Host: app.test\r\n' +
      'Upgrade: websocket\r\n' +
      'Connection: Upgrade\r\n' +
      'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n' +
      'Sec-WebSocket-Version: 13\r\n' +
      '\r\n',
  );
  await c.waitFor((d) => d.includes('\r\n\r\n'), 5000);
  const headEnd = c.data.indexOf('\r\n\r\n') + 4;
  const head = c.data.subarray(0, headEnd).toString('latin1');
  assert.match(head, /^HTTP\/1\.1 101 /, head);
  assert.match(head, /\r\nupgrade: websocket\r\n/i);
  assert.match(head, /\r\nconnection: upgrade\r\n/i);

  assert.equal(up.upgrades.length, 1, 'upstream got the upgrade request');
  assert.equal(up.upgrades[0].headers.upgrade, 'websocket');
  assert.match(up.upgrades[0].headers.connection, /upgrade/i);
  assert.equal(up.upgrades[0].headers['sec-websocket-key'], 'dGhlIHNhbXBsZSBub25jZQ==');

  const all = [0, 1, 13, 10, 255, 0];
  const binary = Buffer.concat([Buffer.from(Array.from({ length: 256 }, (_, i) => i)), crypto.randomBytes(200000), Buffer.from(all)]);
  const sent = Buffer.concat([Buffer.from('hello over the tunnel\r\n\r\n'), binary]);
  c.write(sent.subarray(0, 30));
  await h.sleep(50);
  c.write(sent.subarray(30));
  await c.waitFor((d) => d.length >= headEnd + sent.length, 10000);
  const echoed = c.data.subarray(headEnd);
  assert.equal(echoed.length, sent.length, 'every byte came back, nothing more');
  assert.ok(echoed.equals(sent), 'echoed byte for byte');
  assert.ok(!c.closed, 'tunnel still open');
  c.close();
});

test('a plain request after a tunnel works and carries no Upgrade header upstream', async () => {
  const res = await h.request(sl.port, { path: '/ws/plain', headers: { Host: 'app.test' } });
  assert.equal(res.status, 200);
  assert.equal(h.json(res).headers.upgrade, undefined);
});

// An idle tunnel gives both of its read buffers (client side 16 KiB, upstream
// side 64 KiB) back to the worker's pool, whose unused pages go back to the
// kernel within two seconds: ten thousand quiet WebSockets must not pin
// their last message's buffers. Each tunnel here carries 12 KiB each way, so
// a tunnel that kept its buffers would keep ~24 KiB more resident. Measured
// with 150 tunnels: ~29 KiB per idle tunnel when sluice kept them, ~2.7 KiB
// (its connection state) since; nginx 1.22 keeps ~17 KiB.
const TUNNELS = 150;
const PER_TUNNEL_LIMIT_KIB = 10;

async function openTunnel(port) {
  const c = await h.rawConnect(port);
  c.write('GET /ws/idle HTTP/1.1\r\nHost: app.test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n');
  await c.waitFor((d) => d.includes('\r\n\r\n'), 5000);
  c.headEnd = c.data.indexOf('\r\n\r\n') + 4;
  assert.match(c.data.subarray(0, c.headEnd).toString('latin1'), /^HTTP\/1\.1 101 /);
  return c;
}

async function echo(c, message) {
  const want = c.data.length + message.length;
  c.write(message);
  await c.waitFor((d) => d.length >= want, 5000);
  assert.ok(c.data.subarray(want - message.length).equals(message), 'echoed byte for byte');
}

test('idle tunnels hold no read buffers, and carry bytes again when they wake', async (t) => {
  // Warm-up: the pools, the upstream keep-alive machinery, the heap.
  const warm = await openTunnel(sl.port);
  await echo(warm, crypto.randomBytes(12 * 1024));
  warm.close();
  await h.sleep(2500);
  const base = sl.rss();

  const tunnels = [];
  for (let i = 0; i < TUNNELS; i++) tunnels.push(await openTunnel(sl.port));
  await Promise.all(tunnels.map((c) => echo(c, crypto.randomBytes(12 * 1024))));
  // Buffers given back are trimmed after a second of disuse.
  await h.sleep(2500);
  const perTunnel = (sl.rss() - base) / TUNNELS;
  const what = `an idle tunnel costs ${perTunnel.toFixed(1)} KiB of sluice's RSS (limit ${PER_TUNNEL_LIMIT_KIB})`;
  if (h.sanitizedBuild()) t.diagnostic(`${what}; not checked under AddressSanitizer`);
  else assert.ok(perTunnel < PER_TUNNEL_LIMIT_KIB, what);

  // Every tunnel still works both ways after its buffers went back.
  await Promise.all(tunnels.map((c) => echo(c, Buffer.from(`still here ${crypto.randomBytes(4).toString('hex')}`))));
  for (const c of tunnels) {
    assert.ok(!c.closed, 'tunnel still open');
    c.close();
  }
});

// A tunnel whose client stops reading: sluice holds at most a buffer per side
// (the echoing upstream keeps the rest), and once the client reads again
// every byte arrives in order. Under AddressSanitizer the RSS bound is not
// checked (its allocator's quarantine), the bytes are.
test('a tunnel to a client that stops reading stays bounded, then delivers every byte', { timeout: 60000 }, async (t) => {
  const TOTAL = 24 * 1024 * 1024;
  const SLACK_KIB = 16 * 1024;
  const sock = net.connect({ host: '127.0.0.1', port: sl.port });
  await new Promise((resolve, reject) => {
    sock.once('connect', resolve);
    sock.once('error', reject);
  });
  const got = crypto.createHash('sha256');
  let head = Buffer.alloc(0);
  let body = 0;
  sock.on('data', (d) => {
    if (head !== null) {
      head = Buffer.concat([head, d]);
      const end = head.indexOf('\r\n\r\n');
      if (end < 0) return;
      assert.match(head.subarray(0, end).toString('latin1'), /^HTTP\/1\.1 101 /);
      d = head.subarray(end + 4);
      head = null;
    }
    got.update(d);
    body += d.length;
  });
  sock.write('GET /ws/slow HTTP/1.1\r\nHost: app.test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n');
  await h.waitFor(() => head === null, { timeout: 5000, what: '101 Switching Protocols' });
  const base = sl.rss();
  sock.pause();
  const sent = crypto.createHash('sha256');
  const chunk = crypto.randomBytes(256 * 1024);
  for (let n = 0; n < TOTAL; n += chunk.length) {
    sent.update(chunk);
    if (!sock.write(chunk)) await new Promise((r) => sock.once('drain', r));
  }
  let peak = 0;
  for (let i = 0; i < 20; i++) {
    peak = Math.max(peak, sl.rss());
    await h.sleep(50);
  }
  const what = `sluice RSS grew by ${peak - base} KiB while the client was not reading (limit ${SLACK_KIB})`;
  if (h.sanitizedBuild()) t.diagnostic(`${what}; not checked under AddressSanitizer`);
  else assert.ok(peak - base < SLACK_KIB, what);
  sock.resume();
  await h.waitFor(() => body >= TOTAL || sock.destroyed, { timeout: 30000, what: 'the whole echo' });
  assert.equal(body, TOTAL, 'every byte came back, nothing more');
  assert.equal(got.digest('hex'), sent.digest('hex'), 'in order, byte for byte');
  sock.destroy();
});
