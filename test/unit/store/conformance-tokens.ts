/** Conformance: API tokens. */
import assert from 'node:assert/strict';
import type { TokenRecord } from '../../../src/model/types.ts';
import type { Store } from '../../../src/store/types.ts';

type WithStore = (name: string, fn: (s: Store) => Promise<void>) => void;

export const token = (id: string, createdAt: string, extra: Partial<TokenRecord> = {}): TokenRecord => ({
  id,
  name: `token ${id}`,
  scope: 'write',
  hash: 'ab'.repeat(32),
  createdAt,
  ...extra,
});

export function tokenConformance(withStore: WithStore): void {
  withStore('tokens: round-trip, listed by creation then id, uses recorded, delete reports existence', async (s) => {
    assert.deepEqual(await s.listTokens(), []);
    await s.putToken(token('late', '2026-02-01T00:00:00.000Z', { scope: 'admin' }));
    await s.putToken(token('zz', '2026-01-01T00:00:00.000Z'));
    await s.putToken(token('aa', '2026-01-01T00:00:00.000Z', { lastUsedAt: '2026-01-02T00:00:00.000Z' }));
    assert.deepEqual(await s.getToken('late'), token('late', '2026-02-01T00:00:00.000Z', { scope: 'admin' }));
    assert.equal(await s.getToken('nope'), undefined);
    assert.deepEqual(
      (await s.listTokens()).map((t) => t.id),
      ['aa', 'zz', 'late'],
    );
    await s.touchToken('zz', '2026-03-01T00:00:00.000Z');
    // An older use recorded late (a slower concurrent request) does not move it back.
    await s.touchToken('zz', '2026-02-15T00:00:00.000Z');
    await s.touchToken('nope', '2026-03-01T00:00:00.000Z');
    assert.equal((await s.getToken('zz'))?.lastUsedAt, '2026-03-01T00:00:00.000Z');
    // A put replaces the record.
    await s.putToken(token('zz', '2026-01-01T00:00:00.000Z', { name: 'renamed', scope: 'read' }));
    assert.deepEqual(
      await s.getToken('zz'),
      token('zz', '2026-01-01T00:00:00.000Z', { name: 'renamed', scope: 'read' }),
    );
    assert.equal(await s.deleteToken('aa'), true);
    assert.equal(await s.deleteToken('aa'), false);
    assert.equal(await s.getToken('aa'), undefined);
    assert.deepEqual(
      (await s.listTokens()).map((t) => t.id),
      ['zz', 'late'],
    );
  });
}
