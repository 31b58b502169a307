import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { allows, TokenService, type TokenStore } from '../../../src/core/tokens.ts';
import { BootherdError } from '../../../src/errors.ts';
import type { TokenRecord, TokenScope } from '../../../src/model/types.ts';

/** Just the token methods of a store, counting lookups and touches. */
class FakeTokenStore implements TokenStore {
  readonly tokens = new Map<string, TokenRecord>();
  readonly touches: [string, string][] = [];
  lookups = 0;
  touchFails = false;

  async putToken(token: TokenRecord): Promise<void> {
    this.tokens.set(token.id, { ...token });
  }
  async getToken(id: string): Promise<TokenRecord | undefined> {
    this.lookups++;
    const token = this.tokens.get(id);
    return token && { ...token };
  }
  async listTokens(): Promise<TokenRecord[]> {
    return [...this.tokens.values()].map((t) => ({ ...t }));
  }
  async deleteToken(id: string): Promise<boolean> {
    return this.tokens.delete(id);
  }
  async touchToken(id: string, at: string): Promise<void> {
    this.touches.push([id, at]);
    if (this.touchFails) throw new Error('disk full');
    const token = this.tokens.get(id);
    if (token) token.lastUsedAt = at;
  }
}

function setup(options: { now?: () => number; onError?: (err: unknown) => void } = {}) {
  const store = new FakeTokenStore();
  return { store, tokens: new TokenService(store, options) };
}

const flush = () => new Promise((resolve) => setImmediate(resolve));

describe('TokenService.create', () => {
  it('returns bh_<16 hex>_<43 base64url> and stores only the hash of the secret', async () => {
    const { store, tokens } = setup({ now: () => Date.parse('2030-01-02T03:04:05Z') });
    const { token, record } = await tokens.create('ci deploy', 'write');
    const match = /^bh_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$/.exec(token);
    assert.ok(match, token);
    const [, id, secret] = match;
    assert.equal(record.id, id);
    assert.deepEqual(Object.keys(record).sort(), ['createdAt', 'hash', 'id', 'name', 'scope']);
    assert.equal(record.createdAt, '2030-01-02T03:04:05.000Z');
    const stored = store.tokens.get(record.id);
    assert.deepEqual(stored, record);
    assert.equal(stored?.hash, createHash('sha256').update(secret!).digest('hex'));
    assert.notEqual(stored?.hash, secret);
    assert.ok(!JSON.stringify(stored).includes(secret!), 'the secret is not stored anywhere');
  });

  it('makes a different token each time', async () => {
    const { tokens } = setup();
    const a = await tokens.create('a', 'read');
    const b = await tokens.create('a', 'read');
    assert.notEqual(a.token, b.token);
    assert.notEqual(a.record.id, b.record.id);
  });

  for (const name of [
    '',
    ' ',
    'x'.repeat(65),
    'line\nbreak',
    'tab\there',
    'nul\0',
    'bell\x07',
    'del\x7f',
    'bidi\u202e',
  ]) {
    it(`rejects the name ${JSON.stringify(name)}`, async () => {
      const { store, tokens } = setup();
      await assert.rejects(tokens.create(name, 'read'), (err: unknown) => {
        assert.ok(err instanceof BootherdError);
        assert.equal(err.code, 'VALIDATION');
        assert.equal(err.status, 400);
        return true;
      });
      assert.equal(store.tokens.size, 0);
    });
  }

  it('accepts 64 printable characters, including non-ASCII', async () => {
    const { tokens } = setup();
    await tokens.create('x'.repeat(64), 'read');
    await tokens.create('Jörg’s laptop — 🚀', 'admin');
  });

  it('rejects an unknown scope', async () => {
    const { tokens } = setup();
    for (const scope of ['root', '', 'READ', 'toString', undefined]) {
      await assert.rejects(tokens.create('n', scope as unknown as TokenScope), { code: 'VALIDATION' });
    }
  });
});

describe('TokenService.verify', () => {
  it('accepts the token it made and returns its record', async () => {
    const { tokens } = setup();
    const { token, record } = await tokens.create('ops', 'admin');
    assert.deepEqual(await tokens.verify(token), record);
  });

  it('rejects a wrong secret and another id', async () => {
    const { tokens } = setup();
    const a = await tokens.create('a', 'read');
    const b = await tokens.create('b', 'read');
    const secretA = a.token.slice(-43);
    const flipped = a.token.slice(0, -1) + (a.token.endsWith('A') ? 'B' : 'A');
    assert.equal(await tokens.verify(flipped), undefined);
    assert.equal(await tokens.verify(`bh_${b.record.id}_${secretA}`), undefined);
    assert.equal(await tokens.verify(`bh_${'0'.repeat(16)}_${secretA}`), undefined);
  });

  it('rejects malformed text without asking the store', async () => {
    const { store, tokens } = setup();
    const { token, record } = await tokens.create('a', 'read');
    const malformed = [
      '',
      'bh_',
      token.slice(0, -1),
      `${token}A`,
      ` ${token}`,
      `${token}\n`,
      `Bearer ${token}`,
      token.replace('bh_', 'BH_'),
      token.replace(record.id, record.id.toUpperCase()),
      token.replace(/^bh_/, 'bx_'),
      `bh_${record.id.slice(1)}_${token.slice(-43)}`,
      `bh_${record.id}_${token.slice(-43, -1)}=`,
      `bh_${record.id}_${token.slice(-43, -1)}+`,
      'x'.repeat(10_000),
    ];
    for (const text of malformed) assert.equal(await tokens.verify(text), undefined, JSON.stringify(text));
    assert.equal(await tokens.verify(undefined as unknown as string), undefined);
    assert.equal(store.lookups, 0);
  });

  it('rejects a revoked token, and revoking twice is TOKEN_NOT_FOUND', async () => {
    const { tokens } = setup();
    const { token, record } = await tokens.create('a', 'write');
    await tokens.revoke(record.id);
    assert.equal(await tokens.verify(token), undefined);
    await assert.rejects(tokens.revoke(record.id), (err: unknown) => {
      assert.ok(err instanceof BootherdError);
      assert.equal(err.code, 'TOKEN_NOT_FOUND');
      assert.equal(err.status, 404);
      return true;
    });
  });

  it('rejects a token whose stored hash is damaged', async () => {
    const { store, tokens } = setup();
    const { token, record } = await tokens.create('a', 'read');
    store.tokens.set(record.id, { ...record, hash: record.hash.slice(0, 10) });
    assert.equal(await tokens.verify(token), undefined);
  });
});

describe('TokenService last-used', () => {
  it('records a use at most once a minute per token', async () => {
    let now = Date.parse('2030-01-01T00:00:00Z');
    const { store, tokens } = setup({ now: () => now });
    const a = await tokens.create('a', 'read');
    const b = await tokens.create('b', 'read');
    await tokens.verify(a.token);
    await tokens.verify(a.token);
    await tokens.verify(b.token);
    now += 59_999;
    await tokens.verify(a.token);
    now += 1;
    await tokens.verify(a.token);
    await flush();
    assert.deepEqual(store.touches, [
      [a.record.id, '2030-01-01T00:00:00.000Z'],
      [b.record.id, '2030-01-01T00:00:00.000Z'],
      [a.record.id, '2030-01-01T00:01:00.000Z'],
    ]);
  });

  it('does not record failed verifications', async () => {
    const { store, tokens } = setup();
    const { token } = await tokens.create('a', 'read');
    await tokens.verify(`${token.slice(0, -1)}${token.endsWith('A') ? 'B' : 'A'}`);
    await flush();
    assert.deepEqual(store.touches, []);
  });

  it('does not wait for the update, and its failure goes to onError, not to the caller', async () => {
    const errors: unknown[] = [];
    const { store, tokens } = setup({ onError: (err) => errors.push(err) });
    const { token, record } = await tokens.create('a', 'read');
    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    store.touchToken = async (id, at) => {
      await gate;
      store.touches.push([id, at]);
      throw new Error('disk full');
    };
    assert.deepEqual(await tokens.verify(token), record);
    assert.deepEqual(store.touches, []);
    release();
    await flush();
    assert.equal(store.touches.length, 1);
    assert.equal(errors.length, 1);
    assert.match(String(errors[0]), /disk full/);
  });

  it('survives a store whose touch throws synchronously', async () => {
    const errors: unknown[] = [];
    const { store, tokens } = setup({ onError: (err) => errors.push(err) });
    const { token } = await tokens.create('a', 'read');
    store.touchToken = () => {
      throw new Error('boom');
    };
    assert.ok(await tokens.verify(token));
    assert.equal(errors.length, 1);
  });
});

describe('TokenService.list', () => {
  it('lists every token without its hash', async () => {
    const { tokens } = setup();
    const a = await tokens.create('a', 'read');
    const b = await tokens.create('b', 'admin');
    const listed = await tokens.list();
    assert.equal(listed.length, 2);
    for (const token of listed) assert.ok(!('hash' in token), JSON.stringify(token));
    const { hash: _a, ...publicA } = a.record;
    const { hash: _b, ...publicB } = b.record;
    assert.deepEqual(
      listed.sort((x, y) => x.name.localeCompare(y.name)),
      [publicA, publicB],
    );
    assert.ok(!JSON.stringify(listed).includes(a.record.hash));
  });
});

describe('scopes', () => {
  it('orders read < write < admin', () => {
    const { tokens } = setup();
    const scopes: TokenScope[] = ['read', 'write', 'admin'];
    for (const [i, have] of scopes.entries()) {
      for (const [j, need] of scopes.entries()) {
        assert.equal(allows(have, need), i >= j, `${have} allows ${need}`);
        assert.equal(tokens.allows(have, need), i >= j);
      }
    }
  });
});
