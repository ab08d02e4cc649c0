'use strict';
// Helpers for the traffic-splitting, rollback and admin API tests (split.test.js,
// rollback.test.js, admin.test.js). Builds on harness.js; everything bounded.

const fs = require('node:fs');
const http = require('node:http');
const path = require('node:path');
const h = require('./harness');

const SLUICECTL_BIN = process.env.SLUICECTL_BIN
  ? path.resolve(h.ROOT, process.env.SLUICECTL_BIN)
  : path.join(path.dirname(h.SLUICE_BIN), 'sluicectl');

// One HTTP/1.1 request over the admin Unix socket (or TCP with {port}).
// Resolves to {status, headers, text, json (parsed or undefined)}.
function adminRequest(target, method, p, body, { timeout = 5000, headers = {} } = {}) {
  return new Promise((resolve, reject) => {
    const opts = { method, path: p, headers: { Host: 'sluice', ...headers }, agent: false };
    if (typeof target === 'string') opts.socketPath = target;
    else {
      opts.host = target.host || '127.0.0.1';
      opts.port = target.port;
    }
    if (body !== undefined) {
      opts.headers['Content-Type'] = 'application/json';
      opts.headers['Content-Length'] = Buffer.byteLength(body);
    }
    const req = http.request(opts, (res) => {
      const chunks = [];
      res.on('data', (d) => chunks.push(d));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let parsed;
        try {
          parsed = JSON.parse(text);
        } catch {
          parsed = undefined;
        }
        resolve({ status: res.statusCode, headers: res.headers, text, json: parsed });
      });
      res.on('error', reject);
    });
    req.setTimeout(timeout, () => req.destroy(new Error(`admin ${method} ${p}: timeout after ${timeout} ms`)));
    req.on('error', reject);
    req.end(body);
  });
}

async function getStatus(sock) {
  const r = await adminRequest(sock, 'GET', '/v1/status');
  if (r.status !== 200 || !r.json) throw new Error(`GET /v1/status: ${r.status} ${r.text}`);
  return r.json;
}

async function getRoute(sock, name = 'app') {
  const s = await getStatus(sock);
  const r = (s.routes || []).find((x) => x.name === name);
  if (!r) throw new Error(`route ${name} not in status: ${JSON.stringify(s)}`);
  return r;
}

function setSplit(sock, route, weights, { dryRun = false } = {}) {
  return adminRequest(sock, 'PUT', `/v1/routes/${route}/split${dryRun ? '?dry_run=1' : ''}`, JSON.stringify(weights));
}

async function getMetrics(target) {
  const r = await adminRequest(target, 'GET', '/metrics');
  if (r.status !== 200) throw new Error(`GET /metrics: ${r.status} ${r.text}`);
  return r.text;
}

// Sum of every sample of `name` whose labels include all of `labels`.
function metricSum(text, name, labels = {}) {
  let sum = 0;
  let found = false;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([^}]*)\})?\s+(\S+)/.exec(line);
    if (!m || m[1] !== name) continue;
    const ls = {};
    for (const kv of (m[3] || '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) ls[kv[1]] = kv[2];
    if (Object.entries(labels).every(([k, v]) => ls[k] === v)) {
      sum += Number(m[4]);
      found = true;
    }
  }
  return found ? sum : null;
}

// Run sluicectl; resolves {code, stdout, stderr}.
function sluicectl(args, { timeout = 15000, env = {} } = {}) {
  if (!fs.existsSync(SLUICECTL_BIN)) throw new Error(`sluicectl not found at ${SLUICECTL_BIN} (set SLUICECTL_BIN)`);
  return h.runCmd(SLUICECTL_BIN, args, { timeout, env });
}

// One proxied request on a fresh connection. Returns {status, pool, headers, body}.
// Network errors are returned as {status: 0, error}.
function hit(port, { path: p = '/', headers = {}, localAddress, timeout = 10000, method = 'GET' } = {}) {
  return new Promise((resolve) => {
    const req = http.request(
      { host: '127.0.0.1', port, method, path: p, headers: { Host: 'app.test', ...headers }, agent: false, localAddress },
      (res) => {
        const chunks = [];
        res.on('data', (d) => chunks.push(d));
        res.on('end', () =>
          resolve({ status: res.statusCode, pool: res.headers['x-pool'] || null, headers: res.headers, body: Buffer.concat(chunks) }),
        );
        res.on('error', (e) => resolve({ status: 0, pool: null, error: String(e) }));
      },
    );
    req.setTimeout(timeout, () => req.destroy(new Error(`timeout after ${timeout} ms`)));
    req.on('error', (e) => resolve({ status: 0, pool: null, error: String(e) }));
    req.end();
  });
}

// Send n requests with at most `concurrency` in flight. Returns the list of results in
// order and a tally {pool: count} (pool null → "none:STATUS").
async function hitMany(port, n, { concurrency = 1, gapMs = 0, make = () => ({}) } = {}) {
  const results = new Array(n);
  let next = 0;
  const workers = [];
  for (let w = 0; w < Math.min(concurrency, n); w++) {
    workers.push(
      (async () => {
        for (;;) {
          const i = next++;
          if (i >= n) return;
          results[i] = await hit(port, { path: `/split/${i}`, ...make(i) });
          if (gapMs) await h.sleep(gapMs);
        }
      })(),
    );
  }
  await Promise.all(workers);
  return { results, tally: tally(results) };
}

function tally(results) {
  const t = {};
  for (const r of results) {
    const k = r.pool || `none:${r.status}`;
    t[k] = (t[k] || 0) + 1;
  }
  return t;
}

// A keep-alive agent-bound client: all requests on few connections.
function keepAliveAgent(maxSockets = 1) {
  return new http.Agent({ keepAlive: true, maxSockets });
}

// The event lines (stderr JSON) named `name`.
function eventsNamed(sl, name) {
  return sl.events().filter((e) => e.event === name || e.msg === name || e.type === name);
}

// A port with nothing listening on it (bound and closed at once).
async function deadPort() {
  return h.freePort();
}

module.exports = {
  SLUICECTL_BIN,
  adminRequest,
  getStatus,
  getRoute,
  setSplit,
  getMetrics,
  metricSum,
  sluicectl,
  hit,
  hitMany,
  tally,
  keepAliveAgent,
  eventsNamed,
  deadPort,
};
