'use strict';
// TLS termination (SPEC: [[listener]] tls, [tls], [[tls.certificate]], [headers] HSTS,
// SIGHUP certificate reload). Certificates are generated with the openssl CLI at
// test time (lib/tls.js); handshakes are checked with `openssl s_client`, curl and
// node:tls. The redirect listener has its own file, redirect.test.js.
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');
const { test, before, after } = require('node:test');
const h = require('./lib/harness');
const t = require('./lib/tls');
const { assert } = h;

after(h.cleanup);

let certs; // see lib/tls.js makeTestCerts
before(async () => {
  certs = await t.makeTestCerts(h.tmpDir('sluice-certs-'));
});

const HSTS = 'max-age=63072000; includeSubDomains';

// Start an upstream and sluice with one TLS listener (and optional extra TOML).
async function tlsSluice({ certList, minVersion, global = {}, limits = {}, extraListeners = '', upstream = {} } = {}) {
  const up = await h.startUpstream({ keepAliveTimeout: 30000, ...upstream });
  const port = await h.freePort();
  const listeners = t.tlsListenerToml({ port, certs: certList || [certs.rsa], minVersion, extraListeners });
  const sl = await h.startSluice(h.sluiceToml({ port, servers: [up.addr], listeners, global, limits }));
  return { up, port, sl };
}

// curl over TLS to https://localhost:PORT, name pinned to 127.0.0.1, verified against the test CA.
function tlsCurl(port, args, opts) {
  return h.curl(['--cacert', certs.ca.cert, '--resolve', `localhost:${port}:127.0.0.1`, ...args], opts);
}

const REQ = (p = '/') => `GET ${p} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n`;
// The client may offer TLS 1.0/1.1 (no system policy, security level 0): only the server can refuse.
const OLD_OK = { env: { OPENSSL_CONF: '/dev/null' } };

test('protocol versions: TLS 1.0 and 1.1 refused, 1.2 and 1.3 accepted', { timeout: 60000 }, async () => {
  const { port, sl } = await tlsSluice();
  for (const v of ['-tls1', '-tls1_1']) {
    const r = await t.sClient(port, [v, '-cipher', 'DEFAULT@SECLEVEL=0', '-servername', 'localhost'], OLD_OK);
    assert.equal(r.handshake, false, `${v} must be refused; s_client said:\n${r.all}`);
    assert.notEqual(r.code, 0);
    assert.match(r.all, /protocol version|unsupported protocol|no protocols available/i, `${v}: refused for its version:\n${r.all}`);
  }
  for (const [v, want] of [['-tls1_2', 'TLSv1.2'], ['-tls1_3', 'TLSv1.3']]) {
    const r = await t.sClient(port, [v, '-servername', 'localhost', '-ign_eof'], { input: REQ('/v'), timeout: 10000 });
    assert.ok(r.handshake, `${v} must be accepted:\n${r.all}`);
    assert.equal(r.protocol, want);
    assert.match(r.stdout, /HTTP\/1\.1 200/, `${v}: a request over it is answered:\n${r.stdout.slice(-2000)}`);
  }
  assert.equal(sl.exited, null);
});

test('min_version = "1.3" refuses TLS 1.2', { timeout: 30000 }, async () => {
  const { port } = await tlsSluice({ minVersion: '1.3' });
  const r12 = await t.sClient(port, ['-tls1_2', '-servername', 'localhost']);
  assert.equal(r12.handshake, false, `TLS 1.2 must be refused with min_version 1.3:\n${r12.all}`);
  assert.match(r12.all, /protocol version|unsupported protocol/i, r12.all);
  const r13 = await t.sClient(port, ['-tls1_3', '-servername', 'localhost']);
  assert.ok(r13.handshake, r13.all);
  assert.equal(r13.protocol, 'TLSv1.3');
});

test('SNI picks the certificate by SAN: exact, wildcard, unknown name and no SNI get the default', { timeout: 60000 }, async () => {
  const { port } = await tlsSluice({ certList: [certs.rsa, certs.other, certs.wild] });
  const cases = [
    ['localhost', 'rsa-localhost', 'DNS:localhost'],
    ['other.test', 'other.test', 'DNS:other.test'],
    ['OTHER.test', 'other.test', 'DNS:other.test'], // names are case-insensitive
    ['a.wild.test', 'wild-card', 'DNS:*.wild.test'],
    ['b-2.wild.test', 'wild-card', 'DNS:*.wild.test'],
    ['deep.a.wild.test', 'rsa-localhost', 'DNS:localhost'], // a wildcard covers one label only
    ['wild.test', 'rsa-localhost', 'DNS:localhost'],
    ['unknown.example', 'rsa-localhost', 'DNS:localhost'],
  ];
  for (const [name, cn, san] of cases) {
    for (const v of ['-tls1_2', '-tls1_3']) {
      const r = await t.sClient(port, [v, '-servername', name]);
      assert.ok(r.handshake, `${name} ${v}: handshake:\n${r.all}`);
      assert.equal(r.subject, `CN = ${cn}`, `SNI ${name} (${v}) served ${r.subject}`);
      const sans = await t.sanOf(r.stdout);
      assert.ok(sans.includes(san), `SNI ${name}: certificate SANs ${sans} should include ${san}`);
    }
  }
  const none = await t.sClient(port, ['-noservername']);
  assert.ok(none.handshake, none.all);
  assert.equal(none.subject, 'CN = rsa-localhost', 'no SNI: the first certificate is the default');
});

test('ALPN: http/1.1 is negotiated; clients without ALPN still work', { timeout: 30000 }, async () => {
  const { port } = await tlsSluice();
  for (const v of ['-tls1_2', '-tls1_3']) {
    const r = await t.sClient(port, [v, '-servername', 'localhost', '-alpn', 'http/1.1']);
    assert.ok(r.handshake, r.all);
    assert.equal(r.alpn, 'http/1.1', `${v}: ALPN protocol line:\n${r.all}`);
    const r2 = await t.sClient(port, [v, '-servername', 'localhost', '-alpn', 'h2,http/1.1']);
    assert.equal(r2.alpn, 'http/1.1', `${v}: h2 is not offered by sluice, http/1.1 is chosen:\n${r2.all}`);
  }
  const plain = await t.sClient(port, ['-servername', 'localhost', '-ign_eof'], { input: REQ('/no-alpn') });
  assert.ok(plain.handshake && plain.noAlpn, plain.all);
  assert.match(plain.stdout, /HTTP\/1\.1 200/);
});

test('RSA and ECDSA certificates for the same names: chosen by client capability', { timeout: 60000 }, async () => {
  const { port } = await tlsSluice({ certList: [certs.rsa, certs.ecdsa] });
  const cases = [
    [['-tls1_2', '-cipher', 'ECDHE-RSA-AES128-GCM-SHA256'], 'rsa-localhost', /RSA/],
    [['-tls1_2', '-cipher', 'ECDHE-ECDSA-AES128-GCM-SHA256'], 'ecdsa-localhost', /ECDSA/],
    [['-tls1_3', '-sigalgs', 'rsa_pss_rsae_sha256'], 'rsa-localhost', /RSA-PSS/],
    [['-tls1_3', '-sigalgs', 'ecdsa_secp256r1_sha256'], 'ecdsa-localhost', /ECDSA/],
  ];
  for (const [args, cn, sig] of cases) {
    for (const name of ['localhost', null]) {
      const r = await t.sClient(port, [...args, ...(name ? ['-servername', name] : ['-noservername'])]);
      assert.ok(r.handshake, `${args.join(' ')}: ${r.all}`);
      assert.equal(r.subject, `CN = ${cn}`, `${args.join(' ')} (SNI ${name}) got ${r.subject}`);
      assert.match(r.peerSigType || '', sig, `${args.join(' ')}: peer signature type ${r.peerSigType}`);
    }
  }
});

// One full handshake writing the session, then `n` resumptions, each reading the
// session written by the previous connection (a chain of tickets). Every connection
// sends a request and reads the answer (-ign_eof), so TLS 1.3 tickets, which the
// server sends after the handshake, are received before s_client saves the session.
async function resumptionChain(port, version, n, dir) {
  const file = (i) => path.join(dir, `${version}-${i}.sess`);
  const first = await t.sClient(port, [version, '-servername', 'localhost', '-ign_eof', '-sess_out', file(0)], { input: REQ('/first') });
  assert.ok(first.handshake && first.newSession, first.all);
  assert.match(first.stdout, /HTTP\/1\.1 200/);
  assert.ok(fs.existsSync(file(0)) && fs.statSync(file(0)).size > 0, `${version}: s_client wrote a session`);
  const results = [];
  for (let i = 1; i <= n; i++) {
    const r = await t.sClient(port, [version, '-servername', 'localhost', '-ign_eof', '-sess_in', file(i - 1), '-sess_out', file(i)], { input: REQ(`/resume-${i}`) });
    // A resumed TLS 1.2 session gets no new ticket, so s_client writes nothing: keep the old one.
    if (!fs.existsSync(file(i))) fs.copyFileSync(file(i - 1), file(i));
    results.push({ i, reused: r.reused, protocol: r.protocol, ok: /HTTP\/1\.1 200/.test(r.stdout), out: r.all });
  }
  return results;
}

test('session resumption: TLS 1.2 and TLS 1.3 (ticket read after a request)', { timeout: 60000 }, async () => {
  const { port } = await tlsSluice();
  const dir = h.tmpDir('sluice-sess-');
  for (const [v, want] of [['-tls1_2', 'TLSv1.2'], ['-tls1_3', 'TLSv1.3']]) {
    const rs = await resumptionChain(port, v, 3, dir);
    for (const r of rs) {
      assert.ok(r.reused, `${v} resumption #${r.i} was not "Reused":\n${r.out}`);
      assert.equal(r.protocol, want);
      assert.ok(r.ok, `${v} resumption #${r.i}: request answered`);
    }
  }
});

test('session resumption across workers (workers = 2): every resumption succeeds', { timeout: 120000 }, async () => {
  const { port, sl } = await tlsSluice({ global: { workers: 2 } });
  const dir = h.tmpDir('sluice-sess-');
  // SO_REUSEPORT spreads new connections over the two workers by 4-tuple hash; with
  // 16 fresh connections per version the chance that one worker got all of them
  // is 2^-15, so tickets issued by one worker are resumed by the other.
  for (const v of ['-tls1_2', '-tls1_3']) {
    const rs = await resumptionChain(port, v, 16, dir);
    const failed = rs.filter((r) => !r.reused || !r.ok);
    assert.equal(failed.length, 0, `${v}: ${failed.length}/${rs.length} resumptions failed (first: #${failed[0] && failed[0].i}):\n${failed[0] && failed[0].out}`);
  }
  // The access log saw every request. A worker writes its access lines once per loop
  // iteration, after the response went out, and the test reads them from sluice's stdout
  // pipe: the last line can arrive after the last s_client has exited, so wait for it.
  const resumed = () => sl.accessLog().filter((l) => l.path && l.path.startsWith('/resume-')).length;
  await h.waitFor(() => resumed() >= 32, { timeout: 5000, what: '32 access lines for /resume-*' });
  assert.equal(resumed(), 32, 'every resumed connection carried its request, once');
});

test('curl over TLS: proxied GET and POST, X-Forwarded-Proto https upstream, HSTS on TLS only', { timeout: 30000 }, async () => {
  const plainPort = await h.freePort();
  const { port, up } = await tlsSluice({ extraListeners: `[[listener]]\nlisten = "127.0.0.1:${plainPort}"` });
  const get = await tlsCurl(port, ['-i', '--http1.1', `https://localhost:${port}/tls-get?x=1`]);
  assert.equal(get.code, 0, get.stderr);
  const gres = h.parseResponses(get.stdoutBuf, { allowIncomplete: true }).responses.pop();
  assert.equal(gres.status, 200);
  assert.equal(gres.headers['strict-transport-security'], HSTS, 'HSTS on TLS responses');
  assert.equal(gres.headers['x-content-type-options'], 'nosniff');
  assert.equal(gres.headers['x-frame-options'], 'DENY');
  const seen = up.seen('/tls-get')[0];
  assert.ok(seen, 'the upstream got the GET');
  assert.equal(seen.headers['x-forwarded-proto'], 'https');
  assert.equal(seen.headers.host, `localhost:${port}`);

  const body = h.bigBody(100000);
  const bodyFile = path.join(h.tmpDir('sluice-body-'), 'post.bin');
  fs.writeFileSync(bodyFile, body);
  const post = await tlsCurl(port, ['-i', '--http1.1', '--data-binary', `@${bodyFile}`, '-H', 'Content-Type: application/octet-stream', `https://localhost:${port}/tls-post`]);
  assert.equal(post.code, 0, post.stderr);
  const pres = h.parseResponses(post.stdoutBuf, { allowIncomplete: true }).responses.pop();
  assert.equal(pres.status, 200);
  const echoed = JSON.parse(pres.body.toString('utf8'));
  assert.equal(echoed.method, 'POST');
  assert.equal(echoed.body_sha256, h.sha256(body));
  assert.equal(echoed.headers['x-forwarded-proto'], 'https');
  assert.equal(pres.headers['strict-transport-security'], HSTS);

  // An error generated by sluice itself over TLS carries HSTS too (431: header too big).
  const big = await tlsCurl(port, ['-i', '--http1.1', '-H', `X-Big: ${'a'.repeat(20000)}`, `https://localhost:${port}/too-big`]);
  const bres = h.parseResponses(big.stdoutBuf, { allowIncomplete: true }).responses.pop();
  assert.ok(bres && bres.status >= 400, `oversized headers refused: ${big.stdout.slice(0, 200)} ${big.stderr}`);
  assert.equal(bres.headers['strict-transport-security'], HSTS, 'HSTS on sluice-generated TLS errors');

  // The same sluice on plain HTTP: never HSTS, X-Forwarded-Proto http.
  const plain = await h.request(plainPort, { path: '/plain', headers: { Host: 'localhost' } });
  assert.equal(plain.status, 200);
  assert.equal(plain.headers['strict-transport-security'], undefined, 'no HSTS on plain HTTP');
  assert.equal(plain.headers['x-content-type-options'], 'nosniff');
  assert.equal(up.seen('/plain')[0].headers['x-forwarded-proto'], 'http');
});

test('keep-alive over TLS: several requests on one connection', { timeout: 30000 }, async () => {
  const { port, up } = await tlsSluice();
  const urls = [1, 2, 3, 4].map((i) => `https://localhost:${port}/ka-${i}`);
  const r = await tlsCurl(port, ['--http1.1', '-o', '/dev/null', '-o', '/dev/null', '-o', '/dev/null', '-o', '/dev/null', '--write-out', '%{http_code} %{num_connects}\\n', ...urls]);
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.trim().split('\n');
  assert.deepEqual(lines, ['200 1', '200 0', '200 0', '200 0'], `curl reused its one TLS connection: ${JSON.stringify(lines)}`);
  assert.equal(up.seen('/ka-').length, 4);
});

test('10 MB response and 10 MB upload over TLS arrive intact', { timeout: 60000 }, async () => {
  const size = 10 * 1024 * 1024;
  const { port } = await tlsSluice({ limits: { max_body_bytes: '64m' } });
  const dir = h.tmpDir('sluice-big-');
  const out = path.join(dir, 'down.bin');
  const hdr = path.join(dir, 'down.hdr');
  const d = await tlsCurl(port, ['--http1.1', '-D', hdr, '-o', out, `https://localhost:${port}/big/${size}`], { timeout: 30000 });
  assert.equal(d.code, 0, d.stderr);
  const got = fs.readFileSync(out);
  assert.equal(got.length, size);
  const want = /x-body-sha256:\s*([0-9a-f]+)/i.exec(fs.readFileSync(hdr, 'latin1'));
  assert.ok(want, 'upstream sha header passed through');
  assert.equal(h.sha256(got), want[1]);
  assert.equal(h.sha256(got), h.sha256(h.bigBody(size)));

  const upFile = path.join(dir, 'up.bin');
  const body = h.bigBody(size).reverse();
  fs.writeFileSync(upFile, body);
  const u = await tlsCurl(port, ['--http1.1', '--data-binary', `@${upFile}`, '-H', 'Content-Type: application/octet-stream', `https://localhost:${port}/upload`], { timeout: 30000 });
  assert.equal(u.code, 0, u.stderr);
  const echoed = JSON.parse(u.stdout);
  assert.equal(echoed.body_length, size);
  assert.equal(echoed.body_sha256, h.sha256(body));
});

test('clients vanishing mid-handshake do not disturb other clients', { timeout: 60000 }, async () => {
  const { port, sl } = await tlsSluice({ global: { workers: 2 } });
  // A client in the middle of a keep-alive TLS connection.
  const c = await t.tlsConnect(port, { ca: certs.ca.cert });
  c.write('GET /before HTTP/1.1\r\nHost: localhost\r\n\r\n');
  await c.waitFor(() => c.responses().filter((r) => !r.incomplete).length >= 1);
  // 40 clients that vanish: nothing sent, a bare record header, half a ClientHello, plain HTTP.
  const vanishers = [];
  for (let i = 0; i < 40; i++) {
    const bytes = i % 4 === 0 ? Buffer.alloc(0) : i % 4 === 1 ? Buffer.from('\x16\x03\x01') : i % 4 === 2 ? t.halfClientHello() : Buffer.from('GET / HTTP/1.1\r\n\r\n');
    vanishers.push(t.connectWriteVanish(port, bytes, { holdMs: 20 + (i % 5) * 20 }));
  }
  // Meanwhile (and after), real clients are served.
  const during = tlsCurl(port, ['--http1.1', '-o', '/dev/null', '-w', '%{http_code}', `https://localhost:${port}/during`]);
  await Promise.all(vanishers);
  const dr = await during;
  assert.equal(dr.stdout, '200', `a client during the storm: ${dr.stderr}`);
  for (let i = 0; i < 5; i++) {
    const r = await tlsCurl(port, ['--http1.1', '-o', '/dev/null', '-w', '%{http_code}', `https://localhost:${port}/after-${i}`]);
    assert.equal(r.stdout, '200', `client after the storm: ${r.stderr}`);
  }
  // The established connection still works.
  c.write('GET /still HTTP/1.1\r\nHost: localhost\r\n\r\n');
  await c.waitFor(() => c.responses().filter((r) => !r.incomplete).length >= 2);
  assert.equal(c.responses()[1].status, 200);
  c.close();
  assert.equal(sl.exited, null, 'sluice still running');
});

// Certificate files at fixed paths that the tests rewrite, as certbot does.
function liveCert(from) {
  const live = h.tmpDir('sluice-live-');
  const cert = path.join(live, 'fullchain.pem');
  const key = path.join(live, 'privkey.pem');
  fs.copyFileSync(from.cert, cert);
  fs.copyFileSync(from.key, key);
  return { cert, key };
}

async function waitEvent(sl, name, nth, what) {
  return h.waitFor(() => sl.events().filter((e) => e.event === name)[nth], { timeout: 5000, what }).catch((e) => {
    throw new Error(`${e.message}; sluice exited: ${JSON.stringify(sl.exited)}; stderr so far:\n${sl.stderr.slice(-3000)}`);
  });
}

test('SIGHUP: new certificate for new handshakes; an idle keep-alive TLS connection survives and keeps working', { timeout: 60000 }, async () => {
  const live = liveCert(certs.rsa);
  const { port, sl } = await tlsSluice({ certList: [live] });
  const before = await t.peerCert(port, { ca: certs.ca.cert });
  assert.equal(before.serial, certs.rsa.serial);
  assert.equal(before.cn, 'rsa-localhost');

  const c = await t.tlsConnect(port, { ca: certs.ca.cert });
  const answered = (n) => c.waitFor(() => c.responses().filter((r) => !r.incomplete).length >= n);
  c.write('GET /ka-1 HTTP/1.1\r\nHost: localhost\r\n\r\n');
  await answered(1);
  assert.equal(c.responses()[0].status, 200);

  // Renewal: new files in place, SIGHUP while the connection is idle.
  fs.copyFileSync(certs.rsa2.cert, live.cert);
  fs.copyFileSync(certs.rsa2.key, live.key);
  sl.kill('SIGHUP');
  await h.waitFor(() => sl.events().some((e) => e.event === 'reloaded' || e.event === 'reload_failed') || sl.exited, { timeout: 5000, what: 'a "reloaded" event' });
  assert.equal(sl.exited, null, `sluice died on SIGHUP: ${JSON.stringify(sl.exited)}\n${sl.stderr.slice(-2000)}`);
  assert.ok(!sl.events().some((e) => e.event === 'reload_failed'), `the reload with a valid renewed certificate failed:\n${sl.stderr}`);
  const renewed = await t.peerCert(port, { ca: certs.ca.cert });
  assert.equal(renewed.serial, certs.rsa2.serial, `a new connection sees the new certificate (got CN ${renewed.cn})`);
  assert.equal(renewed.cn, 'rsa-localhost-renewed');
  const sc = await t.sClient(port, ['-servername', 'localhost']);
  assert.equal(sc.subject, 'CN = rsa-localhost-renewed');

  assert.ok(!c.closed, 'the idle keep-alive TLS connection survived the reload');
  c.write('GET /ka-2 HTTP/1.1\r\nHost: localhost\r\n\r\n');
  await answered(2);
  assert.equal(c.responses()[1].status, 200, 'a second request on the same TLS connection works');
  assert.equal(parseInt(c.peer().serialNumber, 16), certs.rsa.serial, 'the old connection keeps its certificate');
  c.close();
  assert.equal(sl.exited, null);
});

test('SIGHUP with a broken certificate: reload_failed logged, the old certificate stays in use', { timeout: 60000 }, async () => {
  const live = liveCert(certs.rsa);
  const { port, sl } = await tlsSluice({ certList: [live] });
  const c = await t.tlsConnect(port, { ca: certs.ca.cert });
  // A garbage PEM, then a certificate that does not match its key (rsa2's cert, rsa's key).
  const broken = [
    ['garbage', () => fs.writeFileSync(live.cert, '-----BEGIN CERTIFICATE-----\nnot base64 at all\n-----END CERTIFICATE-----\n')],
    ['key-mismatch', () => fs.copyFileSync(certs.rsa2.cert, live.cert)],
  ];
  let n = 0;
  for (const [what, breakIt] of broken) {
    breakIt();
    sl.kill('SIGHUP');
    const ev = await waitEvent(sl, 'reload_failed', n, `a reload_failed event for the ${what} certificate`);
    assert.equal(ev.level, 'error');
    assert.match(JSON.stringify(ev), /fullchain\.pem|privkey\.pem/, `the event names the file: ${JSON.stringify(ev)}`);
    assert.ok(!sl.events().some((e) => e.event === 'reloaded'), `${what}: no "reloaded" event`);
    const still = await t.peerCert(port, { ca: certs.ca.cert });
    assert.equal(still.serial, certs.rsa.serial, `${what}: the old certificate stays in use`);
    const r = await tlsCurl(port, ['--http1.1', '-o', '/dev/null', '-w', '%{http_code}', `https://localhost:${port}/after-${what}`]);
    assert.equal(r.stdout, '200', r.stderr);
    c.write(`GET /ka-${what} HTTP/1.1\r\nHost: localhost\r\n\r\n`);
    n++;
    await c.waitFor(() => c.responses().filter((x) => !x.incomplete).length >= n);
  }
  assert.deepEqual(c.responses().map((r) => r.status), [200, 200]);
  c.close();
  assert.equal(sl.exited, null);
});

test('WebSocket over TLS: tunnelled both ways, and again after the tunnel sat idle', { timeout: 30000 }, async () => {
  const { port, up } = await tlsSluice({ upstream: { pool: 'ws' } });
  const c = await t.tlsConnect(port, { ca: certs.ca.cert });
  c.write('GET /ws HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n');
  await c.waitFor((d) => d.includes('\r\n\r\n'));
  const headEnd = c.data.indexOf('\r\n\r\n') + 4;
  assert.match(c.data.subarray(0, headEnd).toString('latin1'), /^HTTP\/1\.1 101 /);
  assert.equal(up.upgrades.length, 1);
  // Many records each way, then a pause long enough for the worker to give
  // the tunnel's idle buffers back and trim them, then more bytes.
  const sent = [crypto.randomBytes(300000), Buffer.from('after the pause')];
  let want = headEnd;
  for (const [i, m] of sent.entries()) {
    if (i > 0) await h.sleep(2500);
    want += m.length;
    c.write(m);
    await c.waitFor((d) => d.length >= want, 10000);
    assert.ok(c.data.subarray(want - m.length, want).equals(m), `message ${i} echoed byte for byte`);
  }
  assert.equal(c.data.length, want, 'nothing more than the echo');
  assert.ok(!c.closed, 'tunnel still open');
  c.close();
});
