#!/usr/bin/env node
'use strict';
// Two of issue 6's targets that compare.sh does not measure, for sluice
// against nginx and HAProxy, each with one worker / process, the same
// upstream keep-alive pool of 64, keep-alive timeouts of 300 s, access logs
// off, in front of one nginx backend:
//
//   node scripts/side-by-side.js rss  [--conns 9000] [--rounds 3] [--sluice build-rel/sluice]
//   node scripts/side-by-side.js p99  [--rate 5000] [--duration 10s] [--rounds 3] [--sluice ...]
//   node scripts/side-by-side.js scale [--duration 10s] [--sluice ...]
//   node scripts/side-by-side.js cpu  [--rate 15000] [--duration 10s] [--rounds 3] [--tls] [--sluice ...]
//
// rss: opens N client connections, sends one request on each and keeps them
//   open and idle, reading the proxy's resident set size from
//   /proc/PID/status with N/10 open and with N open. Memory per connection =
//   (RSS(N) - RSS(N/10)) / (0.9 N): the marginal cost of one more idle
//   connection, with every proxy's buffer pools already at working size.
//   Each round starts every proxy afresh (nginx, haproxy, sluice, nginx,
//   ...); each round's figures and the median of the rounds are printed.
// p99: sluice-bench (next to the sluice binary) offers the same fixed rate
//   to each proxy (open loop, 50 connections) and reports its percentiles,
//   in interleaved rounds (see rateRounds), with the median of the rounds.
//   Pinned as compare.sh pins (unless --no-pin): every proxy on CPU 0, the
//   backend and sluice-bench on CPU 1, so a proxy's tail is not its
//   neighbours' scheduling. Plain p99 also measures "direct", sluice-bench
//   straight to the backend: the tail CPU 1 makes with no proxy at all.
// scale: sluice alone with workers = 1, then 2; wrk -t2 -c100 for the
//   duration; req/s of 2 workers over 1. Nothing is pinned: the load
//   generator and the backend share the same cores as sluice. Also prints
//   the CPU each of the three spent per request (/proc) and the ceiling
//   those costs put on any number of workers here: all CPUs / their sum.
// cpu: the CPU time (user and system, /proc/PID/stat) each proxy spends per
//   request at the same offered rate, below every proxy's saturation, so the
//   figure is the proxy's cost and not the load generator's or the backend's
//   limit; pinned and interleaved as p99 is, with the backend's and
//   sluice-bench's CPU per request beside it. --tls (cpu and p99): TLS
//   keep-alive on every proxy (RSA-2048 self-signed, TLS 1.2-1.3).
// Everything runs on 127.0.0.1 with free ports in a temp directory, and only
// the processes started here are stopped.
const cp = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');

const args = process.argv.slice(2);
const USAGE = `usage: node scripts/side-by-side.js rss|p99|scale|cpu [--conns N] [--rate R] [--duration 10s]
         [--rounds N] [--sluice PATH] [--tls] [--no-pin] [--json]   (details at the top of this file)`;
const VALUED = ['--conns', '--rate', '--duration', '--rounds', '--sluice'];
const FLAGS = ['--no-pin', '--json', '--tls'];
if (!['rss', 'p99', 'scale', 'cpu'].includes(args[0]) || args.includes('--help') || args.includes('-h')) {
  const help = args.includes('--help') || args.includes('-h');
  (help ? console.log : console.error)(USAGE);
  process.exit(help ? 0 : 2);
}
for (let i = 1; i < args.length; i++) {
  if (VALUED.includes(args[i]) && i + 1 < args.length) i++;
  else if (!FLAGS.includes(args[i])) {
    console.error(`side-by-side.js: unknown or incomplete option "${args[i]}"\n${USAGE}`);
    process.exit(2);
  }
}
const opt = (name, def) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : def;
};
const MODE = args[0];
// p99 and cpu: the proxy under test alone on CPU 0, backend and load on CPU 1.
const PIN = (MODE === 'p99' || MODE === 'cpu') && !args.includes('--no-pin') && os.cpus().length >= 2;
const TLS = args.includes('--tls');
if (TLS && MODE !== 'p99' && MODE !== 'cpu') {
  console.error('side-by-side.js: --tls is for p99 and cpu');
  process.exit(2);
}
const SCHEME = TLS ? 'https' : 'http';
const PROXY_CPU = '0';
const LOAD_CPU = '1';
// 9000 by default: this machine's hard limit is 20000 open files per process,
// and HAProxy reserves two per connection (10000 would need 22014).
const CONNS = Number(opt('--conns', MODE === 'p99' || MODE === 'cpu' ? 1000 : 9000));
const RATE = Number(opt('--rate', MODE === 'cpu' ? 15000 : 5000));
const DURATION = opt('--duration', '10s');
const ROUNDS = Number(opt('--rounds', 3));
const SLUICE = path.resolve(opt('--sluice', path.join(__dirname, '..', 'build', 'sluice')));
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-idle-rss-'));
const children = [];

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}
function rssKiB(pid) {
  const m = /^VmRSS:\s+(\d+) kB/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m[1]);
}
// The fields of a /proc/PID/stat text from field 3 on (f[0] is field 3; the
// name before it may hold spaces).
const statFields = (stat) => stat.slice(stat.lastIndexOf(')') + 2).split(' ');
// User and system CPU of a process (all its threads) so far, in clock ticks.
function cpuTicks(pid) {
  const f = statFields(fs.readFileSync(`/proc/${pid}/stat`, 'utf8'));
  return { user: Number(f[11]), sys: Number(f[12]) };
}
// User + system ticks between two cpuTicks() readings.
const spent = (a, b) => b.user - a.user + b.sys - a.sys;
const TICK_US = 1e6 / Number(cp.execFileSync('getconf', ['CLK_TCK']).toString());
// Runs cmd to completion; its stdout and the CPU it used (its exited children's
// ticks as its shell sees them).
function runTimed(cmd, argv) {
  const out = cp.execFileSync('sh', ['-c', '"$@" && echo && cat /proc/$$/stat', 'sh', cmd, ...argv], { maxBuffer: 1 << 24 }).toString();
  const nl = out.trimEnd().lastIndexOf('\n');
  const f = statFields(out.slice(nl + 1));
  return { stdout: out.slice(0, nl), user: Number(f[13]), sys: Number(f[14]) };
}
// [cmd, argv] run on `cpu` when pinning (taskset), unchanged otherwise.
const pinned = (cpu, cmd, argv) => (PIN ? ['taskset', ['-c', cpu, cmd, ...argv]] : [cmd, argv]);
function start(cmd, argv, name, cpu = PROXY_CPU) {
  [cmd, argv] = pinned(cpu, cmd, argv);
  const c = cp.spawn(cmd, argv, { stdio: ['ignore', 'ignore', fs.openSync(path.join(dir, `${name}.err`), 'w')] });
  children.push(c);
  return c;
}
async function waitPort(port) {
  for (let i = 0; i < 200; i++) {
    const ok = await new Promise((r) => {
      const s = net.connect(port, '127.0.0.1', () => (s.destroy(), r(true)));
      s.on('error', () => r(false));
    });
    if (ok) return;
    await sleep(25);
  }
  throw new Error(`nothing listens on ${port}`);
}

// Opens `n` connections, one request on each, and leaves them idle.
async function openIdle(port, n) {
  const socks = [];
  const req = 'GET / HTTP/1.1\r\nHost: bench\r\n\r\n';
  const batch = 500;
  for (let i = 0; i < n; i += batch) {
    await Promise.all(
      Array.from({ length: Math.min(batch, n - i) }, () =>
        new Promise((resolve, reject) => {
          const s = net.connect(port, '127.0.0.1');
          let got = '';
          s.setEncoding('latin1');
          s.on('data', (d) => {
            got += d;
            if (got.includes('\r\n\r\n') && got.endsWith('ok')) resolve();
          });
          s.on('error', reject);
          s.on('connect', () => s.write(req));
          socks.push(s);
        }),
      ),
    );
  }
  return socks;
}

// sluice-bench at RATE for DURATION against one proxy (after a 1 s warm-up):
// its percentiles, and the CPU per response of the proxy (pid), the backend
// (backendPid) and sluice-bench itself.
async function measureAtRate(name, port, pid, backendPid) {
  const bench = path.join(path.dirname(SLUICE), 'sluice-bench');
  const run = (d) => {
    const t = runTimed(...pinned(LOAD_CPU, bench, ['--rate', String(RATE), '-d', d, '-c', '50', '--json', '--no-progress',
      `${SCHEME}://127.0.0.1:${port}/`]));
    return { ...JSON.parse(t.stdout), bench_ticks: t.user + t.sys };
  };
  run('1s'); // warm-up
  const p0 = cpuTicks(pid);
  const b0 = cpuTicks(backendPid);
  const r = run(DURATION);
  const p1 = cpuTicks(pid);
  const b1 = cpuTicks(backendPid);
  const lat = r.latency_ms || r.latency || {};
  const per = (ticks) => (ticks * TICK_US) / r.responses;
  return {
    name, requests: r.requests, rate: r.rate, responses: r.responses, errors: r.errors.total,
    p50: lat.p50, p90: lat.p90, p99: lat.p99, p999: lat.p99_9, max: lat.max,
    user_us: per(p1.user - p0.user), sys_us: per(p1.sys - p0.sys), cpu_us: per(spent(p0, p1)),
    backend_us: per(spent(b0, b1)), bench_us: per(r.bench_ticks),
  };
}

const SETTLE_MS = 7000;

async function measureRss(name, port, pid) {
  // The marginal cost: RSS with a tenth of the connections open (buffer pools
  // and caches at their working size), then with all of them; the difference
  // over the extra connections is what one more idle connection costs.
  // Each reading waits SETTLE_MS after the last request: the connections are
  // idle, and a proxy that gives a burst's buffers back after a second of
  // disuse and parks connections idle for five seconds (sluice: five to six
  // seconds after their last byte) has done so, so the reading is the idle
  // connections' cost, not the phase of a pool trim against the reading.
  // For information, also RSS before the first connection: (RSS(N) -
  // RSS(0)) / N counts what a proxy sets aside per connection at start
  // (nginx allocates and touches worker_connections connection and event
  // structures up front), which the marginal figure cannot see.
  await sleep(500);
  const start = rssKiB(pid);
  const first = Math.floor(CONNS / 10);
  const some = await openIdle(port, first);
  await sleep(SETTLE_MS);
  const base = rssKiB(pid);
  const rest = await openIdle(port, CONNS - first);
  await sleep(SETTLE_MS);
  const full = rssKiB(pid);
  for (const s of some.concat(rest)) s.destroy();
  const per = ((full - base) * 1024) / (CONNS - first);
  const allIn = ((full - start) * 1024) / CONNS;
  return { name, start_kib: start, base_kib: base, with_conns_kib: full, bytes_per_conn: Math.round(per), all_in_per_conn: Math.round(allIn) };
}

async function main() {
  const backendPort = await freePort();
  fs.writeFileSync(path.join(dir, 'backend.conf'), `worker_processes 1; daemon off; master_process off;
pid ${dir}/backend.pid; error_log ${dir}/backend.err warn;
events { worker_connections 1024; }
http { access_log off; keepalive_requests 1000000; keepalive_timeout 300s;
  server { listen 127.0.0.1:${backendPort}; location / { return 200 "ok"; } } }
`);
  const backend = start('nginx', ['-c', path.join(dir, 'backend.conf')], 'backend', LOAD_CPU);
  await waitPort(backendPort);
  // --tls: one self-signed certificate for every proxy, as compare.sh makes it.
  const cert = path.join(dir, 'cert.pem');
  const key = path.join(dir, 'key.pem');
  if (TLS) {
    cp.execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '30', '-subj', '/CN=localhost',
      '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1', '-keyout', key, '-out', cert], { stdio: 'ignore' });
    fs.writeFileSync(path.join(dir, 'bundle.pem'), fs.readFileSync(cert, 'utf8') + fs.readFileSync(key, 'utf8'));
  }
  const results = [];
  if (MODE === 'scale') return scale(backendPort, backend.pid);

  const nport = await freePort();
  fs.writeFileSync(path.join(dir, 'nginx.conf'), `worker_processes 1; daemon off; master_process off; worker_rlimit_nofile 20000;
pid ${dir}/nginx.pid; error_log ${dir}/nginx.err warn;
events { worker_connections ${CONNS + 1000}; }
http { access_log off; keepalive_requests 1000000; keepalive_timeout 300s;
  upstream b { server 127.0.0.1:${backendPort}; keepalive 64; }
  server { listen 127.0.0.1:${nport} backlog=4096${TLS ? ` ssl; ssl_certificate ${cert}; ssl_certificate_key ${key}; ssl_protocols TLSv1.2 TLSv1.3` : ''};
    location / { proxy_pass http://b; proxy_http_version 1.1; proxy_set_header Connection ""; } } }
`);
  const proxies = [{ name: 'nginx', port: nport, run: () => start('nginx', ['-c', path.join(dir, 'nginx.conf')], 'nginx') }];

  const hport = await freePort();
  fs.writeFileSync(path.join(dir, 'haproxy.cfg'), `global
  maxconn ${CONNS + 500}
  nbthread 1
defaults
  mode http
  timeout connect 5s
  timeout client 300s
  timeout server 300s
  timeout http-keep-alive 300s
frontend f
  bind 127.0.0.1:${hport}${TLS ? ` ssl crt ${dir}/bundle.pem ssl-min-ver TLSv1.2` : ''}
  default_backend b
backend b
  http-reuse always
  server s1 127.0.0.1:${backendPort}
`);
  if (fs.existsSync('/usr/sbin/haproxy')) {
    proxies.push({ name: 'haproxy', port: hport, run: () => start('haproxy', ['-db', '-f', path.join(dir, 'haproxy.cfg')], 'haproxy') });
  }

  const sport = await freePort();
  fs.writeFileSync(path.join(dir, 'sluice.toml'), sluiceToml(sport, backendPort, 1, TLS ? { cert, key } : null));
  proxies.push({ name: 'sluice', port: sport, run: () => start(SLUICE, ['-c', path.join(dir, 'sluice.toml')], 'sluice') });

  if (MODE === 'p99' || MODE === 'cpu') {
    // p99 (plain): sluice-bench straight to the backend as well, the tail of
    // CPU 1 alone, the floor under every proxy's figure.
    const direct = MODE === 'p99' && !TLS ? [{ name: 'direct', port: backendPort, pid: backend.pid }] : [];
    return rateRounds(proxies, direct, backend.pid);
  }
  // rss: one proxy at a time, alone with the backend, a fresh process each
  // round; the rounds interleave the proxies, and the median is reported.
  const rounds = [];
  for (let r = 0; r < ROUNDS; r++) {
    const round = [];
    for (const p of proxies) {
      const child = p.run();
      await waitPort(p.port);
      round.push(await measureRss(p.name, p.port, child.pid));
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    }
    rounds.push(round);
  }
  console.log(`idle keep-alive connections: ${CONNS} per proxy; bytes/conn = (RSS at ${CONNS} - RSS at ${Math.floor(CONNS / 10)}) / ${CONNS - Math.floor(CONNS / 10)}`);
  console.log('round proxy      KiB at 0   KiB at N/10   KiB at N   bytes/conn   x nginx   (RSS(N)-RSS(0))/N');
  const row = (label, r, ng) =>
    console.log(`${label.padEnd(5)} ${r.name.padEnd(10)} ${String(r.start_kib).padStart(8)}   ${String(r.base_kib).padStart(11)}   ${String(r.with_conns_kib).padStart(8)}   ${String(r.bytes_per_conn).padStart(10)}   ${(r.bytes_per_conn / ng).toFixed(2).padStart(7)}   ${String(r.all_in_per_conn).padStart(8)}`);
  rounds.forEach((round, i) => {
    const ng = round.find((x) => x.name === 'nginx').bytes_per_conn;
    for (const r of round) row(String(i + 1), r, ng);
  });
  const median = (xs) => xs.slice().sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const medians = proxies.map((p) => {
    const mine = rounds.map((round) => round.find((x) => x.name === p.name));
    const pick = (k) => median(mine.map((x) => x[k]));
    return { name: p.name, start_kib: pick('start_kib'), base_kib: pick('base_kib'), with_conns_kib: pick('with_conns_kib'), bytes_per_conn: pick('bytes_per_conn'), all_in_per_conn: pick('all_in_per_conn') };
  });
  const ngm = medians.find((x) => x.name === 'nginx').bytes_per_conn;
  for (const m of medians) row('med', m, ngm);
  results.push(...medians);
  if (args.includes('--json')) console.log(JSON.stringify({ rounds, medians }));
}

// p99: every proxy runs the whole time (idle while another is measured), and
// the rounds interleave them (nginx, haproxy, sluice, nginx, ...), so a slow
// minute of this shared machine lands on all of them rather than on one.
// Reports each round and the median of the rounds.
// cpu: the same rounds, reporting CPU per response instead of latency.
// `direct`: already running servers measured in the same rounds, after the
// proxies ([{name, port, pid}]).
async function rateRounds(started, direct, backendPid) {
  const pids = {};
  for (const p of started) pids[p.name] = p.run().pid;
  for (const p of started) await waitPort(p.port);
  for (const d of direct) pids[d.name] = d.pid;
  const proxies = started.concat(direct);
  const rows = Object.fromEntries(proxies.map((p) => [p.name, []]));
  const f = (v, d = 3) => (v === undefined ? '?' : Number(v).toFixed(d)).padStart(8);
  const cpu = MODE === 'cpu';
  console.log(`offered rate ${RATE} req/s for ${DURATION}, open loop, 50 ${TLS ? 'TLS ' : ''}keep-alive connections (sluice-bench), ${ROUNDS} interleaved rounds`);
  console.log(PIN ? `pinned (taskset): proxies on CPU ${PROXY_CPU}; backend and sluice-bench on CPU ${LOAD_CPU}` : 'not pinned');
  if (cpu) console.log('CPU microseconds per response (user + system = total, /proc/PID/stat); backend and sluice-bench for reference');
  console.log(cpu ? 'round proxy     responses     user      sys    total  x nginx  backend    bench'
    : 'round proxy      requests   p50 ms   p90 ms   p99 ms  p99.9 ms   max ms   p99 x nginx');
  const line = (label, r, ng) => console.log(cpu
    ? `${label.padEnd(5)} ${r.name.padEnd(10)} ${String(r.responses).padStart(8)} ${f(r.user_us, 2)} ${f(r.sys_us, 2)} ${f(r.cpu_us, 2)} ${(r.cpu_us / ng.cpu_us).toFixed(2).padStart(8)} ${f(r.backend_us, 2)} ${f(r.bench_us, 2)}`
    : `${label.padEnd(5)} ${r.name.padEnd(10)} ${String(r.responses).padStart(8)} ${f(r.p50)} ${f(r.p90)} ${f(r.p99)} ${f(r.p999)} ${f(r.max)}   ${(r.p99 / ng.p99).toFixed(2)}`);
  for (let i = 1; i <= ROUNDS; i++) {
    const round = [];
    for (const p of proxies) round.push(await measureAtRate(p.name, p.port, pids[p.name], backendPid));
    const ng = round.find((r) => r.name === 'nginx');
    for (const r of round) {
      rows[r.name].push(r);
      line(String(i), r, ng);
    }
  }
  const median = (xs) => {
    const v = [...xs].sort((a, b) => a - b);
    return v.length % 2 ? v[(v.length - 1) / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
  };
  const keys = ['responses', 'p50', 'p90', 'p99', 'p999', 'max', 'user_us', 'sys_us', 'cpu_us', 'backend_us', 'bench_us'];
  const meds = Object.fromEntries(proxies.map((p) => [p.name, Object.fromEntries([['name', p.name], ...keys.map((k) => [k, median(rows[p.name].map((r) => r[k]))])])]));
  for (const p of proxies) line('med', { ...meds[p.name], responses: '' }, meds.nginx);
  if (args.includes('--json')) console.log(JSON.stringify(rows));
}

function sluiceToml(port, backendPort, workers, tls = null) {
  return `[global]
workers = ${workers}
access_log = "off"
state_dir = "${dir}/state"
[admin]
socket = "${dir}/admin-${workers}.sock"
[limits]
max_connections = ${CONNS + 1000}
keepalive_timeout = "300s"
[[listener]]
listen = "127.0.0.1:${port}"
${tls ? `tls = true
[tls]
min_version = "1.2"
[[tls.certificate]]
cert = "${tls.cert}"
key = "${tls.key}"
` : ''}[pool.b]
servers = ["127.0.0.1:${backendPort}"]
keepalive = 64
[[route]]
name = "all"
split = { b = 100 }
`;
}

async function scale(backendPort, backendPid) {
  const out = [];
  for (const workers of [1, 2]) {
    const port = await freePort();
    fs.writeFileSync(path.join(dir, `sluice-${workers}.toml`), sluiceToml(port, backendPort, workers));
    const sl = start(SLUICE, ['-c', path.join(dir, `sluice-${workers}.toml`)], `sluice-${workers}`);
    await waitPort(port);
    cp.execFileSync('wrk', ['-t2', '-c100', '-d2s', `http://127.0.0.1:${port}/`]); // warm-up
    const s0 = cpuTicks(sl.pid);
    const b0 = cpuTicks(backendPid);
    const t = runTimed('wrk', ['-t2', '-c100', `-d${DURATION}`, `http://127.0.0.1:${port}/`]);
    const s1 = cpuTicks(sl.pid);
    const b1 = cpuTicks(backendPid);
    const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(t.stdout)[1]);
    const n = Number(/(\d+) requests in/.exec(t.stdout)[1]);
    const per = (ticks) => (ticks * TICK_US) / n;
    const r = { workers, rps, sluice_us: per(spent(s0, s1)), backend_us: per(spent(b0, b1)), wrk_us: per(t.user + t.sys) };
    r.sum_us = r.sluice_us + r.backend_us + r.wrk_us;
    out.push(r);
    sl.kill('SIGTERM');
    await sleep(500);
  }
  const ncpu = os.cpus().length;
  console.log(`sluice workers scaling: wrk -t2 -c100 -d${DURATION}, nothing pinned (${ncpu} CPUs shared by wrk, the backend and sluice)`);
  console.log('CPU microseconds per request (/proc, user + system) of each process; ceiling = all CPUs / their sum');
  const ceiling = (r) => (ncpu * 1e6) / r.sum_us;
  for (const r of out) {
    console.log(`workers=${r.workers}  ${r.rps.toFixed(0).padStart(6)} req/s   sluice ${r.sluice_us.toFixed(1)}  backend ${r.backend_us.toFixed(1)}  wrk ${r.wrk_us.toFixed(1)}  sum ${r.sum_us.toFixed(1)}  ceiling ${ceiling(r).toFixed(0)} req/s`);
  }
  console.log(`2 workers / 1 worker: ${(out[1].rps / out[0].rps).toFixed(2)}x (the ceiling at one worker's costs is ${(ceiling(out[0]) / out[0].rps).toFixed(2)}x one worker's rate)`);
  if (args.includes('--json')) console.log(JSON.stringify(out));
}

main()
  .catch((e) => {
    for (const f of fs.readdirSync(dir).filter((x) => x.endsWith('.err'))) console.error(f, fs.readFileSync(path.join(dir, f), 'utf8').slice(-500));
    console.error(`side-by-side: ${e.stack || e}`);
    process.exitCode = 1;
  })
  .finally(() => {
    for (const c of children) c.kill('SIGKILL');
    fs.rmSync(dir, { recursive: true, force: true });
  });
