#!/usr/bin/env node
'use strict';
// Weight changes under load (the split issue's check): sluice with 2 workers
// in front of two Node upstreams, wrk for DURATION seconds, and CHANGES weight
// changes through the admin socket meanwhile. Then, from sluice's own access
// log: every response's status (any non-200 is a failure) and, for each
// period between two changes, the canary share against its weight.
//
//   node scripts/split-under-load.js [--duration 30] [--changes 100] [--bin build/sluice]
//   node scripts/split-under-load.js --reloads 50 [--duration 30]
//     (instead of weight changes: that many SIGHUP reloads; every request must
//      still be answered 200, the operations issue's check)
//
// Needs wrk (Debian package). Uses 127.0.0.1 and free ports only.
const { spawn, execFileSync } = require('node:child_process');
const fs = require('node:fs');
const http = require('node:http');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');

const args = process.argv.slice(2);
const opt = (name, def) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : def;
};
const DURATION = Number(opt('duration', 30));
const RELOADS = Number(opt('reloads', 0));
const CHANGES = RELOADS > 0 ? RELOADS : Number(opt('changes', 100));
const BIN = path.resolve(opt('bin', process.env.SLUICE_BIN || 'build/sluice'));

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const freePort = () =>
  new Promise((resolve) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });

function upstream(pool, port) {
  const srv = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.setHeader('X-Pool', pool);
      res.end(`${pool}\n`);
    });
  });
  srv.keepAliveTimeout = 65000;
  return new Promise((r) => srv.listen(port, '127.0.0.1', () => r(srv)));
}

function admin(sock, method, p, body) {
  return new Promise((resolve, reject) => {
    const req = http.request({ socketPath: sock, method, path: p, headers: { 'Content-Type': 'application/json' } }, (res) => {
      let data = '';
      res.on('data', (d) => (data += d));
      res.on('end', () => resolve({ status: res.statusCode, body: data }));
    });
    req.on('error', reject);
    req.setTimeout(5000, () => req.destroy(new Error('admin timeout')));
    req.end(body);
  });
}

async function main() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-split-load-'));
  const [bluePort, canaryPort, port] = [await freePort(), await freePort(), await freePort()];
  const ups = [await upstream('blue', bluePort), await upstream('canary', canaryPort)];
  const sock = path.join(dir, 'admin.sock');
  const accessLog = path.join(dir, 'access.log');
  fs.writeFileSync(
    path.join(dir, 'sluice.toml'),
    `[global]
workers = 2
state_dir = "${dir}/state"
access_log = "${accessLog}"
[admin]
socket = "${sock}"
[[listener]]
listen = "127.0.0.1:${port}"
[pool.blue]
servers = ["127.0.0.1:${bluePort}"]
[pool.canary]
servers = ["127.0.0.1:${canaryPort}"]
[[route]]
name = "app"
split = { blue = 90, canary = 10 }
baseline = "blue"
[route.rollback]
min_requests = 1000000
`,
  );
  const events = [];
  const sl = spawn(BIN, ['-c', path.join(dir, 'sluice.toml')], { stdio: ['ignore', 'ignore', 'pipe'] });
  sl.stderr.on('data', (d) => {
    for (const line of d.toString().split('\n')) {
      if (line.trim()) events.push(line);
    }
  });
  for (let i = 0; i < 100 && !fs.existsSync(sock); i++) await sleep(50);

  const wrk = spawn('wrk', ['-t1', '-c32', `-d${DURATION}s`, `http://127.0.0.1:${port}/`], { stdio: ['ignore', 'pipe', 'pipe'] });
  let wrkOut = '';
  wrk.stdout.on('data', (d) => (wrkOut += d));
  const wrkDone = new Promise((r) => wrk.on('exit', r));

  await sleep(500);
  const weights = [10, 50, 90, 0, 25, 100, 5, 75];
  const changes = [];
  const gap = ((DURATION - 1.5) * 1000) / CHANGES;
  for (let i = 0; i < CHANGES; i++) {
    const canary = RELOADS > 0 ? 10 : weights[i % weights.length];
    const t = Date.now();
    if (RELOADS > 0) {
      sl.kill('SIGHUP');
    } else {
      const r = await admin(sock, 'PUT', '/v1/routes/app/split', JSON.stringify({ blue: 100 - canary, canary }));
      if (r.status !== 200) throw new Error(`split refused: ${r.status} ${r.body}`);
    }
    changes.push({ at: t, done: Date.now(), canary });
    await sleep(gap);
  }
  await wrkDone;
  await sleep(300);
  sl.kill('SIGTERM');
  await new Promise((r) => sl.on('exit', r));
  for (const u of ups) u.close();

  const lines = fs.readFileSync(accessLog, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  const bad = lines.filter((l) => l.status !== 200);
  // A request is attributed to the period it started in; requests that
  // started within 20 ms of a change (in flight across it) are left out.
  let checked = 0;
  let worst = 0;
  const periods = [];
  for (let i = 0; i < changes.length; i++) {
    const from = changes[i].done + 20;
    const to = i + 1 < changes.length ? changes[i + 1].at : Infinity;
    const inPeriod = lines.filter((l) => {
      const t = Date.parse(l.time);
      return t >= from && t < to;
    });
    if (inPeriod.length < 50) continue;
    const share = (100 * inPeriod.filter((l) => l.pool === 'canary').length) / inPeriod.length;
    const dev = Math.abs(share - changes[i].canary);
    worst = Math.max(worst, dev);
    checked++;
    periods.push(`${changes[i].canary}%→${share.toFixed(1)}%`);
  }
  const wrkErrors = /Socket errors:.*|Non-2xx or 3xx responses: \d+/g;
  const reloaded = events.filter((l) => l.includes('"event":"reloaded"')).length;
  const what = RELOADS > 0 ? `${RELOADS} SIGHUP reloads (${reloaded} "reloaded" events)` : `${CHANGES} weight changes via ${sock}`;
  console.log(`sluice ${BIN}, workers 2, wrk -t1 -c32 -d${DURATION}s, ${what}`);
  console.log(wrkOut.split('\n').filter((l) => /Requests\/sec|requests in|Socket errors|Non-2xx/.test(l)).join('\n'));
  console.log(`access log: ${lines.length} requests, ${bad.length} not 200${bad.length ? ': ' + JSON.stringify(bad.slice(0, 3)) : ''}`);
  console.log(`wrk errors: ${(wrkOut.match(wrkErrors) || ['none']).join('; ')}`);
  console.log(`split followed the weights in ${checked} periods with >= 50 requests; worst deviation ${worst.toFixed(1)} pp`);
  console.log(`first periods (weight→observed canary share): ${periods.slice(0, 12).join(', ')}`);
  const ok = bad.length === 0 && !/Socket errors|Non-2xx/.test(wrkOut) && worst <= 5 &&
    (RELOADS === 0 || reloaded === RELOADS);
  console.log(ok ? 'RESULT: ok' : 'RESULT: FAILED');
  fs.rmSync(dir, { recursive: true, force: true });
  process.exit(ok ? 0 : 1);
}

main().catch((e) => {
  console.error(e);
  process.exit(2);
});
