'use strict';
// Operations: dropping root (global.user) and W3C trace context.
const fs = require('node:fs');
const { test, after } = require('node:test');
const h = require('./lib/harness');
const { assert } = h;

after(h.cleanup);

function procIds(pid) {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const field = (name) => status.match(new RegExp(`^${name}:\\s+(.*)$`, 'm'))[1].trim().split(/\s+/).map(Number);
  return { uid: field('Uid'), gid: field('Gid'), groups: field('Groups') };
}

test('global.user: binds as root, then every thread runs as that user', { skip: process.getuid() !== 0 && 'needs root' }, async () => {
  const up = await h.startUpstream({ pool: 'blue' });
  const port = await h.freePort();
  const sl = await h.startSluice(h.sluiceToml({ port, servers: [up.addr], global: { workers: 2, user: 'nobody' } }));
  const nobody = Number(require('node:child_process').execFileSync('id', ['-u', 'nobody']).toString());
  for (const tid of fs.readdirSync(`/proc/${sl.pid}/task`)) {
    const { uid, gid, groups } = procIds(`${sl.pid}/task/${tid}`);
    assert.deepEqual(uid, [nobody, nobody, nobody, nobody], `thread ${tid} uid`);
    assert.ok(gid.every((g) => g !== 0), `thread ${tid} gid ${gid}`);
    assert.ok(!groups.includes(0), `thread ${tid} groups ${groups}`);
  }
  const res = await h.request(port, { headers: { Host: 'app.test' } });
  assert.equal(res.status, 200);
  assert.ok(sl.events().some((e) => e.event === 'privileges_dropped' && e.user === 'nobody'));
  // The admin socket is still served and the state dir is writable by the user.
  const st = fs.statSync(`${sl.dir}/admin.sock`);
  assert.equal(st.uid, nobody);
  assert.equal(st.mode & 0o777, 0o600);
});

test('global.user that does not exist: refuses to start', async () => {
  const port = await h.freePort();
  const sl = await h.startSluice(h.sluiceToml({ port, servers: ['127.0.0.1:9'], global: { user: 'no-such-user-here' } }), { waitListening: false });
  const r = await sl.waitExit(10000);
  assert.notEqual(r.code, 0);
  const ev = sl.events().find((e) => e.event === 'privilege_drop_failed');
  assert.ok(ev, sl.stderr);
  assert.match(ev.message, /no user named "no-such-user-here"/);
});

test('traceparent: a valid one is passed through; none or an invalid one is replaced by a new trace; trace_id in the access log', async () => {
  const up = await h.startUpstream({ pool: 'blue' });
  const port = await h.freePort();
  const sl = await h.startSluice(h.sluiceToml({ port, servers: [up.addr] }));
  const given = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
  let res = await h.request(port, { headers: { Host: 'app.test', traceparent: given } });
  assert.equal(h.json(res).headers.traceparent, given);

  res = await h.request(port, { headers: { Host: 'app.test' } });
  const made = h.json(res).headers.traceparent;
  assert.match(made, /^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);

  res = await h.request(port, { headers: { Host: 'app.test', traceparent: '00-00000000000000000000000000000000-b7ad6b7169203331-01' } });
  const replaced = h.json(res).headers.traceparent;
  assert.match(replaced, /^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
  assert.notEqual(replaced.slice(3, 35), '0'.repeat(32));

  await h.waitFor(() => sl.accessLog().length >= 3, { what: 'three access lines' });
  const ids = sl.accessLog().map((l) => l.trace_id);
  assert.deepEqual(ids, ['0af7651916cd43dd8448eb211c80319c', made.slice(3, 35), replaced.slice(3, 35)]);
});
