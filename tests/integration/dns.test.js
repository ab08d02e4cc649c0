'use strict';
// Upstream host names: resolved with c-ares at start-up, re-resolved by TTL,
// last good addresses kept when the DNS server fails, start-up refused when a
// name never resolves, reloads that add a name.
//
// Each test runs its own tiny DNS server (node:dgram on 127.0.0.1) and points
// sluice at it with SLUICE_DNS_SERVERS. It answers A queries for the names it
// was given, with the TTL it was given; AAAA queries for them get NOERROR
// with no records; other names get NXDOMAIN. Upstreams listen on 127.0.0.1
// and 127.0.0.2 (both loopback) on the same port, since the port is in the
// config and only the address may change.
const dgram = require('node:dgram');
const fs = require('node:fs');
const http = require('node:http');
const { test, after } = require('node:test');
const h = require('./lib/harness');
const a = require('./lib/admin');
const { assert } = h;

const dnsServers = [];
after(async () => {
  for (const d of dnsServers.splice(0)) await d.stop();
  await h.cleanup();
});

// Names only these tests use (never in /etc/hosts, which c-ares reads first).
const NAME = 'blue.sluice-dns.test';
const NAME2 = 'green.sluice-dns.test';

function readName(msg, off) {
  const labels = [];
  for (;;) {
    const len = msg[off];
    if (len === undefined) throw new Error('truncated name');
    if (len === 0) return { name: labels.join('.').toLowerCase(), end: off + 1 };
    if ((len & 0xc0) !== 0) throw new Error('compressed name in a question');
    labels.push(msg.toString('latin1', off + 1, off + 1 + len));
    off += 1 + len;
  }
}

async function startDns() {
  const sock = dgram.createSocket('udp4');
  const records = new Map(); // name -> { addrs: ['127.0.0.1'], ttl }
  const d = { queries: [], silent: false, records };
  sock.on('message', (msg, rinfo) => {
    let q;
    try {
      q = readName(msg, 12);
    } catch {
      return;
    }
    const qtype = msg.readUInt16BE(q.end);
    d.queries.push({ name: q.name, qtype, time: Date.now() });
    if (d.silent) return;
    const rec = records.get(q.name);
    const answers = rec && qtype === 1 ? rec.addrs : [];
    const head = Buffer.alloc(12);
    head.writeUInt16BE(msg.readUInt16BE(0), 0); // id
    const rd = msg[2] & 0x01;
    // QR, AA, RD copied; RA; rcode 0 (NOERROR) or 3 (NXDOMAIN)
    head.writeUInt16BE(0x8400 | (rd << 8) | 0x0080 | (rec ? 0 : 3), 2);
    head.writeUInt16BE(1, 4); // one question
    head.writeUInt16BE(answers.length, 6);
    const question = msg.subarray(12, q.end + 4);
    const rrs = answers.map((ip) => {
      const rr = Buffer.alloc(16);
      rr.writeUInt16BE(0xc00c, 0); // the name in the question
      rr.writeUInt16BE(1, 2); // A
      rr.writeUInt16BE(1, 4); // IN
      rr.writeUInt32BE(rec.ttl, 6);
      rr.writeUInt16BE(4, 10);
      ip.split('.').forEach((b, i) => (rr[12 + i] = Number(b)));
      return rr;
    });
    sock.send(Buffer.concat([head, question, ...rrs]), rinfo.port, rinfo.address);
  });
  await new Promise((resolve, reject) => {
    sock.once('error', reject);
    sock.bind(0, '127.0.0.1', resolve);
  });
  d.port = sock.address().port;
  d.env = { SLUICE_DNS_SERVERS: `127.0.0.1:${d.port}` };
  d.set = (name, addrs, ttl = 1) => records.set(name, { addrs, ttl });
  d.asked = (name) => d.queries.filter((x) => x.name === name && x.qtype === 1).length;
  let stopped = false;
  d.stop = () =>
    new Promise((resolve) => {
      if (stopped) return resolve();
      stopped = true;
      sock.close(() => resolve());
    });
  dnsServers.push(d);
  return d;
}

// Upstreams on 127.0.0.1 and 127.0.0.2 with one port (retried if the port is
// taken on the second address).
async function twoUpstreams() {
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = await h.freePort('127.0.0.1');
    const one = await h.startUpstream({ pool: 'one', host: '127.0.0.1', port });
    try {
      const two = await h.startUpstream({ pool: 'two', host: '127.0.0.2', port });
      return { port, one, two };
    } catch {
      await one.stop();
    }
  }
  throw new Error('no port free on both 127.0.0.1 and 127.0.0.2');
}

const get = (port, agent) => h.request(port, { headers: { Host: 'app.test' }, agent: agent || false });

// A DNS server answering NAME with 127.0.0.1 (TTL `ttl` s), the two upstreams,
// and sluice with one pool whose only server is NAME.
async function startWithName(ttl) {
  const dns = await startDns();
  const ups = await twoUpstreams();
  dns.set(NAME, ['127.0.0.1'], ttl);
  const port = await h.freePort();
  const sl = await h.startSluice(h.sluiceToml({ port, servers: [`${NAME}:${ups.port}`] }), { env: dns.env });
  return { dns, ...ups, upPort: ups.port, port, sl };
}

test('a host name resolves at start-up and traffic reaches its address', async () => {
  const { upPort, port, sl, one } = await startWithName(60);
  const res = await get(port);
  assert.equal(res.status, 200);
  assert.equal(res.headers['x-pool'], 'one');
  assert.ok(one.requests.length >= 1);
  const ev = sl.events().find((e) => e.event === 'dns_resolved');
  assert.ok(ev, sl.stderr);
  assert.equal(ev.name, NAME);
  assert.equal(ev.addresses, '127.0.0.1');
  // The access log names the host and the address; the upstream saw the configured name as
  // its Host only when the client sent none, so the client's Host is passed through here.
  await h.waitFor(() => sl.accessLog().length >= 1, { what: 'an access line' });
  assert.equal(sl.accessLog()[0].upstream, `${NAME}:${upPort} (127.0.0.1)`);
  assert.equal(h.json(res).headers.host, 'app.test');
  // Metrics count the lookup.
  const m = await a.getMetrics(`${sl.dir}/admin.sock`);
  assert.match(m, /^sluice_dns_resolutions_total\{result="success"\} [1-9]/m);
  assert.match(m, /^sluice_dns_names 1$/m);
});

test('the answer changes after its TTL: new requests go to the new address, none fails, the old address is not used again', { timeout: 60000 }, async () => {
  const { dns, port, sl, one, two } = await startWithName(1);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 2 });
  try {
    const results = [];
    let running = true;
    // Two clients keep sending (keep-alive to sluice, so sluice keeps its upstream
    // connections too) while the answer changes.
    const load = Promise.all(
      [0, 1].map(async () => {
        while (running) {
          try {
            const r = await get(port, agent);
            results.push(r.status === 200 ? r.headers['x-pool'] : `status ${r.status}`);
          } catch (e) {
            results.push(`error ${e.message}`);
          }
        }
      }),
    );
    await h.waitFor(() => results.filter((x) => x === 'one').length >= 10, { timeout: 10000, what: 'traffic on the first address' });
    dns.set(NAME, ['127.0.0.2'], 1);
    await h.waitFor(() => results.includes('two'), { timeout: 20000, what: 'traffic on the new address' });
    running = false;
    await load;
    const failed = results.filter((x) => x !== 'one' && x !== 'two');
    assert.deepEqual(failed, [], 'no request failed during the change');

    const ev = sl.events().find((e) => e.event === 'dns_changed');
    assert.ok(ev, sl.stderr);
    assert.equal(ev.pool, 'app');
    assert.equal(ev.name, NAME);
    assert.equal(ev.old, '127.0.0.1');
    assert.equal(ev.new, '127.0.0.2');

    // The old upstream goes away: sluice must not touch it again (no idle
    // connection to it is reused), so every request still succeeds, on the new one.
    const before = one.requests.length;
    await one.stop();
    for (let i = 0; i < 20; i++) {
      const r = await get(port, agent);
      assert.equal(r.status, 200);
      assert.equal(r.headers['x-pool'], 'two');
    }
    assert.equal(one.requests.length, before);
    assert.ok(two.requests.length >= 20);
    const m = await a.getMetrics(`${sl.dir}/admin.sock`);
    assert.match(m, /^sluice_dns_changes_total 1$/m);
  } finally {
    agent.destroy();
  }
});

test('the DNS server stops answering: sluice keeps serving the last good addresses', { timeout: 60000 }, async () => {
  const { dns, port, sl, one } = await startWithName(1);
  assert.equal((await get(port)).status, 200);
  dns.silent = true;
  await h.waitFor(() => sl.events().some((e) => e.event === 'dns_refresh_failed'), { timeout: 20000, what: 'a failed refresh' });
  const ev = sl.events().find((e) => e.event === 'dns_refresh_failed');
  assert.equal(ev.name, NAME);
  assert.equal(ev.kept, '127.0.0.1');
  assert.ok(ev.error);
  const seen = one.requests.length;
  for (let i = 0; i < 5; i++) {
    const r = await get(port);
    assert.equal(r.status, 200);
    assert.equal(r.headers['x-pool'], 'one');
  }
  assert.equal(one.requests.length, seen + 5);
  assert.ok(!sl.events().some((e) => e.event === 'dns_changed'));
  const m = await a.getMetrics(`${sl.dir}/admin.sock`);
  assert.match(m, /^sluice_dns_resolutions_total\{result="failure"\} [1-9]/m);

  // It answers again: refreshes succeed and nothing changed.
  dns.silent = false;
  const asked = dns.asked(NAME);
  await h.waitFor(() => dns.asked(NAME) > asked, { timeout: 40000, what: 'a refresh after the failures' });
  assert.equal((await get(port)).status, 200);
});

test('a name that does not resolve: start-up refused with the pool, the server and the error', async () => {
  const dns = await startDns();
  const port = await h.freePort();
  const toml = h.sluiceToml({
    port,
    pools: { blue: ['127.0.0.1:9', 'nowhere.sluice-dns.test:3000'] },
  });
  const sl = await h.startSluice(toml, { env: dns.env, waitListening: false });
  const r = await sl.waitExit(15000);
  assert.equal(r.code, 1);
  const ev = sl.events().find((e) => e.event === 'dns_resolution_failed');
  assert.ok(ev, sl.stderr);
  assert.equal(ev.pool, 'blue');
  assert.equal(ev.server, 'nowhere.sluice-dns.test:3000');
  assert.equal(ev.name, 'nowhere.sluice-dns.test');
  assert.match(ev.error, /not found/i);
  assert.ok(!sl.events().some((e) => e.event === 'started'));
  // --check does not resolve: the same file passes, and the DNS server hears nothing.
  const asked = dns.asked('nowhere.sluice-dns.test');
  assert.ok(asked >= 1);
  const check = await h.runSluice(['--check', '-c', sl.configPath], { env: dns.env });
  assert.equal(check.code, 0, check.stderr);
  assert.equal(dns.asked('nowhere.sluice-dns.test'), asked);
});

test('a DNS server that never answers: start-up refused within the bound', { timeout: 60000 }, async () => {
  const dns = await startDns();
  dns.silent = true;
  const port = await h.freePort();
  const sl = await h.startSluice(h.sluiceToml({ port, servers: [`${NAME}:3000`] }), { env: dns.env, waitListening: false });
  const r = await sl.waitExit(20000);
  assert.equal(r.code, 1);
  const ev = sl.events().find((e) => e.event === 'dns_resolution_failed');
  assert.ok(ev, sl.stderr);
  assert.equal(ev.pool, 'app');
  assert.match(ev.error, /time/i);
});

test('a reload that adds a host name: answered 202 at once, applied when the name resolves; an unresolvable one is refused', { timeout: 60000 }, async () => {
  const { dns, upPort, port, sl, two } = await startWithName(60);
  const sock = `${sl.dir}/admin.sock`;
  assert.equal((await get(port)).headers['x-pool'], 'one');

  dns.set(NAME2, ['127.0.0.2'], 60);
  fs.writeFileSync(sl.configPath, sl.toml.replace(`${NAME}:${upPort}`, `${NAME2}:${upPort}`));
  const r = await a.adminRequest(sock, 'POST', '/v1/reload');
  assert.equal(r.status, 202, r.text);
  assert.deepEqual(r.json.resolving, [NAME2]);
  await h.waitFor(() => sl.events().some((e) => e.event === 'reloaded'), { timeout: 10000, what: 'the reload to apply' });
  const res = await get(port);
  assert.equal(res.headers['x-pool'], 'two');
  assert.ok(two.requests.length >= 1);

  // A name that does not resolve: refused, the running config kept.
  fs.writeFileSync(sl.configPath, sl.toml.replace(`${NAME}:${upPort}`, `missing.sluice-dns.test:${upPort}`));
  const bad = await a.adminRequest(sock, 'POST', '/v1/reload');
  assert.equal(bad.status, 202, bad.text);
  await h.waitFor(() => sl.events().some((e) => e.event === 'reload_failed'), { timeout: 10000, what: 'the reload to be refused' });
  const fail = sl.events().find((e) => e.event === 'reload_failed');
  assert.match(fail.errors, /pool\.app: server "missing\.sluice-dns\.test:\d+": cannot resolve/);
  assert.equal((await get(port)).headers['x-pool'], 'two');

  // A reload whose names are all known is applied at once (200), from the cached answers.
  fs.writeFileSync(sl.configPath, sl.toml.replace(`${NAME}:${upPort}`, `${NAME2}:${upPort}`));
  const again = await a.adminRequest(sock, 'POST', '/v1/reload');
  assert.equal(again.status, 200, again.text);
});
