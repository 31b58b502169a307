/** For tests of the in-memory machine index: a store that counts the lookups reaching it, and a way to let its
 * background reads finish. */
import { setImmediate as tick } from 'node:timers/promises';
import type { Machine } from '../../src/model/types.ts';
import type { MachineLookup, Store } from '../../src/store/types.ts';

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
