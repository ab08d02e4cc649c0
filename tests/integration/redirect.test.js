'use strict';
// Plain-HTTP redirect listeners (SPEC: redirect_https, https_port, Host validation,
// [headers]) and the ACME http-01 webroot (acme_webroot): 301 to
// https://HOST[:https_port]/path?query after validating Host (400, never echoed,
// otherwise); GET/HEAD /.well-known/acme-challenge/TOKEN served from the webroot with
// traversal and symlink escapes refused (404). Security headers everywhere, never HSTS.
const fs = require('node:fs');
const path = require('node:path');
const { test, before, after } = require('node:test');
const h = require('./lib/harness');
const { assert } = h;

after(h.cleanup);

const SECURITY = {
  'x-frame-options': 'DENY',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'strict-origin-when-cross-origin',
  'content-security-policy': "default-src 'self'",
};

let up; // an upstream that must never be reached from a redirect listener
let p443; // redirect_https, https_port default (443), acme_webroot = web
let p8443; // redirect_https, https_port = 8443
let pLink; // redirect_https, acme_webroot whose challenge dir is a symlink to outside
let web; // webroot
let outside; // a directory outside every webroot, holding a secret
const TOKEN = 'tok-EN_0123456789abcdefABCDEF';
const TOKEN_BODY = 'tok-EN_0123456789abcdefABCDEF.key-authorization-xyz\n';
const SECRET = 'TOP-SECRET-OUTSIDE-THE-WEBROOT';

before(async () => {
  const base = h.tmpDir('sluice-acme-');
  web = path.join(base, 'web');
  outside = path.join(base, 'outside');
  const chal = path.join(web, '.well-known', 'acme-challenge');
  fs.mkdirSync(chal, { recursive: true });
  fs.mkdirSync(outside);
  fs.writeFileSync(path.join(chal, TOKEN), TOKEN_BODY);
  fs.writeFileSync(path.join(outside, 'secret'), SECRET);
  fs.writeFileSync(path.join(web, 'secret'), SECRET); // inside the webroot but outside the challenge dir
  fs.writeFileSync(path.join(web, '.well-known', 'secret'), SECRET);
  fs.symlinkSync('/etc/passwd', path.join(chal, 'passwd-link'));
  fs.symlinkSync(path.join(outside, 'secret'), path.join(chal, 'secret-link'));
  fs.symlinkSync(outside, path.join(chal, 'dir-link')); // a symlinked directory
  fs.mkdirSync(path.join(chal, 'a-directory'));
  cpMkfifo(path.join(chal, 'a-fifo'));
  // A second webroot whose acme-challenge directory itself is a symlink to outside.
  const web2 = path.join(base, 'web2');
  fs.mkdirSync(path.join(web2, '.well-known'), { recursive: true });
  fs.symlinkSync(outside, path.join(web2, '.well-known', 'acme-challenge'));

  up = await h.startUpstream({ pool: 'app' });
  [p443, p8443, pLink] = await Promise.all([h.freePort(), h.freePort(), h.freePort()]);
  const listeners = `
[[listener]]
listen = "127.0.0.1:${p443}"
redirect_https = true
acme_webroot = "${web}"

[[listener]]
listen = "127.0.0.1:${p8443}"
redirect_https = true
https_port = 8443

[[listener]]
listen = "127.0.0.1:${pLink}"
redirect_https = true
acme_webroot = "${web2}"
`;
  await h.startSluice(h.sluiceToml({ servers: [up.addr], listeners }));
});

function cpMkfifo(p) {
  const r = require('node:child_process').spawnSync('mkfifo', [p]);
  if (r.status !== 0) throw new Error(`mkfifo ${p}: ${r.stderr}`);
}

// One raw request (exact bytes on the wire), parsed. `host` null = no Host header.
async function raw(port, { method = 'GET', target = '/', host = 'app.test', extra = '', version = '1.1' } = {}) {
  const req = `${method} ${target} HTTP/${version}\r\n${host === null ? '' : `Host: ${host}\r\n`}${extra}Connection: close\r\n\r\n`;
  // Stop at the first complete response: whether the connection is then closed is
  // checked by its own test below.
  const r = await h.rawRequest(port, req, { timeout: 5000, until: h.completeResponses(1, method) });
  assert.ok(!r.timedOut, `no complete answer to ${JSON.stringify(req)}: ${JSON.stringify(r.text.slice(0, 300))}`);
  const res = h.parseResponses(r.data, { method, allowIncomplete: true }).responses[0];
  assert.ok(res, `a response to ${JSON.stringify(req)}: ${JSON.stringify(r.text.slice(0, 300))}`);
  res.text = r.text;
  return res;
}

function assertSecurityHeaders(res, what) {
  for (const [k, v] of Object.entries(SECURITY)) assert.equal(res.headers[k], v, `${what}: ${k}`);
  assert.equal(res.headers['strict-transport-security'], undefined, `${what}: never HSTS on plain HTTP`);
}

test('301 to https://HOST/path?query; default https_port 443 is omitted', async () => {
  const cases = [
    ['app.test', '/', 'https://app.test/'],
    ['app.test', '/some/path?q=1&r=2', 'https://app.test/some/path?q=1&r=2'],
    ['app.test', '/a%20b/c?x=%2F&y', 'https://app.test/a%20b/c?x=%2F&y'], // bytes kept as sent
    ['app.test:8080', '/p?x=1', 'https://app.test/p?x=1'], // the Host's port is dropped for 443
    ['www.example.com:80', '/', 'https://www.example.com/'],
    ['127.0.0.1', '/ip', 'https://127.0.0.1/ip'],
    ['127.0.0.1:80', '/ip', 'https://127.0.0.1/ip'],
    ['[::1]', '/v6', 'https://[::1]/v6'],
    ['[::1]:8080', '/v6?q', 'https://[::1]/v6?q'],
    ['[2001:db8::1]', '/', 'https://[2001:db8::1]/'],
  ];
  for (const [host, target, loc] of cases) {
    const res = await raw(p443, { host, target });
    assert.equal(res.status, 301, `Host ${host} ${target}: ${res.text.slice(0, 200)}`);
    assert.equal(res.headers.location, loc, `Host ${host} ${target}`);
    assertSecurityHeaders(res, `301 for ${host}`);
  }
  // Other methods are redirected too; HEAD has no body.
  const head = await raw(p443, { method: 'HEAD', target: '/h?x' });
  assert.equal(head.status, 301);
  assert.equal(head.headers.location, 'https://app.test/h?x');
  assert.equal(head.body.length, 0);
  const post = await raw(p443, { method: 'POST', target: '/form', extra: 'Content-Length: 3\r\n' });
  assert.equal(post.status, 301);
  assert.equal(post.headers.location, 'https://app.test/form');
  assert.equal(up.requests.length, 0, 'a redirect listener never proxies');
});

test('https_port = 8443 is kept in the Location, replacing the Host port', async () => {
  const cases = [
    ['app.test', '/x?y=1', 'https://app.test:8443/x?y=1'],
    ['app.test:80', '/x', 'https://app.test:8443/x'],
    ['app.test:8443', '/x', 'https://app.test:8443/x'],
    ['127.0.0.1:12345', '/', 'https://127.0.0.1:8443/'],
    ['[::1]:80', '/v6?a=b', 'https://[::1]:8443/v6?a=b'],
    ['[::1]', '/v6', 'https://[::1]:8443/v6'],
  ];
  for (const [host, target, loc] of cases) {
    const res = await raw(p8443, { host, target });
    assert.equal(res.status, 301, `Host ${host}: ${res.text.slice(0, 200)}`);
    assert.equal(res.headers.location, loc, `Host ${host} ${target}`);
    assertSecurityHeaders(res, `301 for ${host}`);
  }
  // Over curl too (what an operator would try first).
  const r = await h.curlRequest(`http://127.0.0.1:${p8443}/from/curl?z=9`, ['-H', 'Host: shop.example']);
  assert.equal(r.status, 301);
  assert.equal(r.headers.location, 'https://shop.example:8443/from/curl?z=9');
});

test('invalid Host → 400, never echoed; missing Host on HTTP/1.1 → 400', async () => {
  const MARK = 'EVILMARK';
  const bad = [
    `${MARK}.test/<script>`,
    `${MARK}.test<script>alert(1)</script>`,
    `${MARK} .test`,
    `${MARK}.test:99999`,
    `${MARK}.test:0`,
    `${MARK}.test:80x`,
    `${MARK}.test:`,
    `${MARK}..test`,
    `-${MARK}.test`,
    `${MARK}.test@attacker.example`,
    `${MARK}.test\\x`,
    `"${MARK}.test"`,
    `${MARK}.test%0d%0aSet-Cookie:x`,
    `[::1${MARK}]`,
    `[${MARK}::1]:80`,
    `[::1]${MARK}`,
    `[::1`,
    `${MARK}.test,other.test`,
    `${'a'.repeat(64)}.${MARK}.test`, // a label longer than 63
  ];
  for (const host of bad) {
    const res = await raw(p8443, { host });
    assert.equal(res.status, 400, `Host ${JSON.stringify(host)} must be refused: ${res.text.slice(0, 200)}`);
    assert.equal(res.headers.location, undefined, `Host ${JSON.stringify(host)}: no Location`);
    assert.ok(!res.text.includes(MARK), `Host ${JSON.stringify(host)} was echoed: ${JSON.stringify(res.text.slice(0, 400))}`);
    assertSecurityHeaders(res, `400 for ${JSON.stringify(host)}`);
  }
  // Non-ASCII and control bytes in Host.
  for (const hostBytes of [Buffer.from(`${MARK}\u00e4.test`, 'utf8'), Buffer.from(`${MARK}\x01.test`, 'latin1'), Buffer.from(`${MARK}\x7f.test`, 'latin1')]) {
    const req = Buffer.concat([Buffer.from('GET / HTTP/1.1\r\nHost: '), hostBytes, Buffer.from('\r\nConnection: close\r\n\r\n')]);
    const r = await h.rawRequest(p8443, req, { timeout: 5000 });
    assert.match(r.text, /^HTTP\/1\.1 400 /, `Host bytes ${hostBytes.toString('hex')}: ${r.text.slice(0, 200)}`);
    assert.ok(!r.text.includes(MARK), 'not echoed');
  }
  // CR / LF inside Host (bare CR, obs-fold, header injection attempt).
  for (const req of [
    `GET / HTTP/1.1\r\nHost: ${MARK}.test\rLocation: https://evil.example/\r\nConnection: close\r\n\r\n`,
    `GET / HTTP/1.1\r\nHost: ${MARK}.test\r\n Location: https://evil.example/\r\nConnection: close\r\n\r\n`,
    `GET / HTTP/1.1\r\nHost: ${MARK}.test\nLocation: https://evil.example/\r\nConnection: close\r\n\r\n`,
  ]) {
    const r = await h.rawRequest(p8443, req, { timeout: 5000 });
    assert.match(r.text, /^HTTP\/1\.1 400 /, `${JSON.stringify(req)}: ${JSON.stringify(r.text.slice(0, 200))}`);
    assert.ok(!r.text.includes(MARK) && !r.text.includes('evil.example'), `not echoed: ${JSON.stringify(r.text.slice(0, 400))}`);
  }
  // Missing, empty, and duplicate Host.
  const missing = await raw(p8443, { host: null });
  assert.equal(missing.status, 400, `no Host on HTTP/1.1: ${missing.text.slice(0, 200)}`);
  assertSecurityHeaders(missing, '400 for a missing Host');
  const empty = await raw(p8443, { host: '' });
  assert.equal(empty.status, 400, `empty Host: ${empty.text.slice(0, 200)}`);
  const dup = await raw(p8443, { host: 'app.test', extra: `Host: ${MARK}.test\r\n` });
  assert.equal(dup.status, 400, `two Host headers: ${dup.text.slice(0, 200)}`);
  assert.ok(!dup.text.includes(MARK));
  assert.equal(up.requests.length, 0, 'nothing reached the upstream');
});

test('control characters in the target → 400, never echoed into Location', async () => {
  // llhttp lets a form feed or a tab through in the request target (found by tests/fuzz).
  for (const target of ['/EVILMARK\f', '/a\tEVILMARK']) {
    const req = `GET ${target} HTTP/1.1\r\nHost: app.test\r\nConnection: close\r\n\r\n`;
    const r = await h.rawRequest(p8443, req, { timeout: 5000 });
    assert.match(r.text, /^HTTP\/1\.1 400 /, `${JSON.stringify(target)}: ${JSON.stringify(r.text.slice(0, 200))}`);
    assert.ok(!r.text.includes('EVILMARK'), `echoed: ${JSON.stringify(r.text.slice(0, 400))}`);
  }
});

test('ACME http-01: GET and HEAD serve the token file from the webroot', async () => {
  const get = await raw(p443, { target: `/.well-known/acme-challenge/${TOKEN}` });
  assert.equal(get.status, 200, get.text.slice(0, 300));
  assert.equal(get.body.toString('latin1'), TOKEN_BODY);
  assert.equal(get.headers.location, undefined);
  assertSecurityHeaders(get, 'ACME 200');
  const head = await raw(p443, { method: 'HEAD', target: `/.well-known/acme-challenge/${TOKEN}` });
  assert.equal(head.status, 200, head.text.slice(0, 300));
  assert.equal(head.body.length, 0, 'HEAD has no body');
  // RFC 9110 9.3.2 / 8.6: a HEAD response's Content-Length, when sent, is the GET body's length.
  if (head.headers['content-length'] !== undefined) {
    assert.equal(Number(head.headers['content-length']), TOKEN_BODY.length, `HEAD Content-Length must be the file size (GET sent ${get.headers['content-length']})`);
  }
  assertSecurityHeaders(head, 'ACME HEAD');
  // Any Host works for the challenge (the CA asks for the name being validated).
  const other = await raw(p443, { host: 'new-name.example', target: `/.well-known/acme-challenge/${TOKEN}` });
  assert.equal(other.status, 200);
  // Over curl as well.
  const c = await h.curl([`http://127.0.0.1:${p443}/.well-known/acme-challenge/${TOKEN}`, '-H', 'Host: app.test']);
  assert.equal(c.code, 0, c.stderr);
  assert.equal(c.stdout, TOKEN_BODY);
  // A missing token: 404 (not a redirect that would send the CA elsewhere).
  const missing = await raw(p443, { target: '/.well-known/acme-challenge/no-such-token' });
  assert.equal(missing.status, 404);
  assertSecurityHeaders(missing, 'ACME 404');
  assert.equal(up.requests.length, 0);
});

test('ACME: traversal, encoded traversal, bad tokens and symlinks → 404, nothing leaked', async () => {
  const targets = [
    '/.well-known/acme-challenge/../secret',
    '/.well-known/acme-challenge/../../secret',
    '/.well-known/acme-challenge/../../../../../../etc/passwd',
    '/.well-known/acme-challenge/%2e%2e/secret',
    '/.well-known/acme-challenge/%2e%2e/%2e%2e/secret',
    '/.well-known/acme-challenge/%2E%2E%2Fsecret',
    '/.well-known/acme-challenge/..%2f..%2fsecret',
    '/.well-known/acme-challenge/..%2F..%2F..%2F..%2Fetc%2Fpasswd',
    '/.well-known/acme-challenge/%252e%252e%252fsecret',
    '/.well-known/acme-challenge/..',
    '/.well-known/acme-challenge/.',
    '/.well-known/acme-challenge/',
    `/.well-known/acme-challenge/${TOKEN}/../../secret`,
    `/.well-known/acme-challenge/${TOKEN}.txt`,
    `/.well-known/acme-challenge/${TOKEN}%00`,
    '/.well-known/acme-challenge/passwd-link', // symlink to /etc/passwd inside the challenge dir
    '/.well-known/acme-challenge/secret-link', // symlink to a file outside the webroot
    '/.well-known/acme-challenge/dir-link', // symlinked directory
    '/.well-known/acme-challenge/dir-link/secret',
    '/.well-known/acme-challenge/dir-link%2Fsecret',
    '/.well-known/acme-challenge/a-directory',
    '/.well-known/acme-challenge/a-fifo', // must not block on a FIFO
  ];
  for (const target of targets) {
    const t0 = Date.now();
    const res = await raw(p443, { target });
    assert.equal(res.status, 404, `${target}: ${res.text.slice(0, 300)}`);
    assert.ok(Date.now() - t0 < 3000, `${target}: answered promptly`);
    assert.ok(!res.text.includes(SECRET), `${target} leaked the secret`);
    assert.ok(!/root:.*:0:0:/.test(res.text), `${target} leaked /etc/passwd`);
    assertSecurityHeaders(res, `404 for ${target}`);
  }
  // The acme-challenge directory itself a symlink to a directory outside the webroot.
  fs.writeFileSync(path.join(outside, 'outside-token'), SECRET);
  const linked = await raw(pLink, { target: '/.well-known/acme-challenge/outside-token' });
  assert.equal(linked.status, 404, `challenge dir symlinked out of the webroot: ${linked.text.slice(0, 300)}`);
  assert.ok(!linked.text.includes(SECRET));
  assert.equal(up.requests.length, 0);
});

test('listener without acme_webroot redirects the challenge path like any other', async () => {
  const res = await raw(p8443, { target: `/.well-known/acme-challenge/${TOKEN}` });
  assert.equal(res.status, 301);
  assert.equal(res.headers.location, `https://app.test:8443/.well-known/acme-challenge/${TOKEN}`);
});

test('Connection: close from the client is honoured on redirects, ACME answers and 400s', async () => {
  const cases = [
    [p443, `GET /x HTTP/1.1\r\nHost: app.test\r\nConnection: close\r\n\r\n`, 301],
    [p443, `GET /.well-known/acme-challenge/${TOKEN} HTTP/1.1\r\nHost: app.test\r\nConnection: close\r\n\r\n`, 200],
    [p443, `GET /.well-known/acme-challenge/nope HTTP/1.1\r\nHost: app.test\r\nConnection: close\r\n\r\n`, 404],
    [p443, `GET /x HTTP/1.0\r\nHost: app.test\r\n\r\n`, 301], // HTTP/1.0 without keep-alive
    [p8443, `GET /x HTTP/1.1\r\nHost: bad/host\r\n\r\n`, 400],
  ];
  for (const [port, req, status] of cases) {
    const r = await h.rawRequest(port, req, { timeout: 3000 });
    assert.match(r.text, new RegExp(`^HTTP/1\\.[01] ${status} `), `${JSON.stringify(req)}: ${JSON.stringify(r.text.slice(0, 200))}`);
    assert.ok(r.closed && !r.timedOut, `${JSON.stringify(req)}: sluice must close the connection after the response (RFC 9112 9.6), it was still open after 3 s`);
  }
  // And keep-alive works when the client does not ask to close: two redirects on one connection.
  const c = await h.rawConnect(p443);
  c.write('GET /k1 HTTP/1.1\r\nHost: app.test\r\n\r\nGET /k2 HTTP/1.1\r\nHost: app.test\r\n\r\n');
  await c.waitFor(h.completeResponses(2), 3000);
  assert.deepEqual(c.responses().map((x) => x.headers.location), ['https://app.test/k1', 'https://app.test/k2']);
  c.close();
});
