/**
 * The HTTPS certificate: the operator's own files, or a self-signed one kept in the data directory so the
 * fingerprint the operator accepted in the browser stays the same across restarts.
 */
import { createPrivateKey, type KeyObject, randomBytes, X509Certificate } from 'node:crypto';
import { mkdir, open, readFile, rename, rm, stat } from 'node:fs/promises';
import { isIP } from 'node:net';
import { hostname, networkInterfaces } from 'node:os';
import { join } from 'node:path';
import { generate } from 'selfsigned';
import { BootherdError } from '../errors.ts';

export interface TlsOptions {
  certFile?: string;
  keyFile?: string;
  dataDir: string;
  /** Extra DNS names or IP addresses for a generated certificate. */
  hostnames?: string[];
  now?: Date;
}

export interface TlsMaterial {
  cert: string;
  key: string;
  /** Colon-separated SHA-256 of the certificate, for the operator to compare with what the browser shows. */
  fingerprint256: string;
  /** True only when the certificate was created by this call. */
  generated: boolean;
  certFile: string;
}

const VALID_YEARS = 10;
// Tolerate clients whose clock is a little behind ours.
const BACKDATE_MS = 60 * 60 * 1000;
const DNS_NAME = /^(\*\.)?[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*\.?$/i;

export async function loadOrCreateTls(opts: TlsOptions): Promise<TlsMaterial> {
  if (opts.certFile !== undefined || opts.keyFile !== undefined) {
    if (!opts.certFile || !opts.keyFile) {
      throw new BootherdError('TLS', 'http.tls: give both cert and key, or neither to use a generated certificate');
    }
    return { ...(await load(opts.certFile, opts.keyFile)), generated: false };
  }
  const dir = join(opts.dataDir, 'tls');
  const certFile = join(dir, 'cert.pem');
  const keyFile = join(dir, 'key.pem');
  // The certificate is written last, so its presence means the pair is complete.
  if (await exists(certFile)) return { ...(await load(certFile, keyFile)), generated: false };
  return { ...(await create(dir, certFile, keyFile, opts)), generated: true };
}

async function load(certFile: string, keyFile: string): Promise<Omit<TlsMaterial, 'generated'>> {
  const cert = await readPem('http.tls.cert', certFile);
  const key = await readPem('http.tls.key', keyFile);
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(cert);
  } catch (err) {
    throw new BootherdError('TLS', `http.tls.cert: ${certFile} is not a PEM certificate: ${reason(err)}`);
  }
  let keyObject: KeyObject;
  try {
    keyObject = createPrivateKey(key);
  } catch (err) {
    throw new BootherdError('TLS', `http.tls.key: ${keyFile} is not an unencrypted PEM private key: ${reason(err)}`);
  }
  if (!x509.checkPrivateKey(keyObject)) {
    throw new BootherdError(
      'TLS',
      `http.tls: the key in ${keyFile} does not belong to the certificate in ${certFile}`,
      {
        certFile,
        keyFile,
      },
    );
  }
  return { cert, key, fingerprint256: x509.fingerprint256, certFile };
}

async function create(
  dir: string,
  certFile: string,
  keyFile: string,
  opts: TlsOptions,
): Promise<Omit<TlsMaterial, 'generated'>> {
  const now = opts.now ?? new Date();
  const notBefore = new Date(now.getTime() - BACKDATE_MS);
  const notAfter = new Date(now);
  notAfter.setUTCFullYear(notAfter.getUTCFullYear() + VALID_YEARS);
  const pems = await generate([{ name: 'commonName', value: 'bootherd' }], {
    keyType: 'ec',
    curve: 'P-256',
    // The library's default is SHA-1, which browsers reject.
    algorithm: 'sha256',
    notBeforeDate: notBefore,
    notAfterDate: notAfter,
    extensions: [
      { name: 'basicConstraints', cA: false, critical: true },
      // ECDSA keys sign; keyEncipherment is for RSA key transport.
      { name: 'keyUsage', digitalSignature: true, critical: true },
      { name: 'extKeyUsage', serverAuth: true },
      { name: 'subjectAltName', altNames: altNames(opts.hostnames ?? []) },
    ],
  });
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await writeAtomic(keyFile, pems.private, 0o600);
  await writeAtomic(certFile, pems.cert, 0o644);
  return {
    cert: pems.cert,
    key: pems.private,
    fingerprint256: new X509Certificate(pems.cert).fingerprint256,
    certFile,
  };
}

/** localhost, loopback, this host's name and addresses, and the configured names; duplicates dropped. */
function altNames(extra: string[]): { type: 2 | 7; value?: string; ip?: string }[] {
  const names = new Set<string>(['localhost']);
  const ips = new Set<string>(['127.0.0.1', '::1']);
  const host = hostname();
  if (DNS_NAME.test(host)) names.add(host.toLowerCase());
  for (const list of Object.values(networkInterfaces())) {
    for (const info of list ?? []) if (!info.internal) ips.add(info.address);
  }
  for (const name of extra) {
    if (isIP(name)) ips.add(name);
    else if (DNS_NAME.test(name)) names.add(name.toLowerCase());
    else throw new BootherdError('TLS', `http.tls.hostnames: "${name}" is neither a DNS name nor an IP address`);
  }
  return [
    ...[...names].map((value) => ({ type: 2 as const, value })),
    ...[...ips].map((ip) => ({ type: 7 as const, ip })),
  ];
}

async function readPem(field: string, file: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    throw new BootherdError('TLS', `${field}: cannot read ${file}: ${reason(err)}`, { file });
  }
}

async function exists(file: string): Promise<boolean> {
  try {
    await stat(file);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw new BootherdError('TLS', `http.tls.cert: cannot read ${file}: ${reason(err)}`, { file });
  }
}

/** Temp file + fsync + rename, so a crash never leaves a truncated key or certificate behind. */
async function writeAtomic(file: string, text: string, mode: number): Promise<void> {
  const tmp = `${file}.${randomBytes(6).toString('hex')}.tmp`;
  try {
    const handle = await open(tmp, 'wx', mode);
    try {
      await handle.writeFile(text);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(tmp, file);
  } catch (err) {
    await rm(tmp, { force: true });
    throw new BootherdError('TLS', `http.tls: cannot write ${file}: ${reason(err)}`, { file });
  }
}

function reason(err: unknown): string {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'ENOENT') return 'no such file';
  if (code === 'EACCES' || code === 'EPERM') return 'permission denied';
  if (code === 'EISDIR') return 'is a directory';
  return err instanceof Error ? err.message : String(err);
}
