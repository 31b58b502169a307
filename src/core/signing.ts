/**
 * HMAC-signed, expiring URLs: a kickstart with a root password, or an install callback, is reachable only through a
 * link bootherd handed out, and only until it expires. The signature covers the path and the expiry.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

export class Signer {
  constructor(
    private readonly key: Buffer,
    private readonly now: () => number = Date.now,
  ) {
    if (key.length < 16) throw new Error('signing key must be at least 16 bytes');
  }

  private mac(path: string, exp: number): string {
    return createHmac('sha256', this.key).update(`${path}\n${exp}`).digest('base64url');
  }

  /** Query string (`exp=…&sig=…`) that makes `path` valid for `ttlSeconds`. */
  sign(path: string, ttlSeconds: number): string {
    const exp = Math.floor(this.now() / 1000) + ttlSeconds;
    return `exp=${exp}&sig=${this.mac(path, exp)}`;
  }

  verify(path: string, exp: string | undefined, sig: string | undefined): 'ok' | 'missing' | 'expired' | 'invalid' {
    if (exp === undefined || sig === undefined) return 'missing';
    if (!/^\d{1,12}$/.test(exp)) return 'invalid';
    const want = Buffer.from(this.mac(path, Number(exp)));
    const got = Buffer.from(sig);
    if (want.length !== got.length || !timingSafeEqual(want, got)) return 'invalid';
    return Number(exp) * 1000 < this.now() ? 'expired' : 'ok';
  }
}

/** Read the key file, or create one (mode 0600) on first start so signed URLs survive restarts. */
export function loadOrCreateKey(file: string): Buffer {
  if (existsSync(file)) return Buffer.from(readFileSync(file, 'utf8').trim(), 'base64url');
  mkdirSync(dirname(file), { recursive: true });
  const key = randomBytes(32);
  writeFileSync(file, `${key.toString('base64url')}\n`, { mode: 0o600, flag: 'wx' });
  chmodSync(file, 0o600);
  return key;
}
