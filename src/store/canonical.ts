/** JSON with sorted keys and no undefined: equal values give equal text, so the database can compare them. */
import type { Store } from './types.ts';
export function canonical(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(
          Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
        )
      : v,
  );
}

/** Store.listMachinesJson from the store's own reads: the reference form an engine's fast path must equal. */
export async function machinesJson(
  store: Pick<Store, 'listMachines' | 'latestEvents'>,
  page: { after?: string; limit: number },
): Promise<{ id: string; json: string }[]> {
  const machines = await store.listMachines(page);
  const latest = await store.latestEvents(
    machines.map((m) => m.id),
    { brief: true },
  );
  return machines.map((m) => {
    const e = latest.get(m.id);
    return { id: m.id, json: JSON.stringify(e ? { ...m, lastEvent: e } : m) };
  });
}
