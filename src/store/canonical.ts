/** JSON with sorted keys and no undefined: equal values give equal text, so the database can compare them. */
import type { Store } from './types.ts';

/**
 * JSON.stringify's output with every object's keys sorted (by UTF-16 code units, as `<` compares). Written out
 * rather than as a replacer that rebuilds each object sorted: the boot log's writer runs it twice an event, and the
 * replacer form cost ~8 µs an event there (bench/http's profile). test/unit/store/canonical.test.ts holds it to the
 * replacer form on generated values.
 */
export function canonical(value: unknown): string {
  return write(value, true) as string;
}

/**
 * The key order of an object rebuilt from sorted entries: array-index keys ("0", "9", "10") first in numeric order —
 * an object always lists them so, and Object.keys gives them so already — then the others sorted.
 */
function sortedKeys(o: object): string[] {
  const keys = Object.keys(o);
  let indices = 0;
  while (indices < keys.length && isArrayIndex(keys[indices]!)) indices++;
  if (indices === 0) return keys.sort();
  return [...keys.slice(0, indices), ...keys.slice(indices).sort()];
}

/** Keys repeat (mac, ip, kind …): their quoted form is kept, up to a bound, so a key's text is built once. */
const QUOTED = new Map<string, string>();
function quotedKey(key: string): string {
  let q = QUOTED.get(key);
  if (q === undefined) {
    q = JSON.stringify(key);
    if (QUOTED.size < 1024) QUOTED.set(key, q);
  }
  return q;
}

function isArrayIndex(key: string): boolean {
  return /^(?:0|[1-9]\d*)$/.test(key) && Number(key) < 2 ** 32 - 1;
}

/** undefined where JSON.stringify leaves the value out (undefined, a function, a symbol). */
function write(v: unknown, top: boolean): string | undefined {
  if (v !== null && typeof v === 'object' && typeof (v as { toJSON?: unknown }).toJSON === 'function')
    return write((v as { toJSON(): unknown }).toJSON(), top);
  switch (typeof v) {
    case 'string':
      return JSON.stringify(v);
    case 'number':
      return Number.isFinite(v) ? String(v) : 'null';
    case 'boolean':
      return v ? 'true' : 'false';
    case 'bigint':
      // As JSON.stringify does.
      throw new TypeError('Do not know how to serialize a BigInt');
    case 'object': {
      if (v === null) return 'null';
      if (Array.isArray(v)) {
        let out = '[';
        for (let i = 0; i < v.length; i++) out += `${i ? ',' : ''}${write(v[i], false) ?? 'null'}`;
        return `${out}]`;
      }
      const o = v as Record<string, unknown>;
      let out = '{';
      for (const key of sortedKeys(o)) {
        const text = write(o[key], false);
        if (text !== undefined) out += `${out.length > 1 ? ',' : ''}${quotedKey(key)}:${text}`;
      }
      return `${out}}`;
    }
    default:
      // undefined, functions and symbols: left out of objects, null in arrays; JSON.stringify(undefined) is undefined.
      return top ? (undefined as unknown as string) : undefined;
  }
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
