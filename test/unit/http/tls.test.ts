import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { connect } from 'node:tls';
import { BootherdError } from '../../../src/errors.ts';
import { loadOrCreateTls } from '../../../src/http/tls.ts';

const dirs: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'bootherd-tls-'));
  dirs.push(dir);
  return dir;
}
after(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

function isTlsError(...mentions: string[]) {
  return (err: unknown) => {
    assert.ok(err instanceof BootherdError, String(err));
    assert.equal(err.code, 'TLS');
    for (const text of mentions) assert.ok(err.message.includes(text), `${err.message} mentions ${text}`);
    return true;
  };
}

describe('loadOrCreateTls: generated', () => {
  const dataDir = tempDir();
  // Whole seconds, as certificates store them; real time, so the handshake below accepts it.
  const now = new Date(Math.floor(Date.now() / 1000) * 1000);
  let first: Awaited<ReturnType<typeof loadOrCreateTls>>;
  before(async () => {
    first = await loadOrCreateTls({ dataDir, hostnames: ['boot.example.org', '192.0.2.77'], now });
  });

  it('creates a self-signed certificate and a 0600 key in <dataDir>/tls', () => {
    assert.equal(first.generated, true);
    assert.equal(first.certFile, join(dataDir, 'tls', 'cert.pem'));
    assert.ok(existsSync(join(dataDir, 'tls', 'cert.pem')));
    assert.equal(statSync(join(dataDir, 'tls', 'key.pem')).mode & 0o777, 0o600);
    assert.equal(readFileSync(first.certFile, 'utf8'), first.cert);
    assert.equal(readFileSync(join(dataDir, 'tls', 'key.pem'), 'utf8'), first.key);
    assert.match(first.fingerprint256, /^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
  });

  it('has CN bootherd, the loopback and configured names, and ten years of validity', () => {
    const x509 = new X509Certificate(first.cert);
    assert.equal(x509.subject, 'CN=bootherd');
    assert.equal(x509.fingerprint256, first.fingerprint256);
    const sans = x509.subjectAltName?.split(', ') ?? [];
    for (const san of [
      'DNS:localhost',
      'DNS:boot.example.org',
      'IP Address:127.0.0.1',
      'IP Address:0:0:0:0:0:0:0:1',
      'IP Address:192.0.2.77',
    ]) {
      assert.ok(sans.includes(san), `${san} in ${x509.subjectAltName}`);
    }
    assert.ok(new Date(x509.validFrom) <= now);
    const tenYears = new Date(now);
    tenYears.setUTCFullYear(now.getUTCFullYear() + 10);
    assert.equal(new Date(x509.validTo).toISOString(), tenYears.toISOString());
    assert.equal(x509.publicKey.asymmetricKeyType, 'ec');
  });

  it('reuses the stored pair on the next start', async () => {
    const again = await loadOrCreateTls({ dataDir });
    assert.equal(again.generated, false);
    assert.equal(again.fingerprint256, first.fingerprint256);
    assert.equal(again.key, first.key);
  });

  it('serves TLS that a client trusting only this certificate accepts for localhost', async () => {
    const server = createServer({ cert: first.cert, key: first.key }, (_req, res) => res.end('ok'));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = server.address() as AddressInfo;
      const peer = await new Promise<string>((resolve, reject) => {
        const socket = connect({ host: '127.0.0.1', port, ca: first.cert, servername: 'localhost' }, () => {
          assert.equal(socket.authorized, true);
          const fingerprint = socket.getPeerX509Certificate()?.fingerprint256 ?? '';
          socket.end();
          resolve(fingerprint);
        });
        socket.on('error', reject);
      });
      assert.equal(peer, first.fingerprint256);
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});

describe('loadOrCreateTls: operator files', () => {
  it('loads a matching pair', async () => {
    const generated = await loadOrCreateTls({ dataDir: tempDir() });
    const dir = tempDir();
    const certFile = join(dir, 'server.crt');
    const keyFile = join(dir, 'server.key');
    writeFileSync(certFile, generated.cert);
    writeFileSync(keyFile, generated.key);
    const loaded = await loadOrCreateTls({ certFile, keyFile, dataDir: dir });
    assert.deepEqual(loaded, { ...generated, certFile, generated: false });
    assert.ok(!existsSync(join(dir, 'tls')), 'nothing generated');
  });

  it('rejects a key that belongs to another certificate, naming both files', async () => {
    const a = tempDir();
    const b = tempDir();
    await loadOrCreateTls({ dataDir: a });
    await loadOrCreateTls({ dataDir: b });
    const certFile = join(a, 'tls', 'cert.pem');
    const keyFile = join(b, 'tls', 'key.pem');
    await assert.rejects(loadOrCreateTls({ certFile, keyFile, dataDir: a }), isTlsError(certFile, keyFile));
  });

  it('rejects a mismatched pair in the data directory too', async () => {
    const a = tempDir();
    const b = tempDir();
    await loadOrCreateTls({ dataDir: a });
    await loadOrCreateTls({ dataDir: b });
    copyFileSync(join(b, 'tls', 'key.pem'), join(a, 'tls', 'key.pem'));
    await assert.rejects(loadOrCreateTls({ dataDir: a }), isTlsError(join(a, 'tls', 'cert.pem')));
  });

  it('names the config field and path of a file it cannot read', async () => {
    const dir = tempDir();
    const missing = join(dir, 'nope.pem');
    await assert.rejects(
      loadOrCreateTls({ certFile: missing, keyFile: missing, dataDir: dir }),
      isTlsError(`http.tls.cert: cannot read ${missing}: no such file`),
    );
    const generated = await loadOrCreateTls({ dataDir: dir });
    await assert.rejects(
      loadOrCreateTls({ certFile: generated.certFile, keyFile: missing, dataDir: dir }),
      isTlsError(`http.tls.key: cannot read ${missing}`),
    );
  });

  it('rejects files that are not PEM', async () => {
    const dir = tempDir();
    const generated = await loadOrCreateTls({ dataDir: dir });
    const junk = join(dir, 'junk.pem');
    writeFileSync(junk, 'not a certificate\n');
    await assert.rejects(
      loadOrCreateTls({ certFile: junk, keyFile: join(dir, 'tls', 'key.pem'), dataDir: dir }),
      isTlsError('http.tls.cert', junk),
    );
    await assert.rejects(
      loadOrCreateTls({ certFile: generated.certFile, keyFile: junk, dataDir: dir }),
      isTlsError('http.tls.key', junk),
    );
  });

  it('wants both files or neither', async () => {
    const dir = tempDir();
    await assert.rejects(loadOrCreateTls({ certFile: join(dir, 'c.pem'), dataDir: dir }), isTlsError('http.tls'));
    await assert.rejects(loadOrCreateTls({ keyFile: join(dir, 'k.pem'), dataDir: dir }), isTlsError('http.tls'));
  });

  it('rejects a configured hostname that is neither a DNS name nor an address', async () => {
    await assert.rejects(
      loadOrCreateTls({ dataDir: tempDir(), hostnames: ['bad name'] }),
      isTlsError('http.tls.hostnames', 'bad name'),
    );
  });
});
