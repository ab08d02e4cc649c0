'use strict';
// The status page's canary scenario and headless Chromium, shared by
// status_page.test.js and scripts/status-screenshot: a blue pool answering
// 200 and a canary whose answers can be switched to 500, sluice splitting
// between them with a low min_requests and serving the status page on
// metrics_listen. Builds on harness.js; everything bounded.

const fs = require('node:fs');
const h = require('./harness');
const A = require('./admin');

const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';

// Starts the upstreams and sluice. `canary.fail = true` makes the canary answer 500.
async function startCanaryScenario({ split = { blue: 90, canary: 10 }, minRequests = 10, workers = 1 } = {}) {
  const canaryCtl = { fail: true };
  const blue = await h.startUpstream({ pool: 'blue' });
  const canary = await h.startUpstream({
    pool: 'canary',
    onRequest: (req, res) => {
      req.resume();
      req.on('end', () => {
        if (res.destroyed) return;
        res.writeHead(canaryCtl.fail ? 500 : 200, { 'X-Pool': 'canary', 'Content-Type': 'text/plain', 'Content-Length': 2 });
        res.end(canaryCtl.fail ? 'no' : 'ok');
      });
      return true;
    },
  });
  const port = await h.freePort();
  const metricsPort = await h.freePort();
  const routes = `
[[route]]
name = "app"
path_prefix = "/"
split = { ${Object.entries(split).map(([p, w]) => `${p} = ${w}`).join(', ')} }
baseline = "blue"

[route.rollback]
error_rate = 0.05
min_requests = ${minRequests}
window = "30s"
`;
  const toml = h
    .sluiceToml({ port, global: { workers }, pools: { blue: [blue.addr], canary: [canary.addr] }, routes })
    .replace('socket = "{{dir}}/admin.sock"', `$&\nmetrics_listen = "127.0.0.1:${metricsPort}"`);
  const sl = await h.startSluice(toml);
  const sock = `${sl.dir}/admin.sock`;
  await h.waitFor(() => fs.existsSync(sock), { timeout: 5000, what: 'admin socket' });
  const tcp = { port: metricsPort };
  await h.waitFor(async () => (await A.adminRequest(tcp, 'GET', '/health/live').catch(() => ({}))).status === 200, {
    timeout: 5000,
    what: 'metrics listener',
  });
  return { sl, sock, port, tcp, metricsPort, blue, canary, canaryCtl, url: `http://127.0.0.1:${metricsPort}/` };
}

const rolledBack = (sl) => sl.events().some((e) => e.event === 'rollback');

// Sequential requests, `gapMs` apart, until `stop()` or `max` requests.
async function traffic(port, { gapMs = 5, max = 1000, stop = () => false } = {}) {
  let n = 0;
  while (n < max && !stop()) {
    await A.hit(port, { path: `/page/${n++}` });
    if (gapMs) await h.sleep(gapMs);
  }
  return n;
}

// Headless Chromium on `url` with extra `args` (--dump-dom, --screenshot=FILE).
// --virtual-time-budget lets the page's script fetch and render first.
async function chromium(url, args, { budgetMs = 4000, timeout = 90000, windowSize = '1280,900' } = {}) {
  const profile = h.tmpDir('sluice-chromium-');
  const r = await h.runCmd(
    CHROMIUM,
    [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--disable-dev-shm-usage',
      '--no-first-run',
      '--no-default-browser-check',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--disable-extensions',
      '--hide-scrollbars',
      `--user-data-dir=${profile}`,
      `--window-size=${windowSize}`,
      `--virtual-time-budget=${budgetMs}`,
      ...args,
      url,
    ],
    { timeout },
  );
  if (r.code !== 0) throw new Error(`chromium exited ${r.code} ${r.signal || ''}: ${r.stderr.slice(-2000)}`);
  return r;
}

module.exports = { CHROMIUM, startCanaryScenario, rolledBack, traffic, chromium };
