'use strict';
// Automatic rollback and rollout (SPEC: Traffic splitting and rollback; [route.rollback],
// [route.rollout]): a failing canary (5xx, refused connections, timeouts, slow p99) is taken
// to weight 0, its weight moves to the baseline, the rollback is logged, counted, shown in
// status and persisted in state_dir, survives a restart, and only an operator's split
// brings the canary back. A canary under the threshold is left alone. Rollout steps
// advance on schedule and a breach aborts them. A corrupt state.json is set aside.
const fs = require('node:fs');
const path = require('node:path');
const { test, after } = require('node:test');
const h = require('./lib/harness');
const A = require('./lib/admin');
const { assert } = h;

after(h.cleanup);

function routeToml({ split = '{ blue = 50, canary = 50 }', rollback = '', rollout = '', extra = '' } = {}) {
  return `
[[route]]
name = "app"
path_prefix = "/"
split = ${split}
baseline = "blue"
${extra}
${rollback ? `\n[route.rollback]\n${rollback}\n` : ''}${rollout ? `\n[route.rollout]\n${rollout}\n` : ''}`;
}

async function start({ canaryAddr, canaryExtra = {}, blueAddr, stateDir, workers = 1, routes, extraGlobal = {} }) {
  const port = await h.freePort();
  const toml = h.sluiceToml({
    port,
    global: { workers, ...(stateDir ? { state_dir: stateDir } : {}), ...extraGlobal },
    pools: { blue: [blueAddr], canary: { servers: [canaryAddr], ...canaryExtra } },
    routes,
  });
  const sl = await h.startSluice(toml);
  sl.sock = `${sl.dir}/admin.sock`;
  await h.waitFor(() => fs.existsSync(sl.sock), { timeout: 5000, what: 'admin socket' });
  return { sl, port, toml };
}

// Sequential requests with a gap, so the 100 ms control loop sees a bounded number per tick.
async function paced(port, n, { gapMs = 5, stopWhen, prefix = '/rb' } = {}) {
  const results = [];
  for (let i = 0; i < n; i++) {
    results.push(await A.hit(port, { path: `${prefix}/${i}` }));
    if (stopWhen && stopWhen()) break;
    if (gapMs) await h.sleep(gapMs);
  }
  return results;
}

const rollbackEvents = (sl) => sl.events().filter((e) => e.event === 'rollback');

// A Node upstream whose behaviour can be switched while the test runs.
async function switchableUpstream(pool) {
  const ctl = { mode: 'ok', n: 0, failEvery: 0, delayMs: 0 };
  const up = await h.startUpstream({
    pool,
    onRequest: (req, res) => {
      ctl.n++;
      const fail = ctl.mode === '500' || (ctl.failEvery && ctl.n % ctl.failEvery === 0);
      const answer = () => {
        if (res.destroyed) return;
        res.writeHead(fail ? 500 : 200, { 'X-Pool': pool, 'Content-Type': 'text/plain', 'Content-Length': 2 });
        res.end('ok');
      };
      req.resume();
      if (ctl.mode === 'hang') return true; // never answer; cleanup destroys the socket
      req.on('end', () => (ctl.delayMs ? setTimeout(answer, ctl.delayMs) : answer()));
      return true;
    },
  });
  return { up, ctl };
}

test('a canary answering 500 is rolled back within min_requests + a few ticks, logged, counted, shown, persisted; restart keeps it; PUT split brings it back', { timeout: 90000 }, async () => {
  const blue = await h.startUpstream({ pool: 'blue' });
  const canary = await h.startUpstream({ pool: 'canary', status: 500 });
  const stateDir = h.tmpDir('sluice-state-');
  const routes = routeToml({ rollback: 'error_rate = 0.05\nmin_requests = 20\nwindow = "30s"' });
  let { sl, port, toml } = await start({ blueAddr: blue.addr, canaryAddr: canary.addr, stateDir, workers: 2, routes });

  const t0 = Date.now();
  const first = await paced(port, 200, { stopWhen: () => rollbackEvents(sl).length > 0 });
  const fails = first.filter((r) => r.pool === 'canary').length;
  assert.ok(fails >= 20, `the canary failed at least min_requests times before its rollback: ${fails}`);
  // ~7 ms per request, 50/50: at most ~8 canary requests per 100 ms tick. min_requests + ~3 ticks.
  assert.ok(fails <= 20 + 25, `rolled back soon after min_requests: ${fails} canary failures, ${first.length} requests in ${Date.now() - t0} ms`);
  const ev = await h.waitFor(() => rollbackEvents(sl)[0], { timeout: 2000, what: 'a rollback event on stderr' });
  assert.equal(ev.route, 'app');
  assert.equal(ev.pool, 'canary');
  assert.equal(typeof ev.observed_rate, 'number');
  assert.ok(ev.observed_rate > 0.05 && ev.observed_rate <= 1, `observed_rate ${ev.observed_rate}`);
  assert.ok(ev.requests >= 20, `requests ${ev.requests} >= min_requests`);
  assert.equal(ev.window_s, 30);

  // Then the canary gets nothing.
  const canaryBefore = canary.requests.length;
  const next = await A.hitMany(port, 100, { concurrency: 4 });
  assert.deepEqual(next.tally, { blue: 100 }, 'after the rollback everything goes to the baseline');
  assert.equal(canary.requests.length, canaryBefore, 'the canary upstream received nothing more');

  // status
  const r = await A.getRoute(sl.sock);
  assert.deepEqual(r.configured, { blue: 50, canary: 50 });
  assert.deepEqual(r.effective, { blue: 100, canary: 0 }, 'canary weight moved to the baseline');
  assert.ok(r.rollback, `status.rollback set: ${JSON.stringify(r)}`);
  assert.equal(r.rollback.pool, 'canary');
  assert.equal(r.rollback.reason, 'error_rate');
  assert.ok(r.rollback.observed_rate > 0.05);
  assert.ok(r.rollback.requests >= 20);
  assert.ok(!Number.isNaN(Date.parse(r.rollback.at)), `rollback.at is a time: ${r.rollback.at}`);
  assert.equal(r.pools.canary.verdict, 'failed');
  assert.ok(r.pools.canary.window_errors >= 20);
  assert.equal(r.pools.blue.verdict, 'healthy');
  // metrics
  const m = await A.getMetrics(sl.sock);
  assert.equal(A.metricSum(m, 'sluice_rollbacks_total', { route: 'app', pool: 'canary' }), 1, 'sluice_rollbacks_total counts it once');
  assert.equal(A.metricSum(m, 'sluice_route_weight', { route: 'app', pool: 'canary' }), 0);
  // persisted
  const statePath = path.join(stateDir, 'state.json');
  assert.ok(fs.existsSync(statePath), 'state_dir/state.json written');
  assert.doesNotThrow(() => JSON.parse(fs.readFileSync(statePath, 'utf8')), 'state.json is JSON');
  assert.equal(rollbackEvents(sl).length, 1, 'exactly one rollback event (no flapping)');

  // Restart with the same state_dir: still rolled back.
  await sl.stop();
  sl = await h.startSluice(toml);
  sl.sock = `${sl.dir}/admin.sock`;
  await h.waitFor(() => fs.existsSync(sl.sock), { timeout: 5000, what: 'admin socket' });
  const r2 = await A.getRoute(sl.sock);
  assert.deepEqual(r2.effective, { blue: 100, canary: 0 }, 'still rolled back after a restart (status)');
  assert.ok(r2.rollback && r2.rollback.pool === 'canary', `rollback record restored: ${JSON.stringify(r2.rollback)}`);
  const after = await A.hitMany(port, 50, { concurrency: 4 });
  assert.deepEqual(after.tally, { blue: 50 }, 'still rolled back after a restart (traffic)');
  assert.equal(canary.requests.length, canaryBefore);
  await h.sleep(300);
  assert.deepEqual((await A.getRoute(sl.sock)).effective, { blue: 100, canary: 0 });

  // The operator sets weights: the canary is back, with fresh windows.
  const put = await A.setSplit(sl.sock, 'app', { blue: 50, canary: 50 });
  assert.equal(put.status, 200, put.text);
  const r3 = await A.getRoute(sl.sock);
  assert.deepEqual(r3.effective, { blue: 50, canary: 50 });
  assert.equal(r3.rollback, null, 'rollback cleared by the operator');
  assert.equal(r3.pools.canary.window_requests, 0, 'pool windows cleared by PUT split');
  const back = await A.hitMany(port, 20);
  assert.ok(back.tally.canary >= 5 && back.tally.canary <= 15, `the canary receives traffic again: ${JSON.stringify(back.tally)}`);
  await h.sleep(300);
  assert.deepEqual((await A.getRoute(sl.sock)).effective, { blue: 50, canary: 50 }, 'not rolled back again below min_requests');
  await sl.stop();
});

test('a canary at 2 % errors under a 5 % threshold is not rolled back after 500 requests', { timeout: 90000 }, async () => {
  const blue = await h.startUpstream({ pool: 'blue' });
  const { up: canary, ctl } = await switchableUpstream('canary');
  ctl.failEvery = 50; // the 50th, 100th, ... canary request fails: 2 %
  const routes = routeToml({ rollback: 'error_rate = 0.05\nmin_requests = 20\nwindow = "30s"' });
  const { sl, port } = await start({ blueAddr: blue.addr, canaryAddr: canary.addr, routes });
  const { tally } = await A.hitMany(port, 500, { concurrency: 2 });
  await h.sleep(400); // a few control ticks
  assert.equal(tally.canary, 250, `50/50: ${JSON.stringify(tally)}`);
  const r = await A.getRoute(sl.sock);
  assert.deepEqual(r.effective, { blue: 50, canary: 50 }, `not rolled back: ${JSON.stringify(r)}`);
  assert.equal(r.rollback, null);
  assert.equal(r.pools.canary.window_requests, 250);
  assert.equal(r.pools.canary.window_errors, 5);
  assert.ok(Math.abs(r.pools.canary.error_rate - 0.02) < 0.001, `error_rate ${r.pools.canary.error_rate}`);
  assert.equal(r.pools.canary.verdict, 'healthy');
  assert.equal(rollbackEvents(sl).length, 0);
  await sl.stop();
});

test('a canary whose server refuses connections is counted as failing and rolled back', { timeout: 60000 }, async () => {
  const blue = await h.startUpstream({ pool: 'blue' });
  const dead = await A.deadPort();
  const routes = routeToml({ rollback: 'error_rate = 0.05\nmin_requests = 20\nwindow = "30s"' });
  const { sl, port } = await start({ blueAddr: blue.addr, canaryAddr: `127.0.0.1:${dead}`, canaryExtra: { connect_timeout: '500ms' }, routes });
  const res = await paced(port, 200, { stopWhen: () => rollbackEvents(sl).length > 0 });
  const failed = res.filter((r) => r.pool !== 'blue');
  // 502 until passive ejection takes the only server out (3 failures), then 503 at once.
  assert.ok(failed.slice(0, 3).every((r) => r.status === 502), `refused connections answer 502: ${JSON.stringify(failed.slice(0, 3))}`);
  assert.ok(failed.slice(3).every((r) => r.status === 503), `then "no healthy server": 503: ${JSON.stringify(A.tally(failed))}`);
  assert.ok(failed.length >= 20 && failed.length <= 45, `rolled back after min_requests + a few ticks: ${failed.length} failures`);
  const ev = await h.waitFor(() => rollbackEvents(sl)[0], { timeout: 2000, what: 'rollback event' });
  assert.equal(ev.pool, 'canary');
  const r = await A.getRoute(sl.sock);
  assert.deepEqual(r.effective, { blue: 100, canary: 0 });
  assert.ok(r.pools.canary.window_errors >= 20, `connect failures count as errors: ${JSON.stringify(r.pools.canary)}`);
  const m = await A.getMetrics(sl.sock);
  assert.ok(A.metricSum(m, 'sluice_upstream_errors_total', { route: 'app', pool: 'canary', kind: 'connect' }) >= 20, 'connect failures in metrics');
  const { tally } = await A.hitMany(port, 40, { concurrency: 4 });
  assert.deepEqual(tally, { blue: 40 });
  await sl.stop();
});

test('a canary that never answers (read_timeout 300ms) is rolled back', { timeout: 90000 }, async () => {
  const blue = await h.startUpstream({ pool: 'blue' });
  const { up: canary, ctl } = await switchableUpstream('canary');
  ctl.mode = 'hang';
  const routes = routeToml({ rollback: 'error_rate = 0.05\nmin_requests = 10\nwindow = "30s"' });
  const { sl, port } = await start({ blueAddr: blue.addr, canaryAddr: canary.addr, canaryExtra: { read_timeout: '300ms' }, routes });
  const t0 = Date.now();
  let results = [];
  for (let round = 0; round < 10 && rollbackEvents(sl).length === 0; round++) {
    const { results: rs } = await A.hitMany(port, 20, { concurrency: 10, make: () => ({ timeout: 5000 }) });
    results = results.concat(rs);
    await h.sleep(150);
  }
  const slow = results.filter((r) => r.pool !== 'blue');
  assert.ok(slow.length > 0);
  assert.ok(slow.every((r) => r.status === 504), `timeouts answer 504: ${JSON.stringify(A.tally(slow))}`);
  const ev = await h.waitFor(() => rollbackEvents(sl)[0], { timeout: 2000, what: `rollback event (after ${Date.now() - t0} ms, ${slow.length} timeouts)` });
  assert.equal(ev.pool, 'canary');
  const r = await A.getRoute(sl.sock);
  assert.deepEqual(r.effective, { blue: 100, canary: 0 });
  const m = await A.getMetrics(sl.sock);
  assert.ok(A.metricSum(m, 'sluice_upstream_errors_total', { route: 'app', pool: 'canary', kind: 'timeout' }) >= 10, 'timeouts in metrics');
  const { tally } = await A.hitMany(port, 20, { concurrency: 4 });
  assert.deepEqual(tally, { blue: 20 });
  await sl.stop();
});

test('p99_latency: a canary answering after 300 ms with p99_latency = "100ms" is rolled back', { timeout: 90000 }, async () => {
  const blue = await h.startUpstream({ pool: 'blue' });
  const { up: canary, ctl } = await switchableUpstream('canary');
  ctl.delayMs = 300;
  const routes = routeToml({ rollback: 'error_rate = 0.5\nmin_requests = 10\nwindow = "30s"\np99_latency = "100ms"' });
  const { sl, port } = await start({ blueAddr: blue.addr, canaryAddr: canary.addr, routes });
  let results = [];
  for (let round = 0; round < 10 && rollbackEvents(sl).length === 0; round++) {
    const { results: rs } = await A.hitMany(port, 20, { concurrency: 10 });
    results = results.concat(rs);
    await h.sleep(150);
  }
  assert.ok(results.every((r) => r.status === 200), 'slow but successful answers');
  const ev = await h.waitFor(() => rollbackEvents(sl)[0], { timeout: 2000, what: 'rollback event for p99' });
  assert.equal(ev.pool, 'canary');
  const r = await A.getRoute(sl.sock);
  assert.deepEqual(r.effective, { blue: 100, canary: 0 });
  assert.ok(r.rollback && /p99|latency/.test(r.rollback.reason), `reason names the latency: ${JSON.stringify(r.rollback)}`);
  assert.ok(r.pools.canary.p99_ms >= 250, `p99_ms ${r.pools.canary.p99_ms}`);
  assert.equal(r.pools.canary.window_errors, 0, 'slow answers are not errors');
  const { tally } = await A.hitMany(port, 20, { concurrency: 4 });
  assert.deepEqual(tally, { blue: 20 });
  await sl.stop();
});

// Sample the canary share while the rollout sits on one step.
async function shareAtStep(sock, port, step, n = 100) {
  for (let attempt = 0; attempt < 5; attempt++) {
    const before = (await A.getRoute(sock)).rollout;
    if (before.step !== step) return { step: before.step };
    if (before.status === 'running' && before.next_step_in_s !== null && before.next_step_in_s < 0.5) {
      await h.sleep(before.next_step_in_s * 1000 + 200);
      continue;
    }
    const { tally } = await A.hitMany(port, n, { concurrency: 4 });
    const afterR = (await A.getRoute(sock)).rollout;
    if (afterR.step === step) return { step, canary: tally.canary || 0, blue: tally.blue || 0 };
  }
  return { step: null };
}

test('rollout steps [10, 50, 100] every 1s: status and traffic follow the steps', { timeout: 60000 }, async () => {
  const blue = await h.startUpstream({ pool: 'blue' });
  const canary = await h.startUpstream({ pool: 'canary' });
  const routes = routeToml({
    split: '{ blue = 100, canary = 100 }',
    rollback: 'error_rate = 0.05\nmin_requests = 20\nwindow = "30s"',
    rollout: 'steps = [10, 50, 100]\ninterval = "1s"',
  });
  const { sl, port } = await start({ blueAddr: blue.addr, canaryAddr: canary.addr, routes });
  const r0 = await A.getRoute(sl.sock);
  assert.ok(r0.rollout, `status.rollout: ${JSON.stringify(r0)}`);
  assert.equal(r0.rollout.step, 0);
  assert.deepEqual(r0.rollout.steps, [10, 50, 100]);
  assert.equal(r0.rollout.percent, 10);
  assert.equal(r0.rollout.status, 'running');
  assert.ok(r0.rollout.next_step_in_s > 0 && r0.rollout.next_step_in_s <= 1, `next_step_in_s ${r0.rollout.next_step_in_s}`);
  assert.deepEqual(r0.effective, { blue: 90, canary: 10 });

  const s0 = await shareAtStep(sl.sock, port, 0);
  assert.equal(s0.step, 0, 'sampled at step 0');
  assert.ok(s0.canary >= 5 && s0.canary <= 15, `step 0 (10 %): ${JSON.stringify(s0)}`);

  await h.waitFor(async () => (await A.getRoute(sl.sock)).rollout.step === 1, { timeout: 3000, every: 50, what: 'rollout step 1' });
  const r1 = await A.getRoute(sl.sock);
  assert.equal(r1.rollout.percent, 50);
  assert.equal(r1.rollout.status, 'running');
  assert.deepEqual(r1.effective, { blue: 50, canary: 50 });
  const s1 = await shareAtStep(sl.sock, port, 1);
  assert.equal(s1.step, 1, 'sampled at step 1');
  assert.ok(s1.canary >= 40 && s1.canary <= 60, `step 1 (50 %): ${JSON.stringify(s1)}`);

  await h.waitFor(async () => (await A.getRoute(sl.sock)).rollout.step === 2, { timeout: 3000, every: 50, what: 'rollout step 2' });
  // One step per interval, measured on sluice's own event times.
  const stepEvents = sl.events().filter((e) => e.event === 'rollout_step');
  assert.equal(stepEvents.length, 2, `rollout_step events: ${JSON.stringify(stepEvents)}`);
  const dt = Date.parse(stepEvents[1].time) - Date.parse(stepEvents[0].time);
  assert.ok(dt >= 900 && dt <= 1400, `step 1 → 2 took ${dt} ms (interval 1s)`);
  const started = sl.events().find((e) => e.event === 'started');
  if (started && started.time) {
    const d0 = Date.parse(stepEvents[0].time) - Date.parse(started.time);
    assert.ok(d0 >= 800 && d0 <= 1500, `step 0 → 1 took ${d0} ms after start (interval 1s)`);
  }
  const r2 = await A.getRoute(sl.sock);
  assert.equal(r2.rollout.percent, 100);
  assert.equal(r2.rollout.status, 'complete');
  assert.deepEqual(r2.effective, { blue: 0, canary: 100 });
  const { tally } = await A.hitMany(port, 50, { concurrency: 4 });
  assert.deepEqual(tally, { canary: 50 }, 'step 100 %: all traffic on the canary');
  const steps = sl.events().filter((e) => e.event === 'rollout_step').map((e) => e.step);
  assert.deepEqual(steps, [1, 2], 'one rollout_step event per advance');
  await sl.stop();
});

test('a breach in the middle of a rollout rolls the canary back and aborts the rollout', { timeout: 60000 }, async () => {
  const blue = await h.startUpstream({ pool: 'blue' });
  const { up: canary, ctl } = await switchableUpstream('canary');
  const routes = routeToml({
    split: '{ blue = 100, canary = 100 }',
    rollback: 'error_rate = 0.05\nmin_requests = 20\nwindow = "30s"',
    rollout: 'steps = [10, 50, 100]\ninterval = "1s"',
  });
  const { sl, port } = await start({ blueAddr: blue.addr, canaryAddr: canary.addr, routes });
  await h.waitFor(async () => (await A.getRoute(sl.sock)).rollout.step === 1, { timeout: 3000, every: 50, what: 'rollout step 1' });
  ctl.mode = '500';
  await paced(port, 150, { gapMs: 2, stopWhen: () => rollbackEvents(sl).length > 0 });
  const ev = await h.waitFor(() => rollbackEvents(sl)[0], { timeout: 2000, what: 'rollback event during the rollout' });
  assert.equal(ev.pool, 'canary');
  const r = await A.getRoute(sl.sock);
  assert.deepEqual(r.effective, { blue: 100, canary: 0 });
  assert.ok(r.rollout, JSON.stringify(r));
  assert.equal(r.rollout.status, 'aborted', `rollout aborted: ${JSON.stringify(r.rollout)}`);
  assert.ok(r.rollback && r.rollback.pool === 'canary');
  // It does not advance any more.
  await h.sleep(1500);
  const later = await A.getRoute(sl.sock);
  assert.equal(later.rollout.status, 'aborted');
  assert.equal(later.rollout.step, r.rollout.step, 'an aborted rollout does not advance');
  assert.deepEqual(later.effective, { blue: 100, canary: 0 });
  const { tally } = await A.hitMany(port, 40, { concurrency: 4 });
  assert.deepEqual(tally, { blue: 40 });
  await sl.stop();
});

test('a corrupt state.json is moved aside, logged, and the config weights apply', { timeout: 30000 }, async () => {
  const blue = await h.startUpstream({ pool: 'blue' });
  const canary = await h.startUpstream({ pool: 'canary' });
  const stateDir = h.tmpDir('sluice-state-');
  const garbage = '{"routes": [ {"name": "app", "weights": [100, 0' + '\u0000\u00ff not json';
  fs.writeFileSync(path.join(stateDir, 'state.json'), garbage);
  const routes = routeToml({ rollback: 'error_rate = 0.05\nmin_requests = 20\nwindow = "30s"' });
  const { sl, port } = await start({ blueAddr: blue.addr, canaryAddr: canary.addr, stateDir, routes });
  const aside = fs.readdirSync(stateDir).filter((f) => f.startsWith('state.json.corrupt-'));
  assert.equal(aside.length, 1, `state.json.corrupt-* in ${stateDir}: ${fs.readdirSync(stateDir)}`);
  assert.equal(fs.readFileSync(path.join(stateDir, aside[0]), 'latin1'), Buffer.from(garbage).toString('latin1'), 'the corrupt file is kept as it was');
  const ev = sl.events().find((e) => /state/.test(e.event || '') && /corrupt/.test(JSON.stringify(e)));
  assert.ok(ev, `an event about the corrupt state file:\n${sl.stderr}`);
  const r = await A.getRoute(sl.sock);
  assert.deepEqual(r.effective, { blue: 50, canary: 50 }, 'configured weights apply');
  assert.equal(r.rollback, null);
  const { tally } = await A.hitMany(port, 40);
  assert.deepEqual(tally, { blue: 20, canary: 20 });
  await sl.stop();
});

test('no verdict below min_requests, and the window slides: old failures expire', { timeout: 60000 }, async () => {
  const blue = await h.startUpstream({ pool: 'blue' });
  const canary = await h.startUpstream({ pool: 'canary', status: 500 });
  const routes = routeToml({ rollback: 'error_rate = 0.05\nmin_requests = 20\nwindow = "2s"', extra: 'force_header = "X-Sluice-Pool"' });
  const { sl, port } = await start({ blueAddr: blue.addr, canaryAddr: canary.addr, routes });
  const toCanary = (n) => A.hitMany(port, n, { make: () => ({ headers: { 'X-Sluice-Pool': 'canary' } }) });
  const first = await toCanary(19);
  assert.deepEqual(first.tally, { canary: 19 });
  await h.sleep(400);
  let r = await A.getRoute(sl.sock);
  assert.equal(r.pools.canary.window_requests, 19);
  assert.equal(r.pools.canary.window_errors, 19);
  assert.equal(r.pools.canary.verdict, 'inconclusive', '19 < min_requests: no verdict');
  assert.deepEqual(r.effective, { blue: 50, canary: 50 }, 'not rolled back below min_requests');
  // Let the 2 s window forget them.
  await h.sleep(2600);
  r = await A.getRoute(sl.sock);
  assert.equal(r.pools.canary.window_requests, 0, `the window slid past the old requests: ${JSON.stringify(r.pools.canary)}`);
  await toCanary(15);
  await h.sleep(400);
  r = await A.getRoute(sl.sock);
  assert.equal(r.pools.canary.window_requests, 15);
  assert.deepEqual(r.effective, { blue: 50, canary: 50 }, '19 old + 15 new failures, but only 15 in the window: no rollback');
  assert.equal(rollbackEvents(sl).length, 0);
  await toCanary(5);
  await h.waitFor(() => rollbackEvents(sl).length === 1, { timeout: 2000, what: 'rollback at 20 requests in the window' });
  r = await A.getRoute(sl.sock);
  assert.deepEqual(r.effective, { blue: 100, canary: 0 });
  assert.equal(r.rollback.requests, 20);
  await sl.stop();
});

test('an error rate exactly at the threshold is not a breach (strictly above)', { timeout: 60000 }, async () => {
  const blue = await h.startUpstream({ pool: 'blue' });
  const { up: canary, ctl } = await switchableUpstream('canary');
  ctl.failEvery = 20; // the 20th, 40th, ... request fails: exactly 5 % at every multiple of 20
  const routes = routeToml({ rollback: 'error_rate = 0.05\nmin_requests = 20\nwindow = "30s"', extra: 'force_header = "X-Sluice-Pool"' });
  const { sl, port } = await start({ blueAddr: blue.addr, canaryAddr: canary.addr, routes });
  const { tally } = await A.hitMany(port, 200, { make: () => ({ headers: { 'X-Sluice-Pool': 'canary' } }) });
  assert.deepEqual(tally, { canary: 200 });
  await h.sleep(400);
  const r = await A.getRoute(sl.sock);
  assert.equal(r.pools.canary.window_errors, 10);
  assert.equal(r.pools.canary.window_requests, 200);
  assert.deepEqual(r.effective, { blue: 50, canary: 50 }, `5 % errors under error_rate = 0.05 is not above it: ${JSON.stringify(r)}`);
  assert.equal(r.rollback, null);
  await sl.stop();
});

test('three pools: a failing canary\'s weight goes to the baseline only; a failing baseline is never rolled back', { timeout: 60000 }, async () => {
  const blue = await h.startUpstream({ pool: 'blue' });
  const green = await h.startUpstream({ pool: 'green' });
  const canary = await h.startUpstream({ pool: 'canary', status: 503 });
  const port = await h.freePort();
  const sl = await h.startSluice(
    h.sluiceToml({
      port,
      pools: { blue: [blue.addr], green: [green.addr], canary: [canary.addr] },
      routes: `
[[route]]
name = "app"
split = { blue = 60, green = 30, canary = 10 }
baseline = "blue"

[route.rollback]
error_rate = 0.05
min_requests = 10
window = "30s"
`,
    }),
  );
  const sock = `${sl.dir}/admin.sock`;
  await h.waitFor(() => fs.existsSync(sock), { timeout: 5000, what: 'admin socket' });
  for (let i = 0; i < 20 && rollbackEvents(sl).length === 0; i++) {
    await A.hitMany(port, 20, { concurrency: 2 });
    await h.sleep(50);
  }
  await h.waitFor(() => rollbackEvents(sl).length === 1, { timeout: 2000, what: 'rollback' });
  const r = await A.getRoute(sock);
  assert.deepEqual(r.effective, { blue: 70, green: 30, canary: 0 }, 'the canary\'s 10 went to the baseline, green kept 30');
  const { tally } = await A.hitMany(port, 100, { concurrency: 2 });
  assert.deepEqual(tally, { blue: 70, green: 30 });
  await sl.stop();

  // A failing baseline: nothing to roll back to.
  const badBlue = await h.startUpstream({ pool: 'blue', status: 500 });
  const okCanary = await h.startUpstream({ pool: 'canary' });
  const routes = routeToml({ rollback: 'error_rate = 0.05\nmin_requests = 10\nwindow = "30s"' });
  const s2 = await start({ blueAddr: badBlue.addr, canaryAddr: okCanary.addr, routes });
  await A.hitMany(s2.port, 100, { concurrency: 2 });
  await h.sleep(400);
  const r2 = await A.getRoute(s2.sl.sock);
  assert.equal(r2.pools.blue.verdict, 'failed', 'the baseline is seen failing');
  assert.deepEqual(r2.effective, { blue: 50, canary: 50 }, 'but the baseline is never rolled back');
  assert.equal(r2.rollback, null);
  assert.equal(rollbackEvents(s2.sl).length, 0);
  await s2.sl.stop();
});

test('a rollback survives POST /v1/reload and SIGHUP with the same config', { timeout: 60000 }, async () => {
  const blue = await h.startUpstream({ pool: 'blue' });
  const canary = await h.startUpstream({ pool: 'canary', status: 500 });
  const routes = routeToml({ rollback: 'error_rate = 0.05\nmin_requests = 10\nwindow = "30s"' });
  const { sl, port } = await start({ blueAddr: blue.addr, canaryAddr: canary.addr, routes });
  await paced(port, 100, { stopWhen: () => rollbackEvents(sl).length > 0 });
  await h.waitFor(() => rollbackEvents(sl).length === 1, { timeout: 2000, what: 'rollback' });
  // Quiet for a few control ticks first: a reload racing in-flight counters is a separate
  // test (admin.test.js, reload while requests are flowing).
  await h.sleep(300);
  const rl = await A.adminRequest(sl.sock, 'POST', '/v1/reload').catch(async (e) => {
    await h.sleep(300);
    return { status: 0, text: `${e} — sluice exited: ${JSON.stringify(sl.exited)}` };
  });
  assert.equal(rl.status, 200, `POST /v1/reload after a rollback: ${rl.text}`);
  let r = await A.getRoute(sl.sock);
  assert.deepEqual(r.effective, { blue: 100, canary: 0 }, 'still rolled back after POST /v1/reload');
  assert.ok(r.rollback && r.rollback.pool === 'canary');
  sl.kill('SIGHUP');
  await h.waitFor(() => sl.exited || sl.events().filter((e) => e.event === 'reloaded').length >= 2, { timeout: 3000, what: 'SIGHUP reload' });
  assert.equal(sl.exited, null, 'sluice survives SIGHUP after a rollback');
  r = await A.getRoute(sl.sock);
  assert.deepEqual(r.effective, { blue: 100, canary: 0 }, 'still rolled back after SIGHUP');
  const { tally } = await A.hitMany(port, 30);
  assert.deepEqual(tally, { blue: 30 });
  await sl.stop();
});

test('a sticky-cookie client of a rolled-back canary is re-assigned and its cookie rewritten', { timeout: 60000 }, async () => {
  const blue = await h.startUpstream({ pool: 'blue' });
  const canary = await h.startUpstream({ pool: 'canary', status: 500 });
  const routes = routeToml({ rollback: 'error_rate = 0.05\nmin_requests = 10\nwindow = "30s"', extra: 'sticky = "cookie"' });
  const { sl, port } = await start({ blueAddr: blue.addr, canaryAddr: canary.addr, routes });
  // New clients (no cookie) until the canary is rolled back.
  for (let i = 0; i < 200 && rollbackEvents(sl).length === 0; i++) {
    await A.hit(port, { path: `/c/${i}` });
    await h.sleep(3);
  }
  await h.waitFor(() => rollbackEvents(sl).length === 1, { timeout: 2000, what: 'rollback' });
  // The control thread logs the rollback, then hands the new weights to the
  // workers (their next loop turn): a request in between may still reach the
  // canary. Within a second every one is re-assigned.
  const res = await h.waitFor(async () => {
    const r = await A.hit(port, { path: '/c/after', headers: { Cookie: 'sluice_pool=canary' } });
    return r.status === 200 && r;
  }, { timeout: 1000, every: 10, what: 'a canary-cookie request answered after the rollback' });
  assert.equal(res.pool, 'blue', 'the canary client is re-assigned');
  const sc = [].concat(res.headers['set-cookie'] || []).find((c) => c.startsWith('sluice_pool='));
  assert.ok(sc, `cookie rewritten: ${JSON.stringify(res.headers)}`);
  assert.equal(sc.split(';')[0], 'sluice_pool=blue');
  await sl.stop();
});

test('operator weights and an aborted rollout persist across a restart', { timeout: 60000 }, async () => {
  const blue = await h.startUpstream({ pool: 'blue' });
  const { up: canary, ctl } = await switchableUpstream('canary');
  const stateDir = h.tmpDir('sluice-state-');
  const routes = routeToml({
    split: '{ blue = 100, canary = 100 }',
    rollback: 'error_rate = 0.05\nmin_requests = 10\nwindow = "30s"',
    rollout: 'steps = [10, 50, 100]\ninterval = "1s"',
  });
  let { sl, port, toml } = await start({ blueAddr: blue.addr, canaryAddr: canary.addr, stateDir, routes });
  ctl.mode = '500';
  await A.hitMany(port, 150, { concurrency: 2 });
  await h.waitFor(() => rollbackEvents(sl).length === 1, { timeout: 2000, what: 'rollback during the rollout' });
  let r = await A.getRoute(sl.sock);
  assert.equal(r.rollout && r.rollout.status, 'aborted');
  await sl.stop();
  sl = await h.startSluice(toml);
  sl.sock = `${sl.dir}/admin.sock`;
  await h.waitFor(() => fs.existsSync(sl.sock), { timeout: 5000, what: 'admin socket' });
  r = await A.getRoute(sl.sock);
  assert.deepEqual(r.effective, { blue: 100, canary: 0 }, 'aborted rollout still rolled back after restart');
  assert.ok(r.rollback && r.rollback.pool === 'canary');
  assert.equal(r.rollout && r.rollout.status, 'aborted', `rollout status after restart: ${JSON.stringify(r.rollout)}`);
  await h.sleep(1300);
  assert.deepEqual((await A.getRoute(sl.sock)).effective, { blue: 100, canary: 0 }, 'the aborted rollout does not restart by itself');

  // Operator weights persist too.
  ctl.mode = 'ok';
  const put = await A.setSplit(sl.sock, 'app', { blue: 80, canary: 20 });
  assert.equal(put.status, 200, put.text);
  await sl.stop();
  sl = await h.startSluice(toml);
  sl.sock = `${sl.dir}/admin.sock`;
  await h.waitFor(() => fs.existsSync(sl.sock), { timeout: 5000, what: 'admin socket' });
  r = await A.getRoute(sl.sock);
  assert.deepEqual(r.effective, { blue: 80, canary: 20 }, 'operator weights restored from state_dir');
  assert.equal(r.rollback, null);
  await h.sleep(1300);
  assert.deepEqual((await A.getRoute(sl.sock)).effective, { blue: 80, canary: 20 }, 'operator weights are not overridden by the rollout schedule');
  const { tally } = await A.hitMany(port, 100);
  assert.deepEqual(tally, { blue: 80, canary: 20 });
  await sl.stop();
});

test('state.json that is valid JSON of the wrong shape, or empty, never stops sluice; the config weights apply', { timeout: 60000 }, async () => {
  const blue = await h.startUpstream({ pool: 'blue' });
  const canary = await h.startUpstream({ pool: 'canary' });
  const routes = routeToml({ rollback: 'error_rate = 0.05\nmin_requests = 20\nwindow = "30s"' });
  for (const [label, content, asideWanted] of [
    ['wrong shape', '{"routes": 5, "version": "x"}', true],
    ['array', '[1, 2, 3]', true],
    ['empty file', '', false],
  ]) {
    const stateDir = h.tmpDir('sluice-state-');
    fs.writeFileSync(path.join(stateDir, 'state.json'), content);
    const { sl, port } = await start({ blueAddr: blue.addr, canaryAddr: canary.addr, stateDir, routes });
    const r = await A.getRoute(sl.sock);
    assert.deepEqual(r.effective, { blue: 50, canary: 50 }, `${label}: configured weights apply`);
    const aside = fs.readdirSync(stateDir).filter((f) => f.startsWith('state.json.corrupt-'));
    if (asideWanted) assert.equal(aside.length, 1, `${label}: set aside as state.json.corrupt-*: ${fs.readdirSync(stateDir)}`);
    const { tally } = await A.hitMany(port, 20);
    assert.deepEqual(tally, { blue: 10, canary: 10 }, label);
    await sl.stop();
  }
});

test('a persisted rollback for a pool that left the config is dropped; sluice starts with the new config', { timeout: 60000 }, async () => {
  const blue = await h.startUpstream({ pool: 'blue' });
  const canary = await h.startUpstream({ pool: 'canary', status: 500 });
  const green = await h.startUpstream({ pool: 'green' });
  const stateDir = h.tmpDir('sluice-state-');
  const routes = routeToml({ rollback: 'error_rate = 0.05\nmin_requests = 10\nwindow = "30s"' });
  const first = await start({ blueAddr: blue.addr, canaryAddr: canary.addr, stateDir, routes });
  await paced(first.port, 100, { stopWhen: () => rollbackEvents(first.sl).length > 0 });
  await h.waitFor(() => rollbackEvents(first.sl).length === 1, { timeout: 2000, what: 'rollback' });
  await first.sl.stop();
  // New config: canary replaced by green.
  const port = await h.freePort();
  const sl = await h.startSluice(
    h.sluiceToml({
      port,
      global: { state_dir: stateDir },
      pools: { blue: [blue.addr], green: [green.addr] },
      routes: '[[route]]\nname = "app"\nsplit = { blue = 50, green = 50 }\nbaseline = "blue"\n',
    }),
  );
  const sock = `${sl.dir}/admin.sock`;
  await h.waitFor(() => fs.existsSync(sock), { timeout: 5000, what: 'admin socket' });
  const r = await A.getRoute(sock);
  assert.deepEqual(r.effective, { blue: 50, green: 50 });
  assert.equal(r.rollback, null);
  const { tally } = await A.hitMany(port, 20);
  assert.deepEqual(tally, { blue: 10, green: 10 });
  await sl.stop();
});

test('4xx from the canary are not errors; a canary that drops connections (502) is rolled back', { timeout: 60000 }, async () => {
  const blue = await h.startUpstream({ pool: 'blue' });
  const routes = routeToml({ rollback: 'error_rate = 0.05\nmin_requests = 10\nwindow = "30s"' });
  const notFound = await h.startUpstream({
    pool: 'canary',
    onRequest: (req, res) => {
      res.writeHead(404, { 'X-Pool': 'canary', 'Content-Length': 2 });
      res.end('nf');
      return true;
    },
  });
  const s1 = await start({ blueAddr: blue.addr, canaryAddr: notFound.addr, routes });
  const { tally } = await A.hitMany(s1.port, 60);
  await h.sleep(300);
  const r1 = await A.getRoute(s1.sl.sock);
  assert.equal(tally.canary, 30);
  assert.equal(r1.pools.canary.window_requests, 30);
  assert.equal(r1.pools.canary.window_errors, 0, '4xx are the client\'s fault, not the canary\'s');
  assert.deepEqual(r1.effective, { blue: 50, canary: 50 });
  await s1.sl.stop();

  const dropper = await h.startUpstream({ pool: 'canary', onRequest: (req) => (req.socket.destroy(), true) });
  const s2 = await start({ blueAddr: blue.addr, canaryAddr: dropper.addr, routes });
  const res = await paced(s2.port, 100, { stopWhen: () => rollbackEvents(s2.sl).length > 0 });
  const dropped = res.filter((x) => x.pool !== 'blue');
  // 502 for the first three, then the server is ejected (passive) and the pool answers 503.
  assert.ok(dropped.length > 3 && dropped.slice(0, 3).every((x) => x.status === 502) && dropped.slice(3).every((x) => x.status === 503),
    `dropped connections answer 502, then 503 once ejected: ${JSON.stringify(A.tally(dropped))}`);
  await h.waitFor(() => rollbackEvents(s2.sl).length === 1, { timeout: 2000, what: 'rollback of a canary that drops connections' });
  assert.deepEqual((await A.getRoute(s2.sl.sock)).effective, { blue: 100, canary: 0 });
  await s2.sl.stop();
});

test('windows are per route: a canary failing on one route is rolled back there only', { timeout: 60000 }, async () => {
  const blue = await h.startUpstream({ pool: 'blue' });
  const canary = await h.startUpstream({
    pool: 'canary',
    onRequest: (req, res) => {
      const bad = req.url.startsWith('/a/');
      res.writeHead(bad ? 500 : 200, { 'X-Pool': 'canary', 'Content-Length': 2 });
      res.end('..');
      return true;
    },
  });
  const port = await h.freePort();
  const rb = '[route.rollback]\nerror_rate = 0.05\nmin_requests = 10\nwindow = "30s"\n';
  const sl = await h.startSluice(
    h.sluiceToml({
      port,
      pools: { blue: [blue.addr], canary: [canary.addr] },
      routes: `[[route]]\nname = "ra"\npath_prefix = "/a/"\nsplit = { blue = 50, canary = 50 }\nbaseline = "blue"\n${rb}\n[[route]]\nname = "rb"\npath_prefix = "/b/"\nsplit = { blue = 50, canary = 50 }\nbaseline = "blue"\n${rb}`,
    }),
  );
  const sock = `${sl.dir}/admin.sock`;
  await h.waitFor(() => fs.existsSync(sock), { timeout: 5000, what: 'admin socket' });
  for (let i = 0; i < 100 && rollbackEvents(sl).length === 0; i++) {
    await A.hit(port, { path: `/a/${i}` });
    await A.hit(port, { path: `/b/${i}` });
    await h.sleep(3);
  }
  const ev = await h.waitFor(() => rollbackEvents(sl)[0], { timeout: 2000, what: 'rollback on route ra' });
  assert.equal(ev.route, 'ra');
  await h.sleep(300);
  assert.equal(rollbackEvents(sl).length, 1, 'route rb is not rolled back');
  const ra = await A.getRoute(sock, 'ra');
  const rbr = await A.getRoute(sock, 'rb');
  assert.deepEqual(ra.effective, { blue: 100, canary: 0 });
  assert.deepEqual(rbr.effective, { blue: 50, canary: 50 });
  assert.equal(rbr.rollback, null);
  assert.equal(rbr.pools.canary.window_errors, 0, 'route rb counts its own canary requests');
  const b = await A.hitMany(port, 20, { make: (i) => ({ path: `/b/after/${i}` }) });
  assert.equal(b.tally.canary, 10, `route rb still sends half to the canary: ${JSON.stringify(b.tally)}`);
  const a = await A.hitMany(port, 20, { make: (i) => ({ path: `/a/after/${i}` }) });
  assert.deepEqual(a.tally, { blue: 20 });
  await sl.stop();
});

test('a rollback reaches clients on established keep-alive connections at once (workers = 2)', { timeout: 60000 }, async () => {
  const http = require('node:http');
  const blue = await h.startUpstream({ pool: 'blue', keepAliveTimeout: 30000 });
  const canary = await h.startUpstream({ pool: 'canary', status: 500, keepAliveTimeout: 30000 });
  const routes = routeToml({ rollback: 'error_rate = 0.05\nmin_requests = 10\nwindow = "30s"' });
  const { sl, port } = await start({ blueAddr: blue.addr, canaryAddr: canary.addr, routes, workers: 2 });
  const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
  const sockets = new Set();
  const get = (i) =>
    new Promise((resolve, reject) => {
      const req = http.get({ port, path: `/ka/${i}`, agent, headers: { Host: 'app.test' } }, (res) => {
        sockets.add(res.socket);
        res.resume();
        res.on('end', () => resolve(res.headers['x-pool']));
      });
      req.setTimeout(5000, () => req.destroy(new Error('timeout')));
      req.on('error', reject);
    });
  try {
    for (let i = 0; i < 300 && rollbackEvents(sl).length === 0; i += 4) {
      await Promise.all([0, 1, 2, 3].map((k) => get(i + k)));
      await h.sleep(10);
    }
    await h.waitFor(() => rollbackEvents(sl).length === 1, { timeout: 2000, what: 'rollback' });
    const opened = sockets.size;
    await h.sleep(50);
    const seen = {};
    for (let i = 0; i < 40; i += 4) {
      for (const p of await Promise.all([0, 1, 2, 3].map((k) => get(1000 + i + k)))) seen[p] = (seen[p] || 0) + 1;
    }
    assert.deepEqual(seen, { blue: 40 }, 'requests on the existing keep-alive connections all go to the baseline');
    assert.equal(sockets.size, opened, 'the same client connections were reused');
  } finally {
    agent.destroy();
  }
  await sl.stop();
});
