import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { instrumentStore } from '../../../src/core/instrument.ts';
import { Metrics } from '../../../src/core/metrics.ts';
import { openSqliteStore } from '../../../src/store/sqlite.ts';

/** count of bootherd_store_seconds for one op, from the registry as a scraper sees it. */
async function observed(metrics: Metrics, op: string): Promise<number> {
  const m = (await metrics.storeSeconds.get()).values.find(
    (v) => v.metricName === 'bootherd_store_seconds_count' && v.labels.op === op,
  );
  return m?.value ?? 0;
}

describe('instrumentStore', () => {
  it('passes calls through with identical results and counts each by method', async () => {
    const metrics = new Metrics();
    const raw = await openSqliteStore(':memory:');
    const store = instrumentStore(raw, metrics);
    try {
      const profile = { name: 'disk', boot: { kind: 'local' as const } };
      await store.putProfile(profile);
      assert.deepEqual(await store.getProfile('disk'), await raw.getProfile('disk'));
      assert.deepEqual(await store.listProfiles(), await raw.listProfiles());
      assert.equal(await store.getProfile('none'), undefined);
      await store.commitLeases([{ ip: '192.0.2.5', mac: '52:54:00:00:00:05', state: 'bound', expiresAt: 1 }]);
      assert.deepEqual(await store.loadLeases(), await raw.loadLeases());

      assert.equal(await observed(metrics, 'putProfile'), 1);
      assert.equal(await observed(metrics, 'getProfile'), 2);
      assert.equal(await observed(metrics, 'listProfiles'), 1);
      assert.equal(await observed(metrics, 'commitLeases'), 1);
      assert.equal(await observed(metrics, 'loadLeases'), 1);
      // Calls on the raw store are not counted.
      assert.equal(await observed(metrics, 'findMachine'), 0);
      // The same function each time: callers may keep a bound reference.
      assert.equal(store.getProfile, store.getProfile);
      const text = await metrics.registry.metrics();
      assert.match(text, /bootherd_store_seconds_bucket\{le="[\d.+Inf]+",op="getProfile"\} 2/);
    } finally {
      await store.close();
    }
    assert.equal(await observed(metrics, 'close'), 1);
  });

  it('a failing call rejects as before and is still timed', async () => {
    const metrics = new Metrics();
    const raw = await openSqliteStore(':memory:');
    const store = instrumentStore(raw, metrics);
    await store.close();
    await assert.rejects(store.listProfiles());
    await assert.rejects(raw.listProfiles());
    assert.equal(await observed(metrics, 'listProfiles'), 1);
  });
});
