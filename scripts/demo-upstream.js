#!/usr/bin/env node
'use strict';
// A tiny Node.js app for scripts/demo: answers every request with a short text
// body and `X-Pool: NAME`, so the split sluice makes is visible.
//   node scripts/demo-upstream.js --port 3001 --pool blue [--host 127.0.0.1]
// --port 0 takes a free port; the line printed once listening names it.
const http = require('node:http');

const args = process.argv.slice(2);
const opt = (name, def) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && i + 1 < args.length ? args[i + 1] : def;
};
const port = Number(opt('port', '3000'));
const pool = opt('pool', 'blue');
const host = opt('host', '127.0.0.1');

const server = http.createServer((req, res) => {
  const body = `hello from the ${pool} pool (pid ${process.pid}): ${req.method} ${req.url}\n`;
  res.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': Buffer.byteLength(body), 'X-Pool': pool });
  res.end(body);
});
server.listen(port, host, () => {
  process.stdout.write(`demo-upstream ${pool} listening on ${host}:${server.address().port}\n`);
});
for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => server.close(() => process.exit(0)));
