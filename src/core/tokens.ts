/**
 * API tokens: `bh_<id>_<secret>`. The id is public (listings, revocation); only SHA-256 of the secret is stored, so a
 * leaked store does not leak usable tokens.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { BootherdError } from '../errors.ts';
import type { TokenRecord, TokenScope } from '../model/types.ts';
import type { Store } from '../store/types.ts';

export type TokenStore = Pick<Store, 'putToken' | 'getToken' | 'listTokens' | 'deleteToken' | 'touchToken'>;

/** A token as shown to operators: never the hash. */
export type PublicToken = Omit<TokenRecord, 'hash'>;

export interface TokenServiceOptions {
  now?: () => number;
  /** Where failed last-used updates go; they never fail a request. */
  onError?: (err: unknown) => void;
  /** Minimum time between two last-used updates of one token. */
  touchIntervalMs?: number;
}

const RANK: Record<TokenScope, number> = { read: 0, write: 1, admin: 2 };
// id: 8 bytes hex; secret: 32 bytes base64url without padding (43 chars).
const FORMAT = /^bh_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$/;
// Printable: no control, format, private-use, unassigned or line/paragraph separator characters.
const NAME = /^[^\p{C}\p{Zl}\p{Zp}]{1,64}$/u;

const sha256 = (text: string): string => createHash('sha256').update(text).digest('hex');

export function isTokenScope(value: unknown): value is TokenScope {
  return typeof value === 'string' && Object.hasOwn(RANK, value);
}

/** read < write < admin: each scope includes the ones before it. */
export function allows(scope: TokenScope, needed: TokenScope): boolean {
  return RANK[scope] >= RANK[needed];
}

export function toPublic(record: TokenRecord): PublicToken {
  const { hash: _hash, ...rest } = record;
  return rest;
}

export class TokenService {
  private readonly now: () => number;
  private readonly onError: (err: unknown) => void;
  private readonly touchIntervalMs: number;
  /** Token id → when its last use was last recorded. Holds only ids that verified, so it is bounded by the store. */
  private readonly touched = new Map<string, number>();

  constructor(
    private readonly store: TokenStore,
    options: TokenServiceOptions = {},
  ) {
    this.now = options.now ?? Date.now;
    this.onError = options.onError ?? (() => {});
    this.touchIntervalMs = options.touchIntervalMs ?? 60_000;
  }

  /** The token text is returned once, here; it cannot be recovered later. */
  async create(name: string, scope: TokenScope): Promise<{ token: string; record: TokenRecord }> {
    if (typeof name !== 'string' || !NAME.test(name) || name.trim() === '') {
      throw new BootherdError('VALIDATION', 'token name must be 1-64 printable characters', { field: 'name' });
    }
    if (!isTokenScope(scope)) {
      throw new BootherdError('VALIDATION', 'token scope must be read, write or admin', { field: 'scope' });
    }
    const id = randomBytes(8).toString('hex');
    const secret = randomBytes(32).toString('base64url');
    const record: TokenRecord = {
      id,
      name,
      scope,
      hash: sha256(secret),
      createdAt: new Date(this.now()).toISOString(),
    };
    await this.store.putToken(record);
    return { token: `bh_${id}_${secret}`, record };
  }

  /** The record of a valid token, else undefined; text not shaped like a token never reaches the store. */
  async verify(bearer: string): Promise<TokenRecord | undefined> {
    if (typeof bearer !== 'string') return undefined;
    const match = FORMAT.exec(bearer);
    if (!match) return undefined;
    const id = match[1]!;
    const secret = match[2]!;
    const record = await this.store.getToken(id);
    if (!record) return undefined;
    const want = Buffer.from(record.hash, 'hex');
    const got = Buffer.from(sha256(secret), 'hex');
    if (want.length !== got.length || !timingSafeEqual(want, got)) return undefined;
    this.touch(id);
    return record;
  }

  async list(): Promise<PublicToken[]> {
    return (await this.store.listTokens()).map(toPublic);
  }

  async revoke(id: string): Promise<void> {
    if (!(await this.store.deleteToken(id))) throw new BootherdError('TOKEN_NOT_FOUND', `no token with id ${id}`);
    this.touched.delete(id);
  }

  allows(scope: TokenScope, needed: TokenScope): boolean {
    return allows(scope, needed);
  }

  /** Fire-and-forget: last-used is telemetry, so it is throttled and never delays or fails the request. */
  private touch(id: string): void {
    const now = this.now();
    const last = this.touched.get(id);
    if (last !== undefined && now - last < this.touchIntervalMs) return;
    this.touched.set(id, now);
    try {
      this.store.touchToken(id, new Date(now).toISOString()).catch(this.onError);
    } catch (err) {
      this.onError(err);
    }
  }
}
