'use strict';
// sluice-bench, the load generator (SPEC: Bench), checked against servers that
// count for themselves: a Node server's own request counter, sluice's access log,
// a server that sleeps a fixed time, and sluice's TLS listener. Assertions are
// about behaviour (exact counts, the timetable, latency floors), never about how
// fast this machine is.
const fs = require('node:fs');
const http = require('node:http');
const path = require('node:path');
const { test, before, after } = require('node:test');
const h = require('./lib/harness');
const t = require('./lib/tls');
const { assert } = h;

after(h.cleanup);

// sluice-bench is built next to sluice (build/sluice-bench); SLUICE_BENCH_BIN overrides.
const BENCH_BIN = path.resolve(h.ROOT, process.env.SLUICE_BENCH_BIN || path.join(path.dirname(h.SLUICE_BIN), 'sluice-bench'));

async function bench(args, { timeout = 60000 } = {}) {
  assert.ok(fs.existsSync(BENCH_BIN), `sluice-bench not found at ${BENCH_BIN} (build it, or set SLUICE_BENCH_BIN)`);
  const r = await h.runCmd(BENCH_BIN, args, { timeout });
  assert.ok(!r.timedOut, `sluice-bench ${args.join(' ')} timed out:\n${r.stderr}`);
  return r;
}

// Runs with --json and returns the parsed report (and asserts a clean exit).
async function benchJson(args, opts) {
  const r = await bench(['--json', ...args], opts);
  assert.equal(r.code, 0, `sluice-bench ${args.join(' ')} exited ${r.code}:\n${r.stderr}\n${r.stdout}`);
  return JSON.parse(r.stdout);
}

// A Node server that counts what it answers; `delayMs` sleeps before each answer.
async function countingServer({ delayMs = 0, pool } = {}) {
  let count = 0;
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      count++;
      const answer = () => {
        const headers = { 'Content-Length': '2' };
        if (pool) headers['X-Pool'] = pool;
        res.writeHead(200, headers);
        res.end('ok');
      };
      if (delayMs) setTimeout(answer, delayMs);
      else answer();
    });
  });
  server.keepAliveTimeout = 60000;
  const port = await h.freePort();
  await new Promise((resolve) => server.listen(port, '127.0.0.1', resolve));
  const sockets = new Set();
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  const stop = () => {
    for (const s of sockets) s.destroy();
    return new Promise((r) => server.close(() => r()));
  };
  return { port, url: `http://127.0.0.1:${port}`, count: () => count, stop };
}

test('-n 500: the server counts exactly 500 requests, and so does the report', { timeout: 60000 }, async () => {
  const srv = await countingServer();
  try {
    const r = await benchJson(['-n', '500', '-c', '8', '-t', '2', '--no-progress', `${srv.url}/count`]);
    assert.equal(r.requests, 500);
    assert.equal(r.responses, 500);
    assert.equal(r.status['200'], 500);
    assert.equal(r.errors.total, 0);
    assert.equal(srv.count(), 500, 'the server saw exactly the requests reported');
    assert.equal(r.connections_opened, 8, 'keep-alive: one connection per -c');
    assert.equal(r.latency_ms.p50 <= r.latency_ms.p99 && r.latency_ms.p99 <= r.latency_ms.max, true);

    // A new connection per request: still exact, and one connection each.
    const before = srv.count();
    const n = await benchJson(['-n', '120', '-c', '4', '--new-conn', `${srv.url}/new`]);
    assert.equal(n.responses, 120);
    assert.equal(n.connections_opened, 120);
    assert.equal(srv.count() - before, 120);
  } finally {
    await srv.stop();
  }
});

test('a 75/25 split through sluice: the pool split reported matches the access log exactly', { timeout: 60000 }, async () => {
  const blue = await h.startUpstream({ pool: 'blue', keepAliveTimeout: 30000 });
  const canary = await h.startUpstream({ pool: 'canary', keepAliveTimeout: 30000 });
  const port = await h.freePort();
  const sl = await h.startSluice(
    h.sluiceToml({
      port,
      pools: { blue: [blue.addr], canary: [canary.addr] },
      routes: '[[route]]\nname = "app"\npath_prefix = "/"\nsplit = { blue = 75, canary = 25 }\nbaseline = "blue"\n',
    }),
  );
  const r = await benchJson(['-n', '800', '-c', '4', `http://127.0.0.1:${port}/split/`]);
  assert.equal(r.responses, 800);
  assert.equal(r.pools.header, 'X-Pool');
  assert.equal(r.pools.missing, 0);

  const logged = await h.waitFor(
    () => {
      const lines = sl.accessLog().filter((l) => typeof l.path === 'string' && l.path.startsWith('/split/'));
      return lines.length >= 800 ? lines : null;
    },
    { timeout: 10000, what: '800 access log lines' },
  );
  const byPool = {};
  for (const l of logged) byPool[l.pool] = (byPool[l.pool] || 0) + 1;
  assert.deepEqual(r.pools.counts, byPool, 'the split sluice-bench saw is the split sluice logged');
  assert.equal(blue.seen('/split/').length, r.pools.counts.blue);
  assert.equal(canary.seen('/split/').length, r.pools.counts.canary);
  assert.ok(Math.abs(r.pools.counts.blue - 600) <= 24, `about 75 % blue: ${JSON.stringify(r.pools.counts)}`);

  // The text summary shows the same split with percentages.
  const text = await bench(['-n', '40', '-c', '1', `http://127.0.0.1:${port}/split/text`]);
  assert.equal(text.code, 0, text.stderr);
  assert.match(text.stdout, /pools \(X-Pool\)\n\s+blue\s+\d+\s+\d+\.\d\d %/);
  await sl.stop();
});

test('--rate 200 -d 3s: exactly the 600 requests of the timetable, within 1 % of the rate', { timeout: 60000 }, async () => {
  const srv = await countingServer();
  try {
    const r = await benchJson(['--rate', '200', '-d', '3s', '-c', '10', `${srv.url}/rate`]);
    // The timetable holds one request every 5 ms from 0 to 2995 ms: exactly 600,
    // however late any of them is sent (a late one is still sent, and its lateness
    // counts in its latency).
    assert.equal(r.mode, 'open');
    assert.equal(r.target_rate, 200);
    assert.equal(r.requests, 600);
    assert.equal(r.responses, 600);
    assert.equal(srv.count(), 600);
    // duration_s runs from request 0's scheduled time to the end of the 3 s window
    // (or the last response, if later): 600 / 3 s.
    assert.ok(Math.abs(r.rate - 200) / 200 <= 0.01, `achieved ${r.rate} req/s, target 200`);
  } finally {
    await srv.stop();
  }
});

test('a server that sleeps 50 ms: p50 reported in [50, 60) ms', { timeout: 60000 }, async () => {
  const srv = await countingServer({ delayMs: 50 });
  try {
    const closed = await benchJson(['-n', '100', '-c', '4', `${srv.url}/sleep`]);
    assert.ok(closed.latency_ms.p50 >= 50 && closed.latency_ms.p50 < 60, `closed loop p50 ${closed.latency_ms.p50} ms`);
    // Node arms setTimeout from its loop's cached clock, which can lag the arrival
    // of the request by a millisecond: the server's own "50 ms" can be 49.x.
    assert.ok(closed.latency_ms.min >= 48, `min ${closed.latency_ms.min} ms`);
    // Open loop well under capacity (4 connections × 20/s each = 80/s > 40/s).
    const open = await benchJson(['--rate', '40', '-n', '80', '-c', '4', `${srv.url}/sleep`]);
    assert.ok(open.latency_ms.p50 >= 50 && open.latency_ms.p50 < 60, `open loop p50 ${open.latency_ms.p50} ms`);
  } finally {
    await srv.stop();
  }
});

test('open loop over capacity: queueing shows in the latency (no coordinated omission)', { timeout: 60000 }, async () => {
  // One connection to a 50 ms server can answer 20/s; ask for 40/s for 40 requests.
  // Request k waits about k × 25 ms for the connection, so latency measured from the
  // schedule climbs to about a second; a closed-loop tool would report 50 ms.
  const srv = await countingServer({ delayMs: 50 });
  try {
    const r = await benchJson(['--rate', '40', '-n', '40', '-c', '1', `${srv.url}/slow`]);
    assert.equal(r.responses, 40);
    assert.ok(r.latency_ms.max >= 900, `max ${r.latency_ms.max} ms must include the time queued`);
    assert.ok(r.latency_ms.p50 >= 400, `p50 ${r.latency_ms.p50} ms must include the time queued`);
  } finally {
    await srv.stop();
  }
});

let certs;
before(async () => {
  certs = await t.makeTestCerts(h.tmpDir('sluice-bench-certs-'));
});

test('TLS through sluice: new connections resume their sessions; --no-tls-resume does not', { timeout: 60000 }, async () => {
  const up = await h.startUpstream({ pool: 'app', keepAliveTimeout: 30000 });
  const port = await h.freePort();
  const listeners = t.tlsListenerToml({ port, certs: [certs.rsa] });
  const sl = await h.startSluice(h.sluiceToml({ port, servers: [up.addr], listeners }));
  const url = `https://localhost:${port}/tls`;

  const resumed = await benchJson(['-n', '60', '-c', '2', '--new-conn', '--cacert', certs.ca.cert, url]);
  assert.equal(resumed.responses, 60);
  assert.equal(resumed.errors.total, 0);
  assert.equal(resumed.connections_opened, 60);
  assert.equal(resumed.tls_handshakes.full + resumed.tls_handshakes.resumed, 60);
  // Only the connections that started before the first session arrived are full.
  assert.ok(resumed.tls_handshakes.resumed >= 55, `resumed ${JSON.stringify(resumed.tls_handshakes)}`);
  assert.equal(resumed.pools.counts.app, 60);

  const full = await benchJson(['-n', '20', '-c', '2', '--new-conn', '--no-tls-resume', url]);
  assert.equal(full.responses, 20);
  assert.deepEqual(full.tls_handshakes, { full: 20, resumed: 0 });

  // Keep-alive over TLS: one handshake per connection.
  const ka = await benchJson(['-n', '50', '-c', '2', url]);
  assert.equal(ka.responses, 50);
  assert.equal(ka.tls_handshakes.full + ka.tls_handshakes.resumed, 2);

  // Verification against a CA that did not sign the certificate fails every request.
  const bad = await bench(['-n', '3', '-c', '1', '--verify', '--json', url]);
  assert.equal(bad.code, 1, 'no response at all: exit 1');
  assert.equal(JSON.parse(bad.stdout).errors.tls, 3);
  await sl.stop();
});

test('usage: --help exits 0, bad flags exit 2 with a message', { timeout: 30000 }, async () => {
  const help = await bench(['--help']);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /usage: sluice-bench/);
  for (const [args, msg] of [
    [['--bogus', 'http://127.0.0.1:1/'], /unknown option '--bogus'/],
    [['-c', 'many', 'http://127.0.0.1:1/'], /-c: expected a whole number/],
    [['-n', '5', '-d', '1s', 'http://127.0.0.1:1/'], /not both/],
    [['--rate', '0', 'http://127.0.0.1:1/'], /--rate/],
    [[], /no URL given/],
    [['ftp://x/'], /unsupported scheme/],
  ]) {
    const r = await bench(args);
    assert.equal(r.code, 2, `${args.join(' ')}: exit 2`);
    assert.match(r.stderr, msg);
    assert.equal(r.stdout, '');
  }
});

test('connection refused: counted as connect errors, exit 1', { timeout: 30000 }, async () => {
  const port = await h.freePort();
  const r = await bench(['-n', '5', '-c', '1', '--json', `http://127.0.0.1:${port}/`]);
  assert.equal(r.code, 1);
  const j = JSON.parse(r.stdout);
  assert.equal(j.errors.connect, 5);
  assert.equal(j.responses, 0);
});
