'use strict';
// TLS helpers for the integration tests (certificates made with the openssl CLI at
// test time, `openssl s_client` runs parsed into fields, a node:tls client that
// keeps one connection open). Builds on harness.js; everything started here is
// registered with the harness through runCmd/tmpDir so cleanup() tears it down.

const fs = require('node:fs');
const net = require('node:net');
const path = require('node:path');
const tls = require('node:tls');
const h = require('./harness');

// Run the openssl CLI (bounded); throws with its stderr when it fails.
async function openssl(args, { timeout = 20000, cwd, input } = {}) {
  const r = await h.runCmd('openssl', args, { timeout, cwd, input });
  if (r.code !== 0) throw new Error(`openssl ${args.join(' ')} failed (${r.code}${r.timedOut ? ', timed out' : ''}):\n${r.stderr}`);
  return r;
}

// Make a private key: 'rsa' (2048) or 'ec' (P-256).
async function makeKey(file, type = 'rsa') {
  if (type === 'rsa') await openssl(['genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', file]);
  else await openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', file]);
  return file;
}

// A certificate signed by the CA in `ca` ({cert, key}) for `names` (DNS names or
// IPv4 literals), with subject CN = `cn` and an explicit serial.
async function makeLeaf(dir, base, { cn, names, type = 'rsa', ca, serial, days = 30 }) {
  const key = await makeKey(path.join(dir, `${base}.key`), type);
  const csr = path.join(dir, `${base}.csr`);
  const cert = path.join(dir, `${base}.pem`);
  const san = names.map((n) => (/^\d+\.\d+\.\d+\.\d+$/.test(n) ? `IP:${n}` : `DNS:${n}`)).join(',');
  await openssl(['req', '-new', '-key', key, '-subj', `/CN=${cn}`, '-out', csr]);
  const ext = path.join(dir, `${base}.ext`);
  fs.writeFileSync(
    ext,
    `basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\nsubjectAltName=${san}\n`,
  );
  await openssl([
    'x509', '-req', '-in', csr, '-CA', ca.cert, '-CAkey', ca.key, '-set_serial', String(serial),
    '-days', String(days), '-sha256', '-extfile', ext, '-out', cert,
  ]);
  return { cert, key, cn, names, serial, type };
}

// The test PKI: one CA and the leaves the TLS tests need. Serial numbers are
// distinct so a test can tell which certificate it was served.
async function makeTestCerts(dir) {
  const ca = { key: await makeKey(path.join(dir, 'ca.key'), 'rsa'), cert: path.join(dir, 'ca.pem') };
  await openssl(['req', '-x509', '-new', '-key', ca.key, '-subj', '/CN=sluice test CA', '-days', '30', '-sha256', '-out', ca.cert]);
  const [rsa, other, wild, ecdsa, rsa2] = await Promise.all([
    makeLeaf(dir, 'rsa', { cn: 'rsa-localhost', names: ['localhost', '127.0.0.1'], type: 'rsa', ca, serial: 0x1001 }),
    makeLeaf(dir, 'other', { cn: 'other.test', names: ['other.test'], type: 'rsa', ca, serial: 0x1002 }),
    makeLeaf(dir, 'wild', { cn: 'wild-card', names: ['*.wild.test'], type: 'rsa', ca, serial: 0x1003 }),
    makeLeaf(dir, 'ecdsa', { cn: 'ecdsa-localhost', names: ['localhost', '127.0.0.1'], type: 'ec', ca, serial: 0x1004 }),
    // Same names as `rsa`, a different subject and serial: the "renewed" certificate.
    makeLeaf(dir, 'rsa2', { cn: 'rsa-localhost-renewed', names: ['localhost', '127.0.0.1'], type: 'rsa', ca, serial: 0x2001 }),
  ]);
  return { dir, ca, rsa, other, wild, ecdsa, rsa2 };
}

// TOML for a TLS listener (+ optional extra listeners) and the [tls] table.
function tlsListenerToml({ port, certs, minVersion, ciphers, ciphersuites, extraListeners = '' }) {
  const lines = ['[[listener]]', `listen = "127.0.0.1:${port}"`, 'tls = true', ''];
  if (extraListeners) lines.push(extraListeners, '');
  lines.push('[tls]');
  if (minVersion) lines.push(`min_version = ${JSON.stringify(minVersion)}`);
  if (ciphers) lines.push(`ciphers = ${JSON.stringify(ciphers)}`);
  if (ciphersuites) lines.push(`ciphersuites = ${JSON.stringify(ciphersuites)}`);
  for (const c of certs) lines.push('', '[[tls.certificate]]', `cert = ${JSON.stringify(c.cert)}`, `key = ${JSON.stringify(c.key)}`);
  return lines.join('\n');
}

// Parse the interesting fields out of `openssl s_client` output.
function parseSClient(out) {
  const get = (re) => {
    const m = re.exec(out);
    return m ? m[1].trim() : null;
  };
  const r = {
    protocol: get(/^\s*Protocol\s*:\s*(\S+)/m) || get(/^New, (TLSv[\d.]+), Cipher is/m) || get(/^Reused, (TLSv[\d.]+), Cipher is/m),
    cipher: get(/^(?:New|Reused), \S+, Cipher is (\S+)/m),
    subject: get(/^subject=(.*)$/m),
    issuer: get(/^issuer=(.*)$/m),
    alpn: get(/^ALPN protocol: (.*)$/m),
    noAlpn: /^No ALPN negotiated/m.test(out),
    reused: /^Reused, /m.test(out),
    newSession: /^New, /m.test(out),
    peerSigType: get(/^Peer signature type: (.*)$/m),
    serverKey: get(/^Server public key is (.*)$/m),
    verifyReturn: get(/^Verify return code: (.*)$/m),
  };
  // "New, (NONE), Cipher is (NONE)" means no handshake completed.
  r.handshake = !!r.cipher && r.cipher !== '(NONE)';
  return r;
}

// Run `openssl s_client -connect 127.0.0.1:PORT ARGS...`. With `input` the bytes are
// written to its stdin (add '-ign_eof' to keep reading until the server closes).
// `env` e.g. { OPENSSL_CONF: '/dev/null' } to drop the system-wide client policy.
async function sClient(port, args = [], { input, timeout = 10000, host = '127.0.0.1', env = {} } = {}) {
  const r = await h.runCmd('openssl', ['s_client', '-connect', `${host}:${port}`, ...args], { timeout, input, env });
  const all = `${r.stdout}\n${r.stderr}`;
  return { ...r, all, ...parseSClient(all) };
}

// The subjectAltName list of the first certificate in some text (e.g. s_client's
// stdout), as printed by `openssl x509 -ext subjectAltName` ("DNS:a, IP Address:1.2.3.4").
async function sanOf(text) {
  const m = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(text);
  if (!m) throw new Error('no certificate in the output');
  const r = await openssl(['x509', '-noout', '-ext', 'subjectAltName'], { input: m[0] + '\n' });
  return r.stdout.split('\n').slice(1).join(' ').split(',').map((x) => x.trim()).filter(Boolean);
}

// A node:tls connection kept open for step-by-step requests (like harness rawConnect).
function tlsConnect(port, { host = '127.0.0.1', servername = 'localhost', ca, timeout = 5000, ...opts } = {}) {
  return new Promise((resolve, reject) => {
    const sock = tls.connect({ host, port, servername, ca: ca ? fs.readFileSync(ca) : undefined, ALPNProtocols: ['http/1.1'], ...opts });
    const c = {
      sock,
      data: Buffer.alloc(0),
      closed: false,
      text: () => c.data.toString('latin1'),
      write: (b) => sock.write(b),
      peer: () => sock.getPeerCertificate(),
      waitFor: (pred, ms = 5000) => h.waitFor(() => pred(c.data) || c.closed, { timeout: ms, every: 5, what: 'TLS connection data' }).then(() => c),
      responses: (method) => h.parseResponses(c.data, { method, allowIncomplete: true }).responses,
      close: () => sock.destroy(),
    };
    const t = setTimeout(() => {
      sock.destroy();
      reject(new Error(`TLS connect to ${host}:${port} timed out after ${timeout} ms`));
    }, timeout);
    sock.on('secureConnect', () => {
      clearTimeout(t);
      resolve(c);
    });
    sock.on('data', (d) => (c.data = Buffer.concat([c.data, d])));
    sock.on('error', (e) => {
      c.closed = true;
      c.error = e;
      clearTimeout(t);
      reject(e);
    });
    sock.on('close', () => (c.closed = true));
    sock.on('end', () => (c.closed = true));
  });
}

// The peer certificate (subject CN, SANs, serial as an integer) of a fresh TLS connection.
async function peerCert(port, { servername = 'localhost', ca } = {}) {
  const c = await tlsConnect(port, { servername, ca, rejectUnauthorized: !!ca });
  const p = c.peer();
  c.close();
  return { cn: p.subject && p.subject.CN, san: p.subjectaltname, serial: parseInt(p.serialNumber, 16), raw: p };
}

// Connect with plain TCP, write `bytes`, close after `holdMs`. Used for a client
// that vanishes in the middle of a handshake.
function connectWriteVanish(port, bytes, { host = '127.0.0.1', holdMs = 50 } = {}) {
  return new Promise((resolve) => {
    const s = net.connect({ host, port });
    const done = () => {
      s.destroy();
      resolve();
    };
    s.on('error', done);
    s.on('connect', () => {
      s.write(bytes);
      setTimeout(done, holdMs);
    });
    setTimeout(done, holdMs + 3000);
  });
}

// The first bytes of a real TLS 1.2/1.3 ClientHello (record header + handshake
// header + client version + random), claiming a much longer record than is sent.
function halfClientHello() {
  const body = Buffer.concat([
    Buffer.from([0x01, 0x00, 0x01, 0xfc]), // ClientHello, length 508
    Buffer.from([0x03, 0x03]), // legacy_version TLS 1.2
    Buffer.alloc(32, 0x42), // random
    Buffer.from([0x20]), // session id length 32
    Buffer.alloc(16, 0x24), // ... only half of it
  ]);
  return Buffer.concat([Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00]), body]); // record claims 512 bytes
}

module.exports = {
  openssl,
  makeKey,
  makeLeaf,
  makeTestCerts,
  tlsListenerToml,
  parseSClient,
  sanOf,
  sClient,
  tlsConnect,
  peerCert,
  connectWriteVanish,
  halfClientHello,
};
