/** For tests of the in-memory machine index: a store that counts the lookups reaching it, a way to let its
 * background reads finish, and a boot service over a store. */
import { setImmediate as tick } from 'node:timers/promises';
import { Metrics } from '../../src/core/metrics.ts';
import { BootService } from '../../src/core/service.ts';
import { Signer } from '../../src/core/signing.ts';
import { EventBus } from '../../src/events/bus.ts';
import type { Machine } from '../../src/model/types.ts';
import type { MachineLookup, Store } from '../../src/store/types.ts';
import { policy } from './core.ts';

export const machine = (id: string, extra: Partial<Machine> = {}): Machine => ({ id, macs: [], labels: {}, ...extra });

/** The store, counting the lookups that reach it. */
export function counted(store: Store): { store: Store; finds: () => number } {
  let n = 0;
  const wrapped = Object.create(store) as Store;
  wrapped.findMachine = (q: MachineLookup) => {
    n++;
    return store.findMachine(q);
  };
  return { store: wrapped, finds: () => n };
}

/** The index's loads and refreshes are a few store reads away: the stores answer them within a few turns. */
export async function settled(): Promise<void> {
  for (let i = 0; i < 50; i++) await tick();
}

/** A boot service over `store` that ignores unknown machines; a failed boot-log write fails the test. */
export function bootService(store: Store): BootService {
  return new BootService({
    store,
    boot: { ...policy, unknown: { action: 'ignore' } },
    signer: new Signer(Buffer.alloc(32, 7)),
    events: new EventBus(store, (err) => {
      throw err;
    }),
    metrics: new Metrics(),
  });
}
