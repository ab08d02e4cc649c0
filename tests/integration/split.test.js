'use strict';
// Traffic splitting (SPEC: Traffic splitting and rollback; [[route]] split, sticky,
// force_header): weighted shares, weight 0, sticky cookie / header / ip, force header,
// and minimal movement of sticky clients when the weights change.
const { test, after } = require('node:test');
const h = require('./lib/harness');
const A = require('./lib/admin');
const { assert } = h;

after(h.cleanup);

// blue + canary upstreams, one route "app" on "/" with the given extra route keys.
async function setup({ split = '{ blue = 90, canary = 10 }', extra = '', workers = 1 } = {}) {
  const blue = await h.startUpstream({ pool: 'blue' });
  const canary = await h.startUpstream({ pool: 'canary' });
  const port = await h.freePort();
  const toml = h.sluiceToml({
    port,
    global: { workers },
    pools: { blue: [blue.addr], canary: [canary.addr] },
    routes: `
[[route]]
name = "app"
path_prefix = "/"
split = ${split}
baseline = "blue"
${extra}
`,
  });
  const sl = await h.startSluice(toml);
  const sock = `${sl.dir}/admin.sock`;
  await h.waitFor(() => require('node:fs').existsSync(sock), { timeout: 5000, what: 'admin socket' });
  return { blue, canary, port, sl, sock };
}

const pct = (n, total) => (100 * n) / total;

async function checkShare(workers) {
  const { port, sl, blue, canary } = await setup({ workers });
  const N = 1000;
  const { results, tally } = await A.hitMany(port, N, { concurrency: 4 });
  const bad = results.filter((r) => r.status !== 200);
  assert.equal(bad.length, 0, `every request answered 200: ${JSON.stringify(bad.slice(0, 3))}`);
  const b = tally.blue || 0;
  const c = tally.canary || 0;
  assert.equal(b + c, N, `all requests went to blue or canary: ${JSON.stringify(tally)}`);
  assert.ok(Math.abs(pct(b, N) - 90) <= 3, `blue share ${pct(b, N)} % not within 90±3 (workers=${workers}): ${JSON.stringify(tally)}`);
  assert.ok(Math.abs(pct(c, N) - 10) <= 3, `canary share ${pct(c, N)} % not within 10±3 (workers=${workers}): ${JSON.stringify(tally)}`);
  // The upstreams agree with the X-Pool headers.
  assert.equal(blue.seen('/split/').length, b);
  assert.equal(canary.seen('/split/').length, c);
  await sl.stop();
}

test('90/10 split over 1000 requests is within ±3 pp (workers = 1)', { timeout: 60000 }, async () => {
  await checkShare(1);
});

test('90/10 split over 1000 requests is within ±3 pp (workers = 2)', { timeout: 60000 }, async () => {
  await checkShare(2);
});

test('smooth weighted choice: every 100 consecutive requests of one worker hold 10±2 canary', { timeout: 60000 }, async () => {
  const { port, sl } = await setup({ workers: 1 });
  const { results } = await A.hitMany(port, 400, { concurrency: 1 });
  const seq = results.map((r) => r.pool);
  assert.ok(seq.every((p) => p === 'blue' || p === 'canary'), `pools: ${JSON.stringify(A.tally(results))}`);
  const worst = { lo: 100, hi: 0, at: -1 };
  for (let i = 0; i + 100 <= seq.length; i++) {
    const c = seq.slice(i, i + 100).filter((p) => p === 'canary').length;
    if (c < worst.lo) worst.lo = c;
    if (c > worst.hi) worst.hi = c;
    if (c < 8 || c > 12) worst.at = i;
  }
  assert.equal(worst.at, -1, `a window of 100 requests had canary outside 8..12 (min ${worst.lo}, max ${worst.hi}); first 100: ${seq.slice(0, 100).map((p) => p[0]).join('')}`);
  await sl.stop();
});

test('a pool with weight 0 gets nothing', { timeout: 60000 }, async () => {
  const { port, sl, canary, sock } = await setup({ split: '{ blue = 100, canary = 0 }', workers: 2 });
  const { tally } = await A.hitMany(port, 300, { concurrency: 4 });
  assert.deepEqual(tally, { blue: 300 });
  assert.equal(canary.requests.length, 0, 'the weight-0 upstream received no request');
  // An operator flip applies to both workers at once.
  const put = await A.setSplit(sock, 'app', { blue: 0, canary: 100 });
  assert.equal(put.status, 200, put.text);
  const flipped = await A.hitMany(port, 200, { concurrency: 4 });
  assert.deepEqual(flipped.tally, { canary: 200 }, 'after PUT split every worker sends everything to the canary');
  await sl.stop();
});

const cookieOf = (res) => {
  const sc = res.headers['set-cookie'];
  if (!sc) return null;
  const list = Array.isArray(sc) ? sc : [sc];
  return list.find((c) => /^sluice_pool=/.test(c)) || null;
};

test('sticky = "cookie": cookie set with the right attributes, client stays, re-assigned when its pool goes to 0', { timeout: 60000 }, async () => {
  const { port, sl, sock } = await setup({ split: '{ blue = 50, canary = 50 }', extra: 'sticky = "cookie"' });

  // Fresh clients get a cookie naming the pool that served them.
  const assigned = {};
  let first;
  for (let i = 0; i < 20; i++) {
    const res = await A.hit(port, { path: `/cookie/new/${i}` });
    assert.equal(res.status, 200);
    const sc = cookieOf(res);
    assert.ok(sc, `first response sets sluice_pool: ${JSON.stringify(res.headers)}`);
    const parts = sc.split(';').map((s) => s.trim());
    assert.equal(parts[0], `sluice_pool=${res.pool}`, `cookie names the pool that answered: ${sc}`);
    const attrs = parts.slice(1).map((s) => s.toLowerCase());
    assert.ok(attrs.includes('path=/'), `Path=/ in ${sc}`);
    assert.ok(attrs.includes('httponly'), `HttpOnly in ${sc}`);
    assert.ok(attrs.includes('samesite=lax'), `SameSite=Lax in ${sc}`);
    assert.ok(!attrs.includes('secure'), `no Secure on plain HTTP: ${sc}`);
    assigned[res.pool] = (assigned[res.pool] || 0) + 1;
    if (!first) first = res;
  }
  assert.ok(assigned.blue > 0 && assigned.canary > 0, `50/50 assigns both pools to new clients: ${JSON.stringify(assigned)}`);

  // One client with its cookie keeps its pool for 50 requests.
  for (const pool of ['blue', 'canary']) {
    const seen = {};
    for (let i = 0; i < 50; i++) {
      const res = await A.hit(port, { path: `/cookie/keep/${i}`, headers: { Cookie: `theme=dark; sluice_pool=${pool}` } });
      assert.equal(res.status, 200);
      seen[res.pool] = (seen[res.pool] || 0) + 1;
      const sc = cookieOf(res);
      if (sc) assert.match(sc, new RegExp(`^sluice_pool=${pool};`), 'a valid cookie is not rewritten to another pool');
    }
    assert.deepEqual(seen, { [pool]: 50 }, `client with sluice_pool=${pool} stays on it`);
  }

  // A cookie naming no pool of the route: re-assigned, cookie rewritten.
  const ghost = await A.hit(port, { path: '/cookie/ghost', headers: { Cookie: 'sluice_pool=ghost' } });
  assert.equal(ghost.status, 200);
  assert.ok(['blue', 'canary'].includes(ghost.pool));
  assert.equal((cookieOf(ghost) || '').split(';')[0], `sluice_pool=${ghost.pool}`, 'invalid cookie rewritten');

  // Only the cookie named exactly sluice_pool counts (not my_sluice_pool).
  const other = await A.hit(port, { path: '/cookie/other', headers: { Cookie: 'my_sluice_pool=canary; x=1' } });
  assert.equal(other.status, 200);
  assert.ok(cookieOf(other), `a client without a sluice_pool cookie gets one: ${JSON.stringify(other.headers)}`);

  // The operator sets canary to 0: a canary client is re-assigned to blue, cookie rewritten.
  const put = await A.setSplit(sock, 'app', { blue: 100, canary: 0 });
  assert.equal(put.status, 200, put.text);
  const moved = await A.hit(port, { path: '/cookie/moved', headers: { Cookie: 'sluice_pool=canary' } });
  assert.equal(moved.status, 200);
  assert.equal(moved.pool, 'blue', 'a client whose pool has weight 0 is re-assigned');
  const sc = cookieOf(moved);
  assert.ok(sc, `cookie rewritten on re-assignment: ${JSON.stringify(moved.headers)}`);
  assert.equal(sc.split(';')[0].trim(), 'sluice_pool=blue');
  // And it stays there with the new cookie.
  for (let i = 0; i < 10; i++) {
    const res = await A.hit(port, { path: `/cookie/after/${i}`, headers: { Cookie: 'sluice_pool=blue' } });
    assert.equal(res.pool, 'blue');
  }
  assert.ok(first);
  await sl.stop();
});

test('sticky = "header:X-User": one user stays on one pool', { timeout: 60000 }, async () => {
  const { port, sl } = await setup({ split: '{ blue = 50, canary = 50 }', extra: 'sticky = "header:X-User"' });
  const byUser = {};
  for (let u = 0; u < 20; u++) {
    for (let i = 0; i < 10; i++) {
      const res = await A.hit(port, { path: `/hdr/${u}/${i}`, headers: { 'X-User': `user-${u}` } });
      assert.equal(res.status, 200);
      (byUser[u] = byUser[u] || new Set()).add(res.pool);
    }
  }
  const split = Object.entries(byUser).filter(([, s]) => s.size !== 1);
  assert.equal(split.length, 0, `users seen on more than one pool: ${split.map(([u, s]) => `${u}:${[...s]}`).join(' ')}`);
  const pools = new Set(Object.values(byUser).map((s) => [...s][0]));
  assert.equal(pools.size, 2, 'with 50/50, 20 users land on both pools');
  await sl.stop();
});

test('sticky = "ip": one client address stays on one pool', { timeout: 60000 }, async () => {
  const { port, sl } = await setup({ split: '{ blue = 50, canary = 50 }', extra: 'sticky = "ip"' });
  const byIp = {};
  for (let k = 1; k <= 20; k++) {
    const ip = `127.0.0.${k + 10}`;
    for (let i = 0; i < 5; i++) {
      const res = await A.hit(port, { path: `/ip/${k}/${i}`, localAddress: ip });
      assert.equal(res.status, 200, `from ${ip}: ${res.error || res.status}`);
      (byIp[ip] = byIp[ip] || new Set()).add(res.pool);
    }
  }
  const split = Object.entries(byIp).filter(([, s]) => s.size !== 1);
  assert.equal(split.length, 0, `addresses seen on more than one pool: ${split.map(([u, s]) => `${u}:${[...s]}`).join(' ')}`);
  const pools = new Set(Object.values(byIp).map((s) => [...s][0]));
  assert.equal(pools.size, 2, 'with 50/50, 20 addresses land on both pools');
  await sl.stop();
});

test('force_header sends a request to the named pool and ignores unknown names', { timeout: 60000 }, async () => {
  const { port, sl, sock } = await setup({ extra: 'force_header = "X-Sluice-Pool"' });
  for (const pool of ['canary', 'blue']) {
    const { tally } = await A.hitMany(port, 30, { make: () => ({ headers: { 'X-Sluice-Pool': pool } }) });
    assert.deepEqual(tally, { [pool]: 30 }, `forced to ${pool}`);
  }
  // Header name is case-insensitive.
  const lc = await A.hit(port, { headers: { 'x-sluice-pool': 'canary' } });
  assert.equal(lc.pool, 'canary');
  // Unknown names fall back to the weighted choice, never an error.
  const { results, tally } = await A.hitMany(port, 200, { make: () => ({ headers: { 'X-Sluice-Pool': 'ghost' } }) });
  assert.ok(results.every((r) => r.status === 200), `unknown pool name: ${JSON.stringify(tally)}`);
  assert.ok(tally.blue >= 170 && tally.blue <= 190 && tally.canary >= 10, `unknown name → normal 90/10 split: ${JSON.stringify(tally)}`);
  // A canary at weight 0 can still be reached on purpose (testing before shifting traffic).
  const put = await A.setSplit(sock, 'app', { blue: 100, canary: 0 });
  assert.equal(put.status, 200, put.text);
  const zero = await A.hitMany(port, 10, { make: () => ({ headers: { 'X-Sluice-Pool': 'canary' } }) });
  assert.deepEqual(zero.tally, { canary: 10 }, 'forced to a weight-0 pool');
  const plain = await A.hitMany(port, 10);
  assert.deepEqual(plain.tally, { blue: 10 }, 'unforced traffic follows the weights');
  await sl.stop();
});

async function movement({ extra, keyOf, make }) {
  const { port, sl, sock } = await setup({ split: '{ blue = 50, canary = 50 }', extra, workers: 2 });
  const K = 200;
  const before = [];
  for (let k = 0; k < K; k++) {
    const res = await A.hit(port, { path: `/move/a/${k}`, ...make(k) });
    assert.equal(res.status, 200, `key ${keyOf(k)}: ${res.error || res.status}`);
    before.push(res.pool);
  }
  const b0 = before.filter((p) => p === 'blue').length;
  assert.ok(b0 >= 70 && b0 <= 130, `50/50 puts about half of ${K} keys on blue: ${b0}`);
  // Unchanged weights: every key stays.
  for (let k = 0; k < K; k += 10) {
    const res = await A.hit(port, { path: `/move/b/${k}`, ...make(k) });
    assert.equal(res.pool, before[k], `key ${keyOf(k)} moved without a weight change`);
  }
  const put = await A.setSplit(sock, 'app', { blue: 60, canary: 40 });
  assert.equal(put.status, 200, put.text);
  const afterP = [];
  for (let k = 0; k < K; k++) {
    const res = await A.hit(port, { path: `/move/c/${k}`, ...make(k) });
    assert.equal(res.status, 200);
    afterP.push(res.pool);
  }
  let moved = 0;
  let wrongWay = 0;
  for (let k = 0; k < K; k++) {
    if (before[k] !== afterP[k]) {
      moved++;
      if (before[k] === 'blue') wrongWay++;
    }
  }
  const b1 = afterP.filter((p) => p === 'blue').length;
  assert.ok(b1 > b0, `more keys on blue after 50/50 → 60/40: ${b0} → ${b1}`);
  assert.ok(moved / K < 0.3, `only a minority of keys moves: ${moved}/${K} moved`);
  assert.ok(moved > 0, 'some keys move to the pool that gained weight');
  assert.equal(wrongWay, 0, `keys only move towards the pool that gained weight (${wrongWay} moved blue → canary)`);
  await sl.stop();
  return moved;
}

test('sticky header: 50/50 → 60/40 moves only a minority of 200 keys', { timeout: 60000 }, async () => {
  await movement({ extra: 'sticky = "header:X-User"', keyOf: (k) => `u${k}`, make: (k) => ({ headers: { 'X-User': `user-${k}@example.com` } }) });
});

test('sticky ip: 50/50 → 60/40 moves only a minority of 200 client addresses', { timeout: 60000 }, async () => {
  await movement({ extra: 'sticky = "ip"', keyOf: (k) => `127.0.1.${k + 1}`, make: (k) => ({ localAddress: `127.0.1.${k + 1}` }) });
});

test('sticky cookie on a TLS listener carries Secure', { timeout: 60000 }, async () => {
  const t = require('./lib/tls');
  const certs = await t.makeTestCerts(h.tmpDir('sluice-certs-'));
  const blue = await h.startUpstream({ pool: 'blue' });
  const canary = await h.startUpstream({ pool: 'canary' });
  const port = await h.freePort();
  const sl = await h.startSluice(
    h.sluiceToml({
      port,
      listeners: t.tlsListenerToml({ port, certs: [certs.rsa] }),
      pools: { blue: [blue.addr], canary: [canary.addr] },
      routes: '[[route]]\nname = "app"\nsplit = { blue = 50, canary = 50 }\nbaseline = "blue"\nsticky = "cookie"\n',
    }),
  );
  const r = await h.curl(['-i', '--http1.1', '--cacert', certs.ca.cert, '--resolve', `localhost:${port}:127.0.0.1`, `https://localhost:${port}/tls-cookie`]);
  assert.equal(r.code, 0, r.stderr);
  const res = h.parseResponses(r.stdoutBuf, { allowIncomplete: true }).responses.pop();
  assert.equal(res.status, 200);
  const sc = res.rawHeaders.filter(([n]) => n.toLowerCase() === 'set-cookie').map(([, v]) => v).find((v) => v.startsWith('sluice_pool='));
  assert.ok(sc, `Set-Cookie over TLS: ${JSON.stringify(res.headers)}`);
  const attrs = sc.split(';').map((s) => s.trim().toLowerCase());
  assert.equal(attrs[0], `sluice_pool=${res.headers['x-pool']}`);
  for (const want of ['path=/', 'httponly', 'samesite=lax', 'secure']) assert.ok(attrs.includes(want), `${want} in ${sc}`);
  await sl.stop();
});

test('weights are relative: { blue = 1, canary = 3 } sends 25 % / 75 %', { timeout: 60000 }, async () => {
  const { port, sl } = await setup({ split: '{ blue = 1, canary = 3 }' });
  const { tally } = await A.hitMany(port, 400);
  assert.ok(Math.abs(tally.blue - 100) <= 8 && Math.abs(tally.canary - 300) <= 8, `1:3 over 400 requests: ${JSON.stringify(tally)}`);
  await sl.stop();
});
