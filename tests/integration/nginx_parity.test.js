'use strict';
// The acceptance check for replacing nginx: the same request through Debian's
// nginx (with the usual Node front-end location block) and through sluice (with
// conf/sluice.toml, ports substituted) reaches the same Node upstream with the
// same headers, method, URL and body.
//
// Intended differences, not compared:
//  - sluice adds X-Request-Id and X-Forwarded-Host;
//  - the nginx block forces `Connection: upgrade` on every request (and so can't
//    reuse upstream connections); sluice sends Upgrade/Connection: upgrade only for
//    real upgrade requests;
//  - nginx's $host drops the port of the Host header; sluice passes Host through
//    as sent. The request below uses a Host without a port so the two agree.
const fs = require('node:fs');
const path = require('node:path');
const { test, before, after } = require('node:test');
const h = require('./lib/harness');
const { assert } = h;

const LOCATION = `
    location / {
      proxy_pass http://UPSTREAM;
      proxy_http_version 1.1;
      proxy_set_header Upgrade $http_upgrade;
      proxy_set_header Connection 'upgrade';
      proxy_set_header Host $host;
      proxy_set_header X-Real-IP $remote_addr;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto $scheme;
    }`;

let up;
let ng;
let sl;

before(async () => {
  up = await h.startUpstream({ pool: 'app' });
  ng = await h.startNginx(LOCATION.replace('UPSTREAM', up.addr), { port: await h.freePort() });
  const port = await h.freePort();
  const conf = fs
    .readFileSync(path.join(h.ROOT, 'conf', 'sluice.toml'), 'utf8')
    .replace('"0.0.0.0:80"', `"127.0.0.1:${port}"`)
    .replace('"127.0.0.1:3000"', `"${up.addr}"`)
    .replace('"/var/lib/sluice"', '"{{dir}}/state"')
    .replace('"/run/sluice/admin.sock"', '"{{dir}}/admin.sock"')
    .replace(/^workers = 0/m, 'workers = 1');
  assert.ok(conf.includes(`127.0.0.1:${port}`) && conf.includes(up.addr), 'conf/sluice.toml has the expected listen/servers lines');
  sl = await h.startSluice(conf);
});
after(h.cleanup);

const COMPARED = ['host', 'x-real-ip', 'x-forwarded-for', 'x-forwarded-proto', 'user-agent', 'accept', 'x-custom-one', 'x-custom-two', 'content-type', 'content-length', 'cookie', 'authorization'];

async function through(port, marker, method, extra = []) {
  const before = up.requests.length;
  const body = method === 'POST' ? JSON.stringify({ hello: 'world', n: [1, 2, 3] }) : null;
  const args = [
    '-X', method,
    '-H', 'Host: shop.example.com',
    '-H', 'X-Forwarded-For: 203.0.113.7',
    '-H', 'X-Custom-One: alpha',
    '-H', 'X-Custom-Two: beta, gamma',
    '-H', 'Cookie: session=abc; theme=dark',
    '-H', 'Authorization: Bearer t0k3n',
    '-A', 'parity-test/1.0',
    ...extra,
  ];
  if (body) args.push('-H', 'Content-Type: application/json', '--data-binary', body);
  const res = await h.curlRequest(`http://127.0.0.1:${port}/parity/${marker}?q=1&r=%2F`, args);
  assert.equal(res && res.status, 200, JSON.stringify(res));
  const seen = up.requests.slice(before).filter((r) => r.url.startsWith(`/parity/${marker}`));
  assert.equal(seen.length, 1, 'exactly one request reached the upstream');
  return seen[0];
}

function pick(req) {
  const out = { method: req.method, url: req.url, body_length: req.body_length, body_sha256: req.body_sha256 };
  for (const k of COMPARED) out[k] = req.headers[k];
  return out;
}

for (const method of ['GET', 'POST']) {
  test(`${method}: upstream sees the same request through nginx and through sluice`, async () => {
    const viaNginx = await through(ng.port, method, method);
    const viaSluice = await through(sl.port, method, method);
    assert.deepEqual(pick(viaSluice), pick(viaNginx));
    // Sanity: the compared values are the interesting ones, not all undefined.
    assert.equal(viaSluice.headers.host, 'shop.example.com');
    assert.equal(viaSluice.headers['x-forwarded-for'], '203.0.113.7, 127.0.0.1');
    assert.equal(viaSluice.headers['x-real-ip'], '127.0.0.1');
    assert.equal(viaSluice.headers['x-forwarded-proto'], 'http');
    assert.equal(viaSluice.headers['x-custom-two'], 'beta, gamma');
    // The documented differences.
    assert.equal(viaNginx.headers.connection, 'upgrade');
    assert.notEqual(viaSluice.headers.connection, 'upgrade', 'sluice does not force Connection: upgrade');
    assert.equal(viaSluice.headers.upgrade, undefined);
    assert.match(viaSluice.headers['x-request-id'] || '', /^[0-9a-f]{32}$/i);
    assert.equal(viaSluice.headers['x-forwarded-host'], 'shop.example.com');
  });
}
