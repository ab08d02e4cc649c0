'use strict';
// Integration-test harness: real sluice binary, real Node upstreams, real clients.
//
// Everything a test starts (sluice, upstreams, nginx, child processes, temp dirs)
// is registered here and torn down by cleanup(), which every test file calls from
// after(). All waits are bounded. Only 127.0.0.1 / ::1 are ever used.

const assert = require('node:assert/strict');
const cp = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const http = require('node:http');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '..', '..', '..');
const SLUICE_BIN = path.resolve(ROOT, process.env.SLUICE_BIN || 'build/sluice');

const started = []; // { name, stop: async () => void }

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function sha256(buf) {
  return crypto.createHash('sha256').update(buf).digest('hex');
}

// Poll pred() every `every` ms until it returns truthy or `timeout` ms pass.
async function waitFor(pred, { timeout = 5000, every = 20, what = 'condition' } = {}) {
  const end = Date.now() + timeout;
  for (;;) {
    const v = await pred();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out after ${timeout} ms waiting for ${what}`);
    await sleep(every);
  }
}

function withTimeout(promise, ms, what) {
  let t;
  return Promise.race([
    promise,
    new Promise((_, rej) => {
      t = setTimeout(() => rej(new Error(`timed out after ${ms} ms: ${what}`)), ms);
    }),
  ]).finally(() => clearTimeout(t));
}

function tmpDir(prefix = 'sluice-it-') {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  started.push({ name: `rm ${dir}`, stop: async () => fs.rmSync(dir, { recursive: true, force: true }), late: true });
  return dir;
}

// Ask the OS for a free port: listen on port 0, read it, close.
function freePort(host = '127.0.0.1') {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen({ port: 0, host, exclusive: true }, () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

function hasIPv6Loopback() {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.on('error', () => resolve(false));
    srv.listen({ port: 0, host: '::1' }, () => srv.close(() => resolve(true)));
  });
}

// ---------------------------------------------------------------------------
// Upstream: a Node http server that describes each request it got as JSON.
//
// Per-request behaviour is chosen by the path, so one upstream serves many tests:
//   /status/NNN          answer with status NNN
//   /delay/MS            answer after MS ms
//   /hang                never answer (socket kept open)
//   /close               destroy the socket without answering
//   /rawhop              a raw response full of hop-by-hop headers, then close
//   /rawbad/KIND         a malformed raw response (RAW_BAD[KIND]), then close
//   /big/BYTES           BYTES of deterministic data, Content-Length, with backpressure
//   /chunked/N/SIZE      N chunks of SIZE bytes, Transfer-Encoding: chunked (X-Body-Sha256 header)
//   /slowread/MS         wait MS ms before reading the request body
//   anything else        200 with the JSON description
// Options:
//   pool                 X-Pool response header value
//   headers              extra response headers on every response (e.g. Server, X-Powered-By)
//   status               default status (200)
//   keepAliveTimeout     Node's server.keepAliveTimeout (default: Node's 5000)
//   onRequest(req,res,info) return true when it handled the request itself
//   echoUpgrade          answer Upgrade requests with 101 and echo bytes (default true)
function bigBody(n) {
  // Deterministic, non-repeating-ish content so truncation or reordering shows in the hash.
  const buf = Buffer.allocUnsafe(n);
  let x = 0x12345678;
  for (let i = 0; i < n; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    buf[i] = x >>> 24;
  }
  return buf;
}

const BEHAVIOURS = new Set(['status', 'delay', 'hang', 'close', 'rawhop', 'rawbad', 'big', 'chunked', 'slowread']);
// Responses no proxy may pass on (found by tests/fuzz/http_response_fuzz).
const RAW_BAD = {
  nocode: 'HTTP/1.1 \r\nContent-Length: 2\r\n\r\nok', // no status code
  twodigits: 'HTTP/1.1 20 OK\r\nContent-Length: 2\r\n\r\nok', // a status code is 3 digits
  emptyname: 'HTTP/1.1 200 OK\r\n: x\r\nContent-Length: 2\r\n\r\nok', // header with no name
};

async function startUpstream(opts = {}) {
  const requests = [];
  const sockets = new Set();
  const upgrades = [];
  const server = http.createServer();
  if (opts.keepAliveTimeout !== undefined) server.keepAliveTimeout = opts.keepAliveTimeout;
  server.headersTimeout = 30000;
  server.requestTimeout = 0;
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  const baseHeaders = () => {
    const h = { ...(opts.headers || {}) };
    if (opts.pool) h['X-Pool'] = opts.pool;
    return h;
  };

  server.on('request', (req, res) => {
    const info = {
      method: req.method,
      url: req.url,
      httpVersion: req.httpVersion,
      headers: req.headers,
      rawHeaders: req.rawHeaders,
      socket: req.socket.remotePort,
      body_length: 0,
      body_sha256: null,
      complete: false,
      aborted: false,
      time: Date.now(),
    };
    requests.push(info);
    // The first path segment that names a behaviour picks it, so route prefixes
    // like /slow/hang or /p/delay/100 work; the segments after it are its arguments.
    const u = new URL(req.url, 'http://x');
    const segs = u.pathname.split('/').filter(Boolean);
    const k = segs.findIndex((x) => BEHAVIOURS.has(x));
    const parts = k < 0 ? [] : segs.slice(k);

    const readBody = () =>
      new Promise((resolve) => {
        const h = crypto.createHash('sha256');
        req.on('data', (d) => {
          info.body_length += d.length;
          h.update(d);
        });
        req.on('end', () => {
          info.complete = true;
          info.body_sha256 = h.digest('hex');
          resolve();
        });
        req.on('aborted', () => {
          info.aborted = true;
          resolve();
        });
        req.on('error', () => {
          info.aborted = true;
          resolve();
        });
        req.on('close', () => resolve());
      });

    const respondJson = (status) => {
      const body = Buffer.from(
        JSON.stringify({
          method: info.method,
          url: info.url,
          headers: info.headers,
          body_length: info.body_length,
          body_sha256: info.body_sha256,
          socket: info.socket,
          pool: opts.pool || null,
        }),
      );
      res.writeHead(status, { ...baseHeaders(), 'Content-Type': 'application/json', 'Content-Length': body.length });
      res.end(body);
    };

    if (opts.onRequest && opts.onRequest(req, res, info)) return;

    (async () => {
      if (parts[0] === 'slowread') {
        req.pause();
        await sleep(Number(parts[1] || 2000));
        req.resume();
      }
      await readBody();
      if (!info.complete) return;
      switch (parts[0]) {
        case 'status':
          return respondJson(Number(parts[1]));
        case 'delay':
          await sleep(Number(parts[1]));
          if (!res.destroyed) respondJson(opts.status || 200);
          return;
        case 'hang':
          return; // never answer
        case 'close':
          req.socket.destroy();
          return;
        case 'rawhop':
          // Hand-written response with every kind of hop-by-hop header, then close.
          req.socket.end(
            'HTTP/1.1 200 OK\r\n' +
              'Content-Type: text/plain\r\n' +
              'Content-Length: 2\r\n' +
              'Connection: close, X-Hop-Resp\r\n' +
              'X-Hop-Resp: secret\r\n' +
              'Keep-Alive: timeout=5, max=777\r\n' +
              'Proxy-Connection: keep-alive\r\n' +
              'TE: trailers\r\n' +
              'Trailer: X-Never\r\n' +
              'Upgrade: h2c\r\n' +
              'X-End-To-End: kept\r\n' +
              (opts.pool ? `X-Pool: ${opts.pool}\r\n` : '') +
              '\r\nok',
          );
          return;
        case 'rawbad':
          req.socket.end(RAW_BAD[parts[1]] || 'not http at all\r\n\r\n');
          return;
        case 'big': {
          const body = bigBody(Number(parts[1]));
          res.writeHead(200, {
            ...baseHeaders(),
            'Content-Type': 'application/octet-stream',
            'Content-Length': body.length,
            'X-Body-Sha256': sha256(body),
          });
          // Write in 64 KiB pieces honouring backpressure, like a real app streaming a file.
          let off = 0;
          const pump = () => {
            while (off < body.length) {
              const piece = body.subarray(off, off + 65536);
              off += piece.length;
              if (!res.write(piece)) return res.once('drain', pump);
            }
            res.end();
          };
          return pump();
        }
        case 'chunked': {
          const n = Number(parts[1] || 5);
          const size = Number(parts[2] || 1000);
          const body = bigBody(n * size);
          res.writeHead(200, { ...baseHeaders(), 'Content-Type': 'application/octet-stream', 'X-Body-Sha256': sha256(body) });
          for (let i = 0; i < n; i++) {
            res.write(body.subarray(i * size, (i + 1) * size));
            await sleep(5);
          }
          res.end();
          return;
        }
        default:
          return respondJson(opts.status || 200);
      }
    })().catch((e) => {
      info.error = String(e);
      try { res.destroy(); } catch { /* ignore */ }
    });
  });

  if (opts.echoUpgrade !== false) {
    server.on('upgrade', (req, socket, head) => {
      upgrades.push({ url: req.url, headers: req.headers });
      requests.push({ method: req.method, url: req.url, headers: req.headers, upgrade: true, socket: socket.remotePort });
      socket.write(
        'HTTP/1.1 101 Switching Protocols\r\n' +
          `Upgrade: ${req.headers.upgrade}\r\n` +
          'Connection: Upgrade\r\n' +
          (opts.pool ? `X-Pool: ${opts.pool}\r\n` : '') +
          '\r\n',
      );
      if (head && head.length) socket.write(head);
      socket.on('data', (d) => socket.write(d)); // echo byte for byte
      socket.on('error', () => {});
    });
  }

  const host = opts.host || '127.0.0.1';
  const port = opts.port || (await freePort(host));
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ port, host }, resolve);
  });
  const up = {
    port,
    host,
    addr: host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`,
    server,
    requests,
    upgrades,
    sockets,
    stop: async () => {
      for (const s of sockets) s.destroy();
      await new Promise((r) => server.close(() => r()));
    },
    // Requests whose URL starts with the prefix.
    seen: (prefix) => requests.filter((r) => r.url.startsWith(prefix)),
  };
  started.push({ name: `upstream :${port}`, stop: up.stop });
  return up;
}

// ---------------------------------------------------------------------------
// sluice

// A config with everything a test usually needs. `{{dir}}` is replaced by
// startSluice with its temp dir.
function sluiceToml({
  port,
  servers = [],
  pools, // { name: [addr...] } or { name: { servers: [...], extra: 'toml lines' } }
  routes, // TOML text for [[route]] tables; default: one route to every pool
  global = {},
  limits = {},
  headers, // TOML text for [headers]
  listeners, // TOML text replacing the default listener
  pool = {}, // extra keys for the default pool
} = {}) {
  const val = (v) => (typeof v === 'string' ? JSON.stringify(v) : Array.isArray(v) ? JSON.stringify(v) : String(v));
  const lines = [];
  lines.push('[global]');
  const g = { workers: 1, state_dir: '{{dir}}/state', drain_timeout: '5s', ...global };
  for (const [k, v] of Object.entries(g)) lines.push(`${k} = ${val(v)}`);
  lines.push('', '[admin]', 'socket = "{{dir}}/admin.sock"', '');
  if (Object.keys(limits).length) {
    lines.push('[limits]');
    for (const [k, v] of Object.entries(limits)) lines.push(`${k} = ${val(v)}`);
    lines.push('');
  }
  if (listeners) lines.push(listeners, '');
  else lines.push('[[listener]]', `listen = "127.0.0.1:${port}"`, '');
  if (headers) lines.push('[headers]', headers, '');
  const ps = pools || { app: { servers, ...pool } };
  for (const [name, p] of Object.entries(ps)) {
    const spec = Array.isArray(p) ? { servers: p } : p;
    lines.push(`[pool.${name}]`);
    for (const [k, v] of Object.entries(spec)) {
      if (k === 'extra') lines.push(v);
      else lines.push(`${k} = ${val(v)}`);
    }
    lines.push('');
  }
  if (routes) lines.push(routes);
  else {
    const names = Object.keys(ps);
    lines.push('[[route]]', 'name = "app"', `split = { ${names.map((n) => `${n} = ${Math.floor(100 / names.length)}`).join(', ')} }`, `baseline = "${names[0]}"`);
  }
  return lines.join('\n') + '\n';
}

function listenAddrs(toml) {
  const out = [];
  const re = /^\s*listen\s*=\s*"([^"]+)"/gm;
  let m;
  while ((m = re.exec(toml))) {
    const s = m[1];
    const v6 = /^\[([^\]]+)\]:(\d+)$/.exec(s);
    if (v6) out.push({ host: v6[1], port: Number(v6[2]) });
    else {
      const i = s.lastIndexOf(':');
      let host = s.slice(0, i);
      if (host === '0.0.0.0' || host === '*') host = '127.0.0.1';
      out.push({ host, port: Number(s.slice(i + 1)) });
    }
  }
  return out;
}

function canConnect(host, port, ms = 500) {
  return new Promise((resolve) => {
    const s = net.connect({ host, port });
    const done = (ok) => {
      clearTimeout(t);
      s.destroy();
      resolve(ok);
    };
    const t = setTimeout(() => done(false), ms);
    s.on('connect', () => done(true));
    s.on('error', () => done(false));
  });
}

const SANITIZER_RE = /(ERROR: (Address|Leak|Thread|Memory)Sanitizer|runtime error: |SUMMARY: (Address|Undefined|Leak)\w*Sanitizer)/;

// Start the real binary with the given TOML text. Waits (bounded) until every
// listener accepts. Returns a handle with log accessors and stop().
async function startSluice(tomlText, { args = [], env = {}, waitListening = true, timeout = 10000 } = {}) {
  if (!fs.existsSync(SLUICE_BIN)) {
    throw new Error(`sluice binary not found at ${SLUICE_BIN} (build it: meson setup build && ninja -C build, or set SLUICE_BIN)`);
  }
  const dir = tmpDir('sluice-run-');
  fs.mkdirSync(path.join(dir, 'state'), { recursive: true });
  const toml = tomlText.replaceAll('{{dir}}', dir);
  const cfg = path.join(dir, 'sluice.toml');
  fs.writeFileSync(cfg, toml);
  const child = cp.spawn(SLUICE_BIN, ['-c', cfg, ...args], {
    cwd: dir,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const s = {
    child,
    pid: child.pid,
    dir,
    configPath: cfg,
    toml,
    stdout: '',
    stderr: '',
    exited: null, // { code, signal } once exited
    exitPromise: null,
    listen: listenAddrs(toml),
  };
  s.port = s.listen[0] && s.listen[0].port;
  child.stdout.setEncoding('utf8');
  child.stderr.setEncoding('utf8');
  child.stdout.on('data', (d) => (s.stdout += d));
  child.stderr.on('data', (d) => (s.stderr += d));
  s.exitPromise = new Promise((resolve) => {
    child.on('exit', (code, signal) => {
      s.exited = { code, signal };
      resolve(s.exited);
    });
    child.on('error', (e) => {
      s.exited = { code: -1, signal: null, error: e };
      resolve(s.exited);
    });
  });
  const parseLines = (text) =>
    text
      .split('\n')
      .filter((l) => l.trim())
      .map((l) => {
        try {
          return JSON.parse(l);
        } catch {
          return { _unparsed: l };
        }
      });
  s.accessLog = () => parseLines(s.stdout);
  s.events = () => parseLines(s.stderr);
  s.rss = () => rssKiB(child.pid);
  s.sanitizerReport = () => (SANITIZER_RE.test(s.stderr) ? s.stderr : null);
  // Wait for exit (bounded); resolves to {code, signal}.
  s.waitExit = (ms = 10000) => withTimeout(s.exitPromise, ms, `sluice pid ${child.pid} to exit`);
  s.kill = (sig = 'SIGTERM') => {
    if (!s.exited) child.kill(sig);
  };
  s.stop = async () => {
    if (!s.exited) {
      child.kill('SIGTERM');
      try {
        await withTimeout(s.exitPromise, 8000, 'sluice to exit after SIGTERM');
      } catch {
        child.kill('SIGKILL');
        await withTimeout(s.exitPromise, 5000, 'sluice to exit after SIGKILL').catch(() => {});
      }
    }
    const rep = s.sanitizerReport();
    if (rep) throw new Error(`sanitizer report from sluice:\n${rep.slice(-6000)}`);
  };
  started.push({ name: `sluice pid ${child.pid}`, stop: s.stop });

  if (waitListening) {
    const end = Date.now() + timeout;
    for (const l of s.listen) {
      for (;;) {
        if (s.exited) {
          throw new Error(`sluice exited early (${JSON.stringify(s.exited)}).\nconfig:\n${toml}\nstderr:\n${s.stderr.slice(-4000)}`);
        }
        if (await canConnect(l.host, l.port)) break;
        if (Date.now() > end) {
          throw new Error(`sluice did not accept on ${l.host}:${l.port} within ${timeout} ms.\nstderr:\n${s.stderr.slice(-4000)}`);
        }
        await sleep(25);
      }
    }
  }
  return s;
}

// Run the binary to completion (e.g. --version, --check). Bounded.
function runSluice(args, { timeout = 15000, env = {} } = {}) {
  return runCmd(SLUICE_BIN, args, { timeout, env });
}

function runCmd(cmd, args, { timeout = 15000, env = {}, cwd = ROOT, input } = {}) {
  return new Promise((resolve, reject) => {
    const child = cp.spawn(cmd, args, { cwd, env: { ...process.env, ...env }, stdio: [input ? 'pipe' : 'ignore', 'pipe', 'pipe'] });
    const rec = { name: `${cmd} pid ${child.pid}`, stop: async () => { if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL'); } };
    started.push(rec);
    let stdout = Buffer.alloc(0);
    let stderr = '';
    child.stdout.on('data', (d) => (stdout = Buffer.concat([stdout, d])));
    child.stderr.on('data', (d) => (stderr += d));
    if (input) child.stdin.end(input);
    const t = setTimeout(() => {
      child.kill('SIGKILL');
    }, timeout);
    child.on('error', (e) => {
      clearTimeout(t);
      reject(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(t);
      resolve({ code, signal, stdout: stdout.toString('utf8'), stdoutBuf: stdout, stderr, timedOut: signal === 'SIGKILL' });
    });
  });
}

// curl with the given args (always -sS and a max time). Returns {code, stdout, stderr}.
function curl(args, { timeout = 15000 } = {}) {
  return runCmd('curl', ['-sS', '--max-time', String(Math.ceil(timeout / 1000)), ...args], { timeout: timeout + 2000 });
}

// curl -i style helper: returns {status, headers (lower-case, arrays joined by ', '), body}
async function curlRequest(url, extraArgs = [], opts) {
  const r = await curl(['-i', '--http1.1', ...extraArgs, url], opts);
  if (r.code !== 0) return { error: r.stderr, code: r.code };
  const parsed = parseResponses(r.stdoutBuf, { method: extraArgs.includes('-I') ? 'HEAD' : 'GET', allowIncomplete: true });
  return parsed.responses[parsed.responses.length - 1];
}

// ---------------------------------------------------------------------------
// Raw client

// Connect, write `bytes` (a string/Buffer or an array of them written with
// `gap` ms between), collect everything until the peer closes or `timeout` ms
// pass (or until `until(buf)` is true). Returns {data: Buffer, closed, reset, timedOut, elapsed}.
function rawRequest(port, bytes, { timeout = 3000, host = '127.0.0.1', until, gap = 0, endAfterWrite = false } = {}) {
  return new Promise((resolve) => {
    const t0 = Date.now();
    const sock = net.connect({ host, port });
    let data = Buffer.alloc(0);
    let done = false;
    const res = { closed: false, reset: false, timedOut: false, connectError: null };
    const finish = () => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.destroy();
      resolve({ ...res, data, text: data.toString('latin1'), elapsed: Date.now() - t0 });
    };
    const timer = setTimeout(() => {
      res.timedOut = true;
      finish();
    }, timeout);
    sock.on('connect', async () => {
      const pieces = Array.isArray(bytes) ? bytes : [bytes];
      for (let i = 0; i < pieces.length; i++) {
        if (done || sock.destroyed) return;
        sock.write(pieces[i]);
        if (gap && i < pieces.length - 1) await sleep(gap);
      }
      if (endAfterWrite && !done) sock.end();
    });
    sock.on('data', (d) => {
      data = Buffer.concat([data, d]);
      if (until && until(data)) finish();
    });
    sock.on('end', () => {
      res.closed = true;
      finish();
    });
    sock.on('error', (e) => {
      if (e.code === 'ECONNRESET' || e.code === 'EPIPE') {
        res.reset = true;
        res.closed = true;
      } else res.connectError = e.code || String(e);
      finish();
    });
    sock.on('close', () => {
      res.closed = true;
      finish();
    });
  });
}

// An open raw connection for step-by-step tests.
function rawConnect(port, { host = '127.0.0.1', timeout = 3000 } = {}) {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host, port });
    const c = {
      sock,
      data: Buffer.alloc(0),
      closed: false,
      reset: false,
      text: () => c.data.toString('latin1'),
      write: (b) => sock.write(b),
      // Wait until pred(dataBuffer) or close; bounded.
      waitFor: (pred, ms = 3000) => waitFor(() => pred(c.data) || c.closed, { timeout: ms, every: 5, what: 'raw connection data' }).then(() => c),
      waitClosed: (ms = 3000) => waitFor(() => c.closed, { timeout: ms, every: 10, what: 'connection close' }).then(() => c),
      responses: (method) => parseResponses(c.data, { method, allowIncomplete: true }).responses,
      close: () => sock.destroy(),
    };
    started.push({ name: 'raw socket', stop: async () => sock.destroy() });
    const t = setTimeout(() => {
      sock.destroy();
      reject(new Error('connect timeout'));
    }, timeout);
    sock.on('connect', () => {
      clearTimeout(t);
      resolve(c);
    });
    sock.on('data', (d) => (c.data = Buffer.concat([c.data, d])));
    sock.on('error', (e) => {
      if (e.code === 'ECONNRESET' || e.code === 'EPIPE') c.reset = true;
      c.closed = true;
      clearTimeout(t);
      reject(e);
    });
    sock.on('close', () => (c.closed = true));
    sock.on('end', () => (c.closed = true));
  });
}

// Parse a byte stream of HTTP/1.x responses. Returns {responses, rest, incomplete}.
// Each response: {status, version, reason, headers (lower-case name → value, repeated
// joined with ', '), rawHeaders [[name, value]...], body (Buffer), chunked}.
// 1xx responses are returned as their own entries.
function parseResponses(buf, { method = 'GET', allowIncomplete = false, closeDelimited = true } = {}) {
  const responses = [];
  let off = 0;
  for (;;) {
    const headEnd = buf.indexOf('\r\n\r\n', off, 'latin1');
    if (headEnd < 0) break;
    const head = buf.subarray(off, headEnd).toString('latin1');
    const lines = head.split('\r\n');
    const m = /^HTTP\/(\d\.\d) (\d{3})(?: (.*))?$/.exec(lines[0]);
    if (!m) throw new Error(`bad status line: ${JSON.stringify(lines[0])}`);
    const r = { version: m[1], status: Number(m[2]), reason: m[3] || '', headers: {}, rawHeaders: [], body: Buffer.alloc(0), chunked: false };
    for (const l of lines.slice(1)) {
      const i = l.indexOf(':');
      const name = l.slice(0, i).trim().toLowerCase();
      const value = l.slice(i + 1).trim();
      r.rawHeaders.push([l.slice(0, i), value]);
      r.headers[name] = name in r.headers ? `${r.headers[name]}, ${value}` : value;
    }
    let p = headEnd + 4;
    const noBody = method === 'HEAD' || (r.status >= 100 && r.status < 200) || r.status === 204 || r.status === 304;
    if (noBody) {
      // nothing
    } else if (/chunked/i.test(r.headers['transfer-encoding'] || '')) {
      r.chunked = true;
      const parts = [];
      let ok = false;
      for (;;) {
        const le = buf.indexOf('\r\n', p, 'latin1');
        if (le < 0) break;
        const size = parseInt(buf.subarray(p, le).toString('latin1').split(';')[0], 16);
        if (Number.isNaN(size)) throw new Error('bad chunk size');
        p = le + 2;
        if (size === 0) {
          // trailers until empty line
          const te = buf.indexOf('\r\n\r\n', p - 2, 'latin1');
          if (te < 0) break;
          p = te + 4;
          ok = true;
          break;
        }
        if (p + size + 2 > buf.length) break;
        parts.push(buf.subarray(p, p + size));
        p += size + 2;
      }
      r.body = Buffer.concat(parts);
      if (!ok) {
        r.incomplete = true;
        if (!allowIncomplete) throw new Error('incomplete chunked body');
        responses.push(r);
        return { responses, rest: Buffer.alloc(0), incomplete: true };
      }
    } else if (r.headers['content-length'] !== undefined) {
      const n = Number(r.headers['content-length']);
      if (p + n > buf.length) {
        r.body = buf.subarray(p);
        r.incomplete = true;
        if (!allowIncomplete) throw new Error('incomplete body');
        responses.push(r);
        return { responses, rest: Buffer.alloc(0), incomplete: true };
      }
      r.body = buf.subarray(p, p + n);
      p += n;
    } else if (closeDelimited) {
      r.body = buf.subarray(p);
      r.closeDelimited = true;
      p = buf.length;
    }
    responses.push(r);
    off = p;
  }
  return { responses, rest: buf.subarray(off), incomplete: off < buf.length };
}

// Count complete responses in a buffer (for `until`).
function completeResponses(n, method) {
  return (buf) => {
    try {
      const r = parseResponses(buf, { method, allowIncomplete: true, closeDelimited: false });
      return r.responses.filter((x) => !x.incomplete && x.status >= 200).length >= n;
    } catch {
      return false;
    }
  };
}

// node:http request with no agent (one connection per call). Resolves to
// {status, headers, body: Buffer}. Bounded by timeout.
function request(port, { method = 'GET', path: p = '/', headers = {}, body, host = '127.0.0.1', timeout = 10000, agent = false } = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host, port, method, path: p, headers, agent }, (res) => {
      const chunks = [];
      res.on('data', (d) => chunks.push(d));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks), socketPort: res.socket && res.socket.localPort }));
      res.on('error', reject);
    });
    req.setTimeout(timeout, () => req.destroy(new Error(`request timeout after ${timeout} ms`)));
    req.on('error', reject);
    if (body !== undefined) req.end(body);
    else req.end();
  });
}

function json(res) {
  return JSON.parse(res.body.toString('utf8'));
}

// True when the sluice under test is built with AddressSanitizer, whose
// allocator keeps freed memory in quarantine and adds shadow pages: its RSS
// then says little about sluice's own memory.
let sanitized;
function sanitizedBuild() {
  if (sanitized === undefined) sanitized = fs.readFileSync(SLUICE_BIN).includes('__asan_init');
  return sanitized;
}

function rssKiB(pid) {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

// ---------------------------------------------------------------------------
// nginx (Debian's nginx-light), as the current user, everything in a temp dir.
async function startNginx(serverBlock, { port }) {
  const dir = tmpDir('sluice-nginx-');
  for (const d of ['body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']) fs.mkdirSync(path.join(dir, d));
  const userLine = process.getuid && process.getuid() === 0 ? 'user root;' : '';
  const conf = `
${userLine}
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log info;
events { worker_connections 64; }
http {
  access_log off;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  server {
    listen 127.0.0.1:${port};
${serverBlock}
  }
}
`;
  const cfg = path.join(dir, 'nginx.conf');
  fs.writeFileSync(cfg, conf);
  const child = cp.spawn('nginx', ['-e', `${dir}/error.log`, '-p', dir, '-c', cfg, '-g', 'daemon off; master_process on;'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  let exited = null;
  const exitP = new Promise((r) => child.on('exit', (code, signal) => r((exited = { code, signal }))));
  const stop = async () => {
    if (!exited) {
      child.kill('SIGTERM');
      await withTimeout(exitP, 5000, 'nginx exit').catch(() => child.kill('SIGKILL'));
    }
  };
  started.push({ name: `nginx pid ${child.pid}`, stop });
  await waitFor(
    async () => {
      if (exited) throw new Error(`nginx exited: ${JSON.stringify(exited)} ${stderr} ${fs.existsSync(`${dir}/error.log`) ? fs.readFileSync(`${dir}/error.log`, 'utf8') : ''}`);
      return canConnect('127.0.0.1', port);
    },
    { timeout: 10000, what: 'nginx to listen' },
  );
  return { port, dir, child, stop };
}

// Tear down everything this test file started, newest first; temp dirs last.
async function cleanup() {
  const errors = [];
  const items = started.splice(0, started.length).reverse();
  const late = items.filter((i) => i.late);
  for (const it of items.filter((i) => !i.late).concat(late)) {
    try {
      await it.stop();
    } catch (e) {
      errors.push(`${it.name}: ${e.message}`);
    }
  }
  if (errors.length) throw new Error(`cleanup problems:\n${errors.join('\n')}`);
}

// Safety net: never leave children behind, even when the runner kills us.
process.on('exit', () => {
  for (const it of started) {
    if (it.name.startsWith('sluice pid ') || it.name.startsWith('nginx pid ')) {
      try {
        process.kill(Number(it.name.split(' ').pop()), 'SIGKILL');
      } catch { /* already gone */ }
    }
  }
});

module.exports = {
  RAW_BAD,
  ROOT,
  SLUICE_BIN,
  assert,
  sleep,
  sha256,
  bigBody,
  waitFor,
  withTimeout,
  tmpDir,
  freePort,
  hasIPv6Loopback,
  startUpstream,
  sluiceToml,
  startSluice,
  runSluice,
  runCmd,
  curl,
  curlRequest,
  rawRequest,
  rawConnect,
  canConnect,
  parseResponses,
  completeResponses,
  request,
  json,
  rssKiB,
  sanitizedBuild,
  startNginx,
  cleanup,
};
