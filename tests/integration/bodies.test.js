'use strict';
// Request and response bodies: Content-Length and chunked both ways, 100-continue,
// and bounded memory (backpressure) with slow readers on either side.
const net = require('node:net');
const crypto = require('node:crypto');
const { test, before, after } = require('node:test');
const h = require('./lib/harness');
const { assert } = h;

const BIG = 64 * 1024 * 1024; // bigger than any sane per-connection buffer
const RSS_SLACK_KIB = 24 * 1024; // growth allowed while a peer is not reading

let up;
let sl;

before(async () => {
  up = await h.startUpstream({ pool: 'blue', keepAliveTimeout: 30000 });
  sl = await h.startSluice(
    h.sluiceToml({
      port: await h.freePort(),
      servers: [up.addr],
      limits: { max_body_bytes: '200m', client_body_timeout: '30s' },
    }),
  );
});
after(h.cleanup);

test('Content-Length upload arrives intact', async () => {
  const body = h.bigBody(1024 * 1024 + 7);
  const res = await h.request(sl.port, { method: 'POST', path: '/up/cl', headers: { Host: 'app.test', 'Content-Length': body.length }, body });
  assert.equal(res.status, 200);
  const seen = h.json(res);
  assert.equal(seen.body_length, body.length);
  assert.equal(seen.body_sha256, h.sha256(body));
});

test('chunked upload arrives intact', async () => {
  const body = h.bigBody(300000);
  const sizes = [1, 15, 4096, 65536, 100000];
  let wire = 'POST /up/chunked-upload HTTP/1.1\r\nHost: app.test\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n';
  const pieces = [Buffer.from(wire)];
  let off = 0;
  let i = 0;
  while (off < body.length) {
    const n = Math.min(sizes[i++ % sizes.length], body.length - off);
    pieces.push(Buffer.from(`${n.toString(16)}\r\n`), body.subarray(off, off + n), Buffer.from('\r\n'));
    off += n;
  }
  pieces.push(Buffer.from('0\r\n\r\n'));
  const r = await h.rawRequest(sl.port, Buffer.concat(pieces), { timeout: 10000, until: h.completeResponses(1) });
  const [res] = h.parseResponses(r.data, { allowIncomplete: true }).responses;
  assert.equal(res && res.status, 200, r.text.slice(0, 300));
  const seen = JSON.parse(res.body);
  assert.equal(seen.body_length, body.length);
  assert.equal(seen.body_sha256, h.sha256(body));
});

test('chunked upload sent slowly, chunk by chunk', async () => {
  const parts = ['POST /up/slowchunks HTTP/1.1\r\nHost: app.test\r\nTransfer-Encoding: chunked\r\n\r\n', '5\r\nhello\r\n', '1\r\n,\r\n', '6\r\n world\r\n', '0\r\n\r\n'];
  const r = await h.rawRequest(sl.port, parts, { gap: 100, timeout: 5000, until: h.completeResponses(1) });
  const [res] = h.parseResponses(r.data, { allowIncomplete: true }).responses;
  assert.equal(res && res.status, 200, r.text.slice(0, 300));
  assert.equal(JSON.parse(res.body).body_sha256, h.sha256(Buffer.from('hello, world')));
});

test('chunked response from upstream arrives intact', async () => {
  const res = await h.request(sl.port, { path: '/down/chunked/40/3001', headers: { Host: 'app.test' } });
  assert.equal(res.status, 200);
  assert.equal(res.body.length, 40 * 3001);
  assert.equal(h.sha256(res.body), res.headers['x-body-sha256']);
});

test('Expect: 100-continue gets 100 Continue before the body is sent', async () => {
  const c = await h.rawConnect(sl.port);
  c.write('POST /up/expect HTTP/1.1\r\nHost: app.test\r\nContent-Length: 11\r\nExpect: 100-continue\r\n\r\n');
  await c.waitFor((d) => /^HTTP\/1\.1 100 /.test(d.toString('latin1')), 3000);
  assert.match(c.text(), /^HTTP\/1\.1 100 Continue\r\n/, `got: ${c.text().slice(0, 200)}`);
  c.write('hello world');
  await c.waitFor(() => c.responses().some((r) => r.status === 200 && !r.incomplete), 5000);
  const res = c.responses().find((r) => r.status === 200);
  assert.equal(JSON.parse(res.body).body_sha256, h.sha256(Buffer.from('hello world')));
  c.close();
});

// Peak RSS of the sluice process sampled for `ms` milliseconds.
async function peakRss(pid, ms) {
  let peak = 0;
  const end = Date.now() + ms;
  while (Date.now() < end) {
    peak = Math.max(peak, h.rssKiB(pid) || 0);
    await h.sleep(50);
  }
  return peak;
}

test('slow client: a 64 MB response does not make sluice buffer it (backpressure), then arrives intact', { timeout: 60000 }, async () => {
  // Warm up so lazily allocated pools don't count as growth.
  await h.request(sl.port, { path: '/down/big/1048576', headers: { Host: 'app.test' } });
  const base = h.rssKiB(sl.pid);
  const sock = net.connect({ host: '127.0.0.1', port: sl.port });
  try {
    await new Promise((resolve, reject) => {
      sock.once('connect', resolve);
      sock.once('error', reject);
    });
    sock.pause(); // do not read for a while
    sock.write(`GET /down/big/${BIG} HTTP/1.1\r\nHost: app.test\r\nConnection: close\r\n\r\n`);
    await h.waitFor(() => up.seen('/down/big/' + BIG).length > 0, { timeout: 5000, what: 'upstream to get the request' });
    const peak = await peakRss(sl.pid, 2000);
    assert.ok(peak - base < RSS_SLACK_KIB, `sluice RSS grew by ${peak - base} KiB while the client was not reading (limit ${RSS_SLACK_KIB})`);

    // Now read everything and check it.
    const hash = crypto.createHash('sha256');
    let head = Buffer.alloc(0);
    let headDone = false;
    let got = 0;
    let expectSha = null;
    await h.withTimeout(
      new Promise((resolve, reject) => {
        sock.on('data', (d) => {
          if (!headDone) {
            head = Buffer.concat([head, d]);
            const i = head.indexOf('\r\n\r\n');
            if (i < 0) return;
            headDone = true;
            const headText = head.subarray(0, i).toString('latin1');
            assert.match(headText, /^HTTP\/1\.1 200 /);
            expectSha = (/\r\nx-body-sha256: *([0-9a-f]+)/i.exec(headText) || [])[1];
            d = head.subarray(i + 4);
          }
          got += d.length;
          hash.update(d);
        });
        sock.on('end', resolve);
        sock.on('error', reject);
        sock.resume();
      }),
      40000,
      'reading the 64 MB body',
    );
    assert.equal(got, BIG);
    assert.equal(hash.digest('hex'), expectSha);
  } finally {
    sock.destroy();
  }
});

// Reads one response to `GET path` on a fresh connection, pausing the socket
// for `pauseMs` after every `burst` bytes (0: never), or with `duty` =
// [readMs, pauseMs] reading and pausing by turns, and returns its length and
// sha256 next to the one the upstream announced.
function download(port, path, { burst = 0, pauseMs = 0, duty = null } = {}) {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host: '127.0.0.1', port }, () => {
      sock.write(`GET ${path} HTTP/1.1\r\nHost: app.test\r\nConnection: close\r\n\r\n`);
    });
    const hash = crypto.createHash('sha256');
    let head = Buffer.alloc(0);
    let expectSha = null;
    let got = 0;
    let sinceBreak = 0;
    sock.on('data', (d) => {
      if (expectSha === null) {
        head = Buffer.concat([head, d]);
        const i = head.indexOf('\r\n\r\n');
        if (i < 0) return;
        expectSha = (/\r\nx-body-sha256: *([0-9a-f]+)/i.exec(head.subarray(0, i).toString('latin1')) || [])[1] || '';
        d = head.subarray(i + 4);
      }
      got += d.length;
      hash.update(d);
      sinceBreak += d.length;
      if (burst > 0 && sinceBreak >= burst) {
        sinceBreak = 0;
        sock.pause();
        setTimeout(() => sock.resume(), pauseMs);
      }
    });
    let timer = null;
    if (duty) {
      const [readMs, restMs] = duty;
      const cycle = (reading) => {
        if (reading) sock.resume();
        else sock.pause();
        timer = setTimeout(() => cycle(!reading), reading ? readMs : restMs);
      };
      cycle(false);
    }
    sock.on('end', () => {
      clearTimeout(timer);
      resolve({ got, sha: hash.digest('hex'), expectSha });
    });
    sock.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
  });
}

test('responses stream on while the upstream buffer fills and drains: parallel 8 MB downloads, fast and bursty readers, arrive intact', { timeout: 60000 }, async () => {
  // A fast reader lets every write complete at once, so sluice reads on from
  // the upstream while the write callback is due and fills its buffer; a
  // bursty reader alternates that with queued writes (backpressure).
  const size = 8 * 1024 * 1024;
  const results = await h.withTimeout(
    Promise.all([
      download(sl.port, `/down/big/${size}`),
      download(sl.port, `/down/big/${size}`),
      download(sl.port, `/down/big/${size}`, { burst: 256 * 1024, pauseMs: 20 }),
      download(sl.port, `/down/big/${size + 12345}`, { burst: 64 * 1024, pauseMs: 1 }),
    ]),
    50000,
    'four downloads',
  );
  for (const [i, r] of results.entries()) {
    assert.equal(r.got, i === 3 ? size + 12345 : size, `download ${i}: length`);
    assert.equal(r.sha, r.expectSha, `download ${i}: body differs from what the upstream sent`);
  }
});

test('slow upstream: a 64 MB upload to an upstream that does not read does not make sluice buffer it', { timeout: 60000 }, async () => {
  const body = h.bigBody(BIG);
  const base = h.rssKiB(sl.pid);
  const sock = net.connect({ host: '127.0.0.1', port: sl.port });
  let response = Buffer.alloc(0);
  try {
    await new Promise((resolve, reject) => {
      sock.once('connect', resolve);
      sock.once('error', reject);
    });
    sock.on('data', (d) => (response = Buffer.concat([response, d])));
    const sockErr = new Promise((_, reject) => sock.on('error', reject));
    sock.write(`POST /up/slowread/3000 HTTP/1.1\r\nHost: app.test\r\nContent-Length: ${BIG}\r\nConnection: close\r\n\r\n`);
    // Write with backpressure, like any real client.
    const writing = (async () => {
      for (let off = 0; off < body.length; off += 256 * 1024) {
        if (!sock.write(body.subarray(off, off + 256 * 1024))) {
          await new Promise((r) => sock.once('drain', r));
        }
      }
    })();
    await h.sleep(300);
    const peak = await peakRss(sl.pid, 2000); // the upstream reads nothing for 3 s
    assert.ok(peak - base < RSS_SLACK_KIB, `sluice RSS grew by ${peak - base} KiB while the upstream was not reading (limit ${RSS_SLACK_KIB})`);
    await h.withTimeout(Promise.race([writing, sockErr]), 40000, 'writing the 64 MB body');
    await h.withTimeout(new Promise((r) => sock.once('end', r)), 20000, 'the response');
    const [res] = h.parseResponses(response).responses;
    assert.equal(res.status, 200);
    const seen = JSON.parse(res.body);
    assert.equal(seen.body_length, BIG);
    assert.equal(seen.body_sha256, h.sha256(body));
  } finally {
    sock.destroy();
  }
});

test('client_send_timeout: a client that stops reading is cut off; one that reads slowly is not', { timeout: 60000 }, async () => {
  const s2 = await h.startSluice(
    h.sluiceToml({
      port: await h.freePort(),
      servers: [up.addr],
      limits: { client_send_timeout: '1s' },
    }),
  );
  // Stalled: asks for 64 MB and never reads. The socket buffers fill, the
  // write waits, and after 1 s without progress sluice closes.
  const stalled = net.connect({ host: '127.0.0.1', port: s2.port });
  let stalledClosed = false;
  stalled.on('close', () => (stalledClosed = true));
  stalled.on('error', () => {});
  await new Promise((resolve) => stalled.once('connect', resolve));
  stalled.pause();
  stalled.write(`GET /down/big/${BIG} HTTP/1.1\r\nHost: app.test\r\n\r\n`);
  await h.waitFor(() => s2.events().some((e) => e.event === 'client_send_timeout'), { timeout: 8000, what: 'a client_send_timeout event' });
  // Its access line says the response did not complete (499), and the
  // connection is closed: reading now gets some bytes, then the end.
  await h.waitFor(() => s2.accessLog().some((l) => l.path === `/down/big/${BIG}`), { timeout: 3000, what: 'the access line' });
  const line = s2.accessLog().find((l) => l.path === `/down/big/${BIG}`);
  assert.equal(line.status, 499);
  assert.ok(line.bytes < BIG, `bytes ${line.bytes}`);
  let got = 0;
  stalled.on('data', (d) => (got += d.length));
  stalled.resume();
  await h.waitFor(() => stalledClosed, { timeout: 10000, what: 'the stalled connection to end' });
  assert.ok(got < BIG, 'the body was cut off');

  // Slow but steady: 2 MB, then nothing for 500 ms (under the 1 s timeout),
  // by turns: about 4 s for the body. Each queued write completes in time;
  // the body is complete.
  const size = 16 * 1024 * 1024;
  const t0 = Date.now();
  const r = await h.withTimeout(
    download(s2.port, `/down/big/${size}`, { burst: 2 * 1024 * 1024, pauseMs: 500 }),
    40000,
    'the slow download',
  );
  assert.equal(r.got, size);
  assert.equal(r.sha, r.expectSha);
  assert.ok(Date.now() - t0 > 2000, 'the reader was slower than the timeout (several pauses)');
  assert.equal(s2.events().filter((e) => e.event === 'client_send_timeout').length, 1, 'only the stalled client timed out');
});
