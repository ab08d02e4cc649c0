'use strict';
// TLS listener and plain-HTTP → HTTPS redirect (SPEC: listeners, [tls], redirect_https).
const fs = require('node:fs');
const path = require('node:path');
const { test, before, after } = require('node:test');
const h = require('./lib/harness');
const { assert } = h;

let up;
let sl;
let dir;
let plainPort;
let tlsPort;

before(async () => {
  dir = h.tmpDir('sluice-tls-');
  const gen = await h.runCmd('openssl', [
    'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=localhost',
    '-addext', 'subjectAltName=DNS:localhost,DNS:app.test,IP:127.0.0.1',
    '-keyout', path.join(dir, 'key.pem'), '-out', path.join(dir, 'cert.pem'),
  ]);
  assert.equal(gen.code, 0, gen.stderr);
  up = await h.startUpstream({ pool: 'blue' });
  plainPort = await h.freePort();
  tlsPort = await h.freePort();
  sl = await h.startSluice(
    h.sluiceToml({
      servers: [up.addr],
      listeners: `
[[listener]]
listen = "127.0.0.1:${plainPort}"
redirect_https = true
https_port = ${tlsPort}

[[listener]]
listen = "127.0.0.1:${tlsPort}"
tls = true

[tls]
min_version = "1.2"
[[tls.certificate]]
cert = "${dir}/cert.pem"
key = "${dir}/key.pem"
`,
    }),
  );
});
after(h.cleanup);

const https = (p, extra = []) =>
  h.curlRequest(`https://app.test:${tlsPort}${p}`, ['--cacert', path.join(dir, 'cert.pem'), '--resolve', `app.test:${tlsPort}:127.0.0.1`, ...extra]);

test('HTTPS request is proxied with X-Forwarded-Proto https and HSTS', async () => {
  const res = await https('/tls/hello');
  assert.equal(res && res.status, 200, JSON.stringify(res));
  const seen = JSON.parse(res.body);
  assert.equal(seen.headers['x-forwarded-proto'], 'https');
  assert.equal(seen.headers.host, `app.test:${tlsPort}`);
  assert.match(res.headers['strict-transport-security'] || '', /max-age=\d+/, 'HSTS on HTTPS responses');
  assert.equal(res.headers['x-frame-options'], 'DENY');
});

test('keep-alive over TLS: several requests on one connection', async () => {
  const urls = [1, 2, 3].map((i) => `https://app.test:${tlsPort}/tls/ka/${i}`);
  const r = await h.curl(['--cacert', path.join(dir, 'cert.pem'), '--resolve', `app.test:${tlsPort}:127.0.0.1`, '-w', '%{http_code} %{num_connects}\n', '-o', '/dev/null', '-o', '/dev/null', '-o', '/dev/null', ...urls]);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(r.stdout.trim().split('\n'), ['200 1', '200 0', '200 0']);
});

test('TLS 1.1 is refused, TLS 1.2 and 1.3 accepted', async () => {
  // The client is told to allow TLS 1.1 (security level 0, no system policy), so
  // only the server can make this handshake fail.
  const sClient = (flag) =>
    h.runCmd('openssl', ['s_client', '-connect', `127.0.0.1:${tlsPort}`, '-servername', 'app.test', flag, '-cipher', 'DEFAULT@SECLEVEL=0'], {
      input: 'Q\n',
      timeout: 10000,
      env: { OPENSSL_CONF: '/dev/null' },
    });
  assert.notEqual((await sClient('-tls1_1')).code, 0, 'a TLS 1.1 handshake must fail');
  const ok12 = await sClient('-tls1_2');
  assert.equal(ok12.code, 0, ok12.stderr);
  assert.match(ok12.stdout, /Protocol *: TLSv1\.2/);
  const ok13 = await sClient('-tls1_3');
  assert.equal(ok13.code, 0, ok13.stderr);
  assert.match(ok13.stdout, /TLSv1\.3/);
});

test('plain listener with redirect_https: 301 to https://HOST:https_port/path?query, security headers, no HSTS', async () => {
  const res = await h.curlRequest(`http://127.0.0.1:${plainPort}/some/path?q=1&r=2`, ['-H', 'Host: app.test']);
  assert.equal(res.status, 301);
  assert.equal(res.headers.location, `https://app.test:${tlsPort}/some/path?q=1&r=2`);
  assert.equal(res.headers['x-content-type-options'], 'nosniff');
  assert.equal(res.headers['strict-transport-security'], undefined);
  assert.equal(up.seen('/some/path').length, 0, 'redirects are not proxied');
});

test('redirect listener refuses an invalid Host instead of echoing it', async () => {
  const r = await h.rawRequest(plainPort, 'GET / HTTP/1.1\r\nHost: evil.test/<script>\r\n\r\n', { timeout: 3000, until: h.completeResponses(1) });
  assert.match(r.text, /^HTTP\/1\.1 400 /, r.text.slice(0, 200));
  assert.ok(!/evil\.test\/<script>/.test(r.text), 'the bad Host is not echoed');
});
