/**
 * Boot log retention through the inventory service: the count and age limits, in batches, until nothing is left past
 * them; and the config keys, with their bounds.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { loadConfig } from '../../../src/config/config.ts';
import { InventoryService } from '../../../src/core/inventory.ts';
import { Metrics } from '../../../src/core/metrics.ts';
import { BootService } from '../../../src/core/service.ts';
import { Signer } from '../../../src/core/signing.ts';
import { EventBus } from '../../../src/events/bus.ts';
import type { BootEvent } from '../../../src/model/types.ts';
import { openSqliteStore } from '../../../src/store/sqlite.ts';
import { policy } from '../../lib/core.ts';

const NOW = new Date(Date.UTC(2026, 11, 3));
const DAY = 86_400_000;

describe('boot log retention', () => {
  it('deletes past keep_events and keep_days, oldest first, across several batches', async () => {
    const store = await openSqliteStore(':memory:');
    const service = new BootService({
      store,
      boot: policy,
      signer: new Signer(Buffer.alloc(32, 7)),
      events: new EventBus(store, (err) => {
        throw err;
      }),
      metrics: new Metrics(),
    });
    const inventory = new InventoryService(store, service);
    // 12,000 events, one every 10 minutes back from now: the oldest is ~83 days old.
    const events: BootEvent[] = Array.from({ length: 12_000 }, (_, i) => ({
      at: new Date(NOW.getTime() - (12_000 - i) * 600_000).toISOString(),
      mac: '52:54:00:00:00:01',
      stage: 'http',
      facts: { mac: '52:54:00:00:00:01' },
      decision: { i },
    }));
    await store.writeBootLog(events, []);
    // By count: more than two batches of 5,000 go.
    assert.equal(await inventory.pruneBootLog({ keepEvents: 1000, keepDays: 365 }, NOW), 11_000);
    let left = await store.listEvents({ limit: 2000 });
    assert.equal(left.length, 1000);
    assert.equal(left.at(-1)?.decision.i, 11_000);
    // By age: what is older than 2 days goes (288 events were within the last 2 days).
    assert.equal(await inventory.pruneBootLog({ keepEvents: 1000, keepDays: 2 }, NOW), 1000 - 288);
    left = await store.listEvents({ limit: 2000 });
    assert.equal(left.length, 288);
    assert.ok(left.every((e) => Date.parse(e.at) >= NOW.getTime() - 2 * DAY));
    // Nothing more to do.
    assert.equal(await inventory.pruneBootLog({ keepEvents: 1000, keepDays: 2 }, NOW), 0);
    await store.close();
  });

  it('config: log.keep_events and log.keep_days with defaults and bounds', () => {
    const c = loadConfig(undefined, {});
    assert.deepEqual([c.log.keepEvents, c.log.keepDays], [1_000_000, 90]);
    const f = join(mkdtempSync(join(tmpdir(), 'bh-config-')), 'bootherd.yaml');
    writeFileSync(f, 'log:\n  keep_events: 10\n');
    assert.throws(() => loadConfig(f, {}), /bootherd\.yaml:2:16: log\.keep_events/);
  });
});
