/**
 * A binary min-heap of (key, value) number pairs: the lease pool keeps lease ends ordered by time and free
 * addresses ordered by address in these, so choosing an address costs O(log n) whatever the number of leases.
 * Entries are never updated in place: the pool pushes a new one and skips stale ones when they come out on top.
 */
export class MinHeap {
  /** Pairs given as two arrays of one length (taken over, not copied), ordered bottom-up: O(n), where n pushes
   * cost O(n log n) (Floyd's heap construction). */
  constructor(
    private readonly keys: number[] = [],
    private readonly values: number[] = [],
  ) {
    for (let i = (keys.length >> 1) - 1; i >= 0; i--) this.siftDown(i, keys[i] as number, values[i] as number);
  }

  get size(): number {
    return this.keys.length;
  }

  /** The smallest key, or Infinity when empty (so `peekKey() <= now` needs no emptiness check). */
  peekKey(): number {
    return this.keys.length ? (this.keys[0] as number) : Number.POSITIVE_INFINITY;
  }

  /** The value of the smallest key; undefined when empty. */
  peekValue(): number | undefined {
    return this.values[0];
  }

  push(key: number, value: number): void {
    const k = this.keys;
    const v = this.values;
    let i = k.length;
    k.push(key);
    v.push(value);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if ((k[parent] as number) <= key) break;
      k[i] = k[parent] as number;
      v[i] = v[parent] as number;
      i = parent;
    }
    k[i] = key;
    v[i] = value;
  }

  /** Removes the smallest key and returns its value; undefined when empty. */
  pop(): number | undefined {
    const k = this.keys;
    const v = this.values;
    if (!k.length) return undefined;
    const top = v[0];
    const lastKey = k.pop() as number;
    const lastValue = v.pop() as number;
    if (k.length) this.siftDown(0, lastKey, lastValue);
    return top;
  }

  /** Places (key, value) at `i` or below it, moving smaller children up. */
  private siftDown(i: number, key: number, value: number): void {
    const k = this.keys;
    const v = this.values;
    const n = k.length;
    for (;;) {
      let child = 2 * i + 1;
      if (child >= n) break;
      if (child + 1 < n && (k[child + 1] as number) < (k[child] as number)) child++;
      if ((k[child] as number) >= key) break;
      k[i] = k[child] as number;
      v[i] = v[child] as number;
      i = child;
    }
    k[i] = key;
    v[i] = value;
  }
}
