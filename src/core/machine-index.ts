/**
 * The inventory's identities in memory, for DHCP: a DISCOVER's machine is found without asking the store (a round
 * trip on PostgreSQL, the largest part of a decision there). Kept by the same change announcements every other cache
 * follows (InventoryService.changes, the store's feed for other servers' writes) plus, on engines where another
 * process writes unannounced (SQLite), the store's othersChanges read before each lookup; exact by construction: while
 * anything is being (re)loaded, or when a key names several machines, the lookup asks the store, with the store's
 * order (MAC, then UUID, then serial, then hostname); and while the store's feed is down (it hears nothing then),
 * until the `apply` of its reconnect has been read in full.
 * The script path reads it too: a one-shot is consumed by the store's compare-and-swap, never on this index's word.
 */
import { normalizeMac } from '../model/identity.ts';
import type { Machine } from '../model/types.ts';
import type { MachineLookup, Store, StoreChange } from '../store/types.ts';
import type { Change } from './change.ts';

/** Past this many machines the index is not built (about 1 KB each in memory): every lookup asks the store. */
const MAX_INDEXED = 200_000;
const PAGE = 1000;
/** findMachine's `receivedAt` for a request read before the call, when exactly is not known (HTTP). */
export const THIS_TURN = 'this-turn';
/** When a request was read: performance.now() of the read, or THIS_TURN. */
export type ReceivedAt = number | typeof THIS_TURN;

type Key = 'mac' | 'uuid' | 'serial' | 'hostname';
const ORDER: readonly Key[] = ['mac', 'uuid', 'serial', 'hostname'];

/** The lookup keys of a machine, normalised as the store compares them. */
function keysOf(m: Machine): [Key, string][] {
  const out: [Key, string][] = m.macs.map((mac) => ['mac', normalizeMac(mac) ?? mac]);
  if (m.uuid) out.push(['uuid', m.uuid.toLowerCase()]);
  if (m.serial) out.push(['serial', m.serial]);
  if (m.hostname) out.push(['hostname', m.hostname.toLowerCase()]);
  return out;
}

export class MachineIndex {
  private byId = new Map<string, Machine>();
  /** key → ids holding it; more than one id makes that key ambiguous, asked of the store. */
  private byKey: Record<Key, Map<string, Set<string>>> = fresh();
  /** `deaf`: the feed is down; every lookup asks the store until the feed's next `apply`. */
  private state: 'empty' | 'loading' | 'ready' | 'off' | 'deaf' = 'empty';
  /** Machines changed since the index last read them; while any is, lookups ask the store. */
  private readonly dirty = new Map<string, number>();
  private generation = 0;
  private seq = 0;
  /** The store's reader of writes nobody announces (othersChanges), where the engine has one. */
  private readonly unannounced?: () => StoreChange[];
  /** performance.now() taken just before that reader last ran. */
  private heardAt = Number.NEGATIVE_INFINITY;
  /** The read of unannounced writes waiting for the end of this turn of the event loop (hearThisTurn). */
  private hearing?: Promise<void>;

  constructor(
    private readonly store: Pick<Store, 'listMachines' | 'getMachine' | 'findMachine' | 'othersChanges'>,
    private readonly warn: (message: string) => void = () => {},
  ) {
    this.unannounced = store.othersChanges?.();
  }

  /**
   * The store's findMachine, answered from memory when the index is complete and the answer unambiguous.
   * `receivedAt` (performance.now() when the request was read, where the caller knows it) spares the read of
   * unannounced writes for a request read before that read last ran: a write the client could have followed (the
   * operator arms a one-shot, then boots the machine) was committed before the request reached us, so that read saw it.
   * A DHCP slice's packets were all read before its first lookup; one read serves them all. THIS_TURN: the request
   * was read before this call (an HTTP handler); the read waits for the turn's end and serves every such lookup.
   */
  async findMachine(q: MachineLookup, receivedAt?: ReceivedAt): Promise<Machine | undefined> {
    // Writes nobody announced (the CLI on the server's SQLite file), heard before answering: a machine changed
    // there is dirty now, so this very lookup asks the store.
    const read = this.unannounced;
    if (read) {
      if (receivedAt === THIS_TURN) await this.hearThisTurn(read);
      else if (receivedAt === undefined || receivedAt >= this.heardAt) this.hear(read);
    }
    if (this.state === 'empty') this.reload();
    if (this.state !== 'ready' || this.dirty.size > 0) return this.store.findMachine(q);
    const asked: Record<Key, string | undefined> = {
      mac: q.mac ? (normalizeMac(q.mac) ?? q.mac) : undefined,
      uuid: q.uuid?.toLowerCase(),
      serial: q.serial,
      hostname: q.hostname?.toLowerCase(),
    };
    for (const key of ORDER) {
      const value = asked[key];
      if (value === undefined) continue;
      const ids = this.byKey[key].get(value);
      if (!ids) continue;
      if (ids.size > 1) return this.store.findMachine(q);
      const [id] = ids;
      return this.byId.get(id as string);
    }
    return undefined;
  }

  private hear(read: () => StoreChange[]): void {
    const at = performance.now();
    for (const c of read()) this.changed(c);
    this.heardAt = at;
  }

  /**
   * One read of unannounced writes for every lookup asked until this turn of the event loop has run its I/O
   * callbacks (setImmediate runs right after them): each of those requests was read before the read, so it sees
   * any write its client could have followed. Under load one turn parses the requests of many connections.
   */
  private hearThisTurn(read: () => StoreChange[]): Promise<void> {
    this.hearing ??= new Promise<void>((resolve, reject) =>
      setImmediate(() => {
        this.hearing = undefined;
        try {
          this.hear(read);
          resolve();
        } catch (err) {
          reject(err);
        }
      }),
    );
    return this.hearing;
  }

  /** A write was announced: follow it. */
  changed(change: Pick<Change, 'kind' | 'id'> & { op?: string }): void {
    if (change.op === 'lost') {
      this.generation++;
      this.state = 'deaf';
      return;
    }
    if (this.state === 'empty' || (this.state === 'off' && change.kind !== 'inventory')) return;
    if (this.state === 'deaf' && change.kind !== 'inventory') return;
    if (change.kind === 'inventory' || (change.kind === 'machine' && change.id === undefined)) this.reload();
    else if (change.kind === 'machine' && change.id !== undefined) this.refresh(change.id);
  }

  /** Read every machine again (at the first lookup, after an apply, after the change feed reconnects). */
  private reload(): void {
    const generation = ++this.generation;
    this.state = 'loading';
    void this.readAll()
      .then((all) => {
        if (generation !== this.generation) return;
        if (!all) {
          this.state = 'off';
          this.warn(`more than ${MAX_INDEXED} machines: DHCP decisions look each machine up in the store`);
          return;
        }
        this.byId = new Map();
        this.byKey = fresh();
        for (const m of all) this.add(m);
        this.state = 'ready';
        // Changes heard during the read may predate what it saw: read those machines once more.
        for (const id of [...this.dirty.keys()]) this.refresh(id);
      })
      .catch((err: Error) => {
        if (generation !== this.generation) return;
        // Not ready: lookups keep asking the store; the next announced change tries again.
        this.state = 'empty';
        this.warn(`machine index: ${err.message}`);
      });
  }

  private async readAll(): Promise<Machine[] | undefined> {
    const all: Machine[] = [];
    let after: string | undefined;
    for (;;) {
      const page = await this.store.listMachines({ ...(after !== undefined ? { after } : {}), limit: PAGE });
      all.push(...page);
      if (all.length > MAX_INDEXED) return undefined;
      if (page.length < PAGE) return all;
      after = page.at(-1)?.id;
    }
  }

  private refresh(id: string): void {
    const mine = ++this.seq;
    this.dirty.set(id, mine);
    if (this.state !== 'ready') return;
    void this.store
      .getMachine(id)
      .then((m) => {
        // A later change of the same machine owns the entry now.
        if (this.dirty.get(id) !== mine) return;
        this.remove(id);
        if (m) this.add(m);
        this.dirty.delete(id);
      })
      .catch((err: Error) => {
        if (this.dirty.get(id) !== mine) return;
        // Stays dirty (lookups ask the store) until a full read succeeds.
        this.warn(`machine index: ${id}: ${err.message}`);
        this.state = 'empty';
      });
  }

  private add(m: Machine): void {
    this.byId.set(m.id, m);
    for (const [key, value] of keysOf(m)) {
      const ids = this.byKey[key].get(value);
      if (ids) ids.add(m.id);
      else this.byKey[key].set(value, new Set([m.id]));
    }
  }

  private remove(id: string): void {
    const m = this.byId.get(id);
    if (!m) return;
    this.byId.delete(id);
    for (const [key, value] of keysOf(m)) {
      const ids = this.byKey[key].get(value);
      ids?.delete(id);
      if (ids?.size === 0) this.byKey[key].delete(value);
    }
  }
}

function fresh(): Record<Key, Map<string, Set<string>>> {
  return { mac: new Map(), uuid: new Map(), serial: new Map(), hostname: new Map() };
}
