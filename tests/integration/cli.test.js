'use strict';
// Command line: --version, --check (good and bad configs), conf/*.toml, scripts/demo.
const fs = require('node:fs');
const path = require('node:path');
const { test, after } = require('node:test');
const h = require('./lib/harness');
const { assert } = h;

after(h.cleanup);

test('--version prints a version and exits 0', async () => {
  const r = await h.runSluice(['--version']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout + r.stderr, /\d+\.\d+\.\d+/);
});

test('--check on every conf/*.toml exits 0', async () => {
  const dir = path.join(h.ROOT, 'conf');
  const files = fs.readdirSync(dir).filter((f) => f.endsWith('.toml'));
  assert.ok(files.length >= 2, `conf/ has example configs: ${files}`);
  for (const f of files) {
    const r = await h.runSluice(['--check', '-c', path.join(dir, f)]);
    assert.equal(r.code, 0, `sluice --check -c conf/${f}:\n${r.stdout}${r.stderr}`);
  }
});

test('--check on a good generated config exits 0 and starts nothing', async () => {
  const dir = h.tmpDir();
  const file = path.join(dir, 'good.toml');
  fs.writeFileSync(file, h.sluiceToml({ port: 8080, servers: ['127.0.0.1:3000'] }).replaceAll('{{dir}}', dir));
  const r = await h.runSluice(['--check', '-c', file], { timeout: 5000 });
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.ok(!r.timedOut);
});

test('--check on a bad config exits 1 and prints every problem as FILE:LINE:COL: key: message', async () => {
  const dir = h.tmpDir();
  const file = path.join(dir, 'bad.toml');
  fs.writeFileSync(
    file,
    [
      '[global]', //                                   1
      'workers = "two"', //                             2  wrong type
      'drain_timeout = "forever"', //                   3  bad duration
      '', //                                            4
      '[admin]', //                                     5
      `socket = "${dir}/admin.sock"`, //                6
      '', //                                            7
      '[[listener]]', //                                8
      'listen = "127.0.0.1:99999"', //                  9  port out of range
      '', //                                            10
      '[pool.app]', //                                  11
      'servers = ["127.0.0.1:3000"]', //                12
      'bogus_key = 1', //                               13 unknown key
      '', //                                            14
      '[[route]]', //                                   15
      'name = "app"', //                                16
      'split = { nope = 100 }', //                      17 unknown pool
      '',
    ].join('\n'),
  );
  const r = await h.runSluice(['--check', '-c', file]);
  assert.equal(r.code, 1, r.stdout + r.stderr);
  const out = r.stdout + r.stderr;
  const diag = out.split('\n').filter((l) => l.startsWith(`${file}:`));
  for (const l of diag) assert.match(l, /^.+:\d+:\d+: [^:\s]+: .+$/, `diagnostic format: ${l}`);
  assert.ok(diag.length >= 4, `several errors reported, got:\n${out}`);
  const at = (line, key) => diag.some((l) => l.startsWith(`${file}:${line}:`) && l.includes(key));
  assert.ok(at(2, 'global.workers'), `global.workers at line 2:\n${out}`);
  assert.ok(at(3, 'global.drain_timeout'), `global.drain_timeout at line 3:\n${out}`);
  assert.ok(at(9, 'listen'), `listener listen at line 9:\n${out}`);
  assert.ok(at(13, 'bogus_key'), `unknown key at line 13:\n${out}`);
  assert.ok(diag.some((l) => l.includes('split')), `unknown pool in split:\n${out}`);
});

test('--check on a TOML syntax error exits 1 with a position', async () => {
  const dir = h.tmpDir();
  const file = path.join(dir, 'syntax.toml');
  fs.writeFileSync(file, '[global]\nworkers = = 2\n');
  const r = await h.runSluice(['--check', '-c', file]);
  assert.equal(r.code, 1);
  assert.match(r.stdout + r.stderr, new RegExp(`${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:2:\\d+: `));
});

test('-c with a missing file exits non-zero with a message', async () => {
  const r = await h.runSluice(['-c', '/nonexistent/sluice.toml'], { timeout: 5000 });
  assert.notEqual(r.code, 0);
  assert.ok(!r.timedOut);
  assert.match(r.stdout + r.stderr, /nonexistent/);
});

test('scripts/demo --once reports a split close to 90/10 and serves HTTPS', { timeout: 120000 }, async () => {
  const r = await h.runCmd(path.join(h.ROOT, 'scripts', 'demo'), ['--once'], { timeout: 110000, env: { SLUICE_BIN: h.SLUICE_BIN } });
  assert.equal(r.code, 0, `demo failed:\n${r.stdout}\n${r.stderr}`);
  const m = /blue=(\d+) .*canary=(\d+)/.exec(r.stdout);
  assert.ok(m, `split line in:\n${r.stdout}`);
  const blue = Number(m[1]);
  const canary = Number(m[2]);
  assert.equal(blue + canary, 200, r.stdout);
  assert.ok(blue >= 170 && blue <= 190, `blue ${blue}/200, expected about 180`);
  assert.match(r.stdout, /https:\/\/localhost:\d+\/demo\/tls: HTTP 200, X-Pool: (blue|canary), certificate verified/);
  // A first-time user's demo is clean: --check has nothing to warn about.
  assert.doesNotMatch(`${r.stdout}\n${r.stderr}`, /warning/i);
});
