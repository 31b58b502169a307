/**
 * An in-memory Store: no durability, for tests and `store: memory:` dry runs. It passes the same conformance suite
 * as every other engine, so code tested against it behaves the same on SQLite.
 */

import { BootherdError } from '../errors.ts';
import { normalizeMac } from '../model/identity.ts';
import type {
  ApplyResult,
  BootEvent,
  DiscoveredMachine,
  Group,
  Inventory,
  Machine,
  NextAction,
  Profile,
  SeenFacts,
  TokenRecord,
} from '../model/types.ts';
import { canonical, machinesJson } from './canonical.ts';
import { versionConflict } from './sql-machines.ts';
import type { EventFilter, LeaseClaim, MachineLookup, ServerRecord, Store, StoreChange, StoredLease } from './types.ts';

const clone = <T>(v: T): T => structuredClone(v);
const same = (a: unknown, b: unknown) => canonical(a) === canonical(b);
/** Code-unit order, as SQL's binary text comparison: keyset paging (`id > after`) must agree with the sort. */
const byKey = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** May `change` overwrite the stored lease `held` at `now` (Store.claimLeases)? */
function claimable(held: StoredLease, change: StoredLease, now: number): boolean {
  const active =
    (held.state === 'offered' || held.state === 'bound' || held.state === 'declined') && held.expiresAt > now;
  if (!active) return true;
  const same =
    held.clientId !== undefined && change.clientId !== undefined
      ? held.clientId === change.clientId
      : held.mac === change.mac;
  return (
    same &&
    held.state !== 'declined' &&
    change.state !== 'expired' &&
    !(change.state === 'offered' && held.state === 'bound')
  );
}

export class MemoryStore implements Store {
  private profiles = new Map<string, Profile>();
  private groups = new Map<string, Group>();
  private machines = new Map<string, Machine>();
  /** Per machine, canonical JSON of the `next` the last applied document named (see apply). */
  private appliedNext = new Map<string, string>();
  private tokens = new Map<string, TokenRecord>();
  private events: BootEvent[] = [];
  private nextEventId = 1;
  /** Per machine, bumped by every write (kept apart so apply compares documents, not versions). */
  private versions = new Map<string, number>();
  private servers = new Map<string, ServerRecord>();

  /** A stored machine as read: a copy, with its version. */
  private out(m: Machine | undefined): Machine | undefined {
    return m && { ...clone(m), version: this.versions.get(m.id) ?? 1 };
  }
  private bump(id: string): void {
    this.versions.set(id, (this.versions.get(id) ?? 0) + 1);
  }

  async putProfile(p: Profile) {
    this.profiles.set(p.name, clone(p));
  }
  async getProfile(name: string) {
    return clone(this.profiles.get(name));
  }
  async listProfiles() {
    return [...this.profiles.values()].sort((a, b) => byKey(a.name, b.name)).map(clone);
  }
  async deleteProfile(name: string) {
    return this.profiles.delete(name);
  }

  async putGroup(g: Group) {
    this.groups.set(g.name, clone(g));
  }
  async getGroup(name: string) {
    return clone(this.groups.get(name));
  }
  async listGroups() {
    return [...this.groups.values()].sort((a, b) => byKey(a.name, b.name)).map(clone);
  }
  async deleteGroup(name: string) {
    return this.groups.delete(name);
  }

  private normalize(m: Machine): Machine {
    const macs = m.macs.map((x) => {
      const n = normalizeMac(x);
      if (!n) throw new BootherdError('INVENTORY_INVALID', `machine "${m.id}": "${x}" is not a MAC address`);
      return n;
    });
    for (const other of this.machines.values()) {
      if (other.id === m.id) continue;
      const dup = macs.find((x) => other.macs.includes(x));
      if (dup)
        throw new BootherdError(
          'INVENTORY_INVALID',
          `MAC ${dup} of machine "${m.id}" is already used by machine "${other.id}"`,
        );
    }
    return { ...clone(m), macs };
  }

  async putMachine(m: Machine, options: { ifVersion?: number } = {}) {
    const current = this.machines.has(m.id) ? this.versions.get(m.id) : undefined;
    if (options.ifVersion !== undefined && current !== options.ifVersion)
      throw versionConflict(m.id, options.ifVersion, current);
    const { version: _, ...doc } = m;
    this.machines.set(m.id, this.normalize(doc));
    this.bump(m.id);
  }
  async getMachine(id: string) {
    return this.out(this.machines.get(id));
  }
  async listMachines(page: { after?: string; limit?: number } = {}) {
    const { after } = page;
    const all = [...this.machines.values()]
      .filter((m) => after === undefined || m.id > after)
      .sort((a, b) => byKey(a.id, b.id));
    return all.slice(0, page.limit ?? all.length).map((m) => this.out(m)!);
  }
  listMachinesJson(page: { after?: string; limit: number }) {
    return machinesJson(this, page);
  }
  async countMachines() {
    return this.machines.size;
  }
  async deleteMachine(id: string) {
    this.appliedNext.delete(id);
    this.versions.delete(id);
    return this.machines.delete(id);
  }
  async findMachine(q: MachineLookup) {
    const all = [...this.machines.values()].sort((a, b) => byKey(a.id, b.id));
    const mac = q.mac ? normalizeMac(q.mac) : undefined;
    const hit =
      (mac && all.find((m) => m.macs.includes(mac))) ||
      (q.uuid && all.find((m) => m.uuid?.toLowerCase() === q.uuid?.toLowerCase())) ||
      (q.serial && all.find((m) => m.serial === q.serial)) ||
      (q.hostname && all.find((m) => m.hostname?.toLowerCase() === q.hostname?.toLowerCase())) ||
      undefined;
    return this.out(hit);
  }

  async setNextAction(id: string, action: NextAction | null) {
    const m = this.machines.get(id);
    if (!m) return false;
    if (action) m.nextAction = clone(action);
    else delete m.nextAction;
    this.bump(id);
    return true;
  }
  async swapNextAction(id: string, expected: NextAction, next: NextAction | null) {
    const m = this.machines.get(id);
    if (!m || !same(m.nextAction, expected)) return false;
    return this.setNextAction(id, next);
  }
  async writeBootLog(events: BootEvent[], seen: [string, SeenFacts][]) {
    for (const e of events) this.events.push({ ...clone(e), id: this.nextEventId++ });
    for (const [id, facts] of seen) {
      const m = this.machines.get(id);
      if (m) m.lastSeen = clone(facts);
    }
  }

  async pruneBootLog({ keep, before }: { keep: number; before: string; batch: number }) {
    let n = 0;
    while (this.events.length && (this.events.length > keep || this.events[0]!.at < before)) {
      this.events.shift();
      n++;
    }
    return n;
  }

  async listEvents(f: EventFilter) {
    const hits: BootEvent[] = [];
    const limit = f.limit ?? 100;
    // Events are kept in id order: walk back from the newest.
    for (let i = this.events.length - 1; i >= 0 && hits.length < limit; i--) {
      const e = this.events[i]!;
      if (f.before !== undefined && e.id! >= f.before) continue;
      if (f.machineId !== undefined && e.machineId !== f.machineId) continue;
      if (f.mac !== undefined && e.mac !== f.mac) continue;
      if (f.stage !== undefined && e.stage !== f.stage) continue;
      hits.push(clone(e));
    }
    return hits;
  }

  async latestEvents(machineIds: string[], options: { brief?: boolean } = {}) {
    const wanted = new Set(machineIds);
    const out = new Map<string, BootEvent>();
    for (let i = this.events.length - 1; i >= 0 && out.size < wanted.size; i--) {
      const e = this.events[i]!;
      if (e.machineId !== undefined && wanted.has(e.machineId) && !out.has(e.machineId))
        out.set(e.machineId, options.brief ? { ...clone(e), facts: {} } : clone(e));
    }
    return out;
  }

  async listDiscovered(limit: number) {
    const claimed = new Set([...this.machines.values()].flatMap((m) => m.macs));
    const byMac = new Map<string, DiscoveredMachine & { lastId: number }>();
    for (const e of this.events) {
      if (e.machineId !== undefined || e.mac === '' || claimed.has(e.mac)) continue;
      const d = byMac.get(e.mac);
      if (!d) {
        byMac.set(e.mac, { mac: e.mac, firstSeen: e.at, lastSeen: e.at, facts: e.facts, lastId: e.id! });
        continue;
      }
      if (e.at < d.firstSeen) d.firstSeen = e.at;
      if (e.at > d.lastSeen) d.lastSeen = e.at;
      // Ascending ids: the newest event's facts win.
      d.facts = e.facts;
      d.lastId = e.id!;
    }
    return [...byMac.values()]
      .sort((a, b) => byKey(b.lastSeen, a.lastSeen) || b.lastId - a.lastId)
      .slice(0, limit)
      .map(({ lastId: _, ...d }) => clone(d));
  }

  async apply(inv: Inventory, { prune }: { prune: boolean }): Promise<ApplyResult> {
    const result: ApplyResult = { created: [], updated: [], unchanged: [], deleted: [] };
    const backup = {
      p: new Map(this.profiles),
      g: new Map(this.groups),
      m: new Map(this.machines),
      a: new Map(this.appliedNext),
      v: new Map(this.versions),
    };
    try {
      const upsert = <T>(kind: string, key: string, value: T, old: T | undefined, put: () => void) => {
        const label = `${kind}/${key}`;
        if (!old) result.created.push(label);
        else if (same(old, value)) return result.unchanged.push(label);
        else result.updated.push(label);
        put();
      };
      for (const p of inv.profiles)
        upsert('profile', p.name, p, this.profiles.get(p.name), () => this.profiles.set(p.name, clone(p)));
      for (const g of inv.groups)
        upsert('group', g.name, g, this.groups.get(g.name), () => this.groups.set(g.name, clone(g)));
      const del = <T>(kind: string, map: Map<string, T>, names: Set<string>) => {
        for (const k of [...map.keys()].sort()) if (!names.has(k)) map.delete(k) && result.deleted.push(`${kind}/${k}`);
      };
      if (prune) {
        // Machines go first, so a MAC can move from a pruned machine to a new one in the same document.
        del('machine', this.machines, new Set(inv.machines.map((m) => m.id)));
        for (const id of [...this.appliedNext.keys()]) if (!this.machines.has(id)) this.appliedNext.delete(id);
      }
      for (const m of inv.machines) {
        const old = this.machines.get(m.id);
        // Like kubectl's last-applied: a `next` this document already named last time is not armed again (it may
        // have been consumed since); a new or changed one is. Without one the current action stays and is forgotten.
        const named = m.nextAction ? canonical(m.nextAction) : undefined;
        const recorded = this.appliedNext.get(m.id);
        const keep = !named || (old && named === recorded);
        const nextAction = keep ? old?.nextAction : m.nextAction;
        // Operator state the document does not mention survives a re-apply.
        const merged = this.normalize({ ...m, nextAction, lastSeen: old?.lastSeen });
        if (merged.nextAction === undefined) delete merged.nextAction;
        if (merged.lastSeen === undefined) delete merged.lastSeen;
        const state = { machine: merged, appliedNext: named ?? null };
        const oldState = old && { machine: old, appliedNext: recorded ?? null };
        upsert('machine', m.id, state, oldState, () => {
          this.machines.set(m.id, merged);
          this.bump(m.id);
          if (named) this.appliedNext.set(m.id, named);
          else this.appliedNext.delete(m.id);
        });
      }
      if (prune) {
        const keep = (names: string[]) => new Set(names);
        del('group', this.groups, keep(inv.groups.map((g) => g.name)));
        del('profile', this.profiles, keep(inv.profiles.map((p) => p.name)));
      }
      return result;
    } catch (err) {
      this.profiles = backup.p;
      this.groups = backup.g;
      this.machines = backup.m;
      this.appliedNext = backup.a;
      this.versions = backup.v;
      throw err;
    }
  }

  async export(): Promise<Inventory> {
    const machines = (await this.listMachines()).map(({ lastSeen: _, version: _v, ...m }) => m);
    return { profiles: await this.listProfiles(), groups: await this.listGroups(), machines };
  }

  private leases = new Map<string, StoredLease>();
  async loadLeases() {
    return [...this.leases.values()].sort((a, b) => (a.ip < b.ip ? -1 : 1)).map(clone);
  }
  async commitLeases(changes: StoredLease[]) {
    for (const l of changes) {
      const { server: _, ...blind } = clone(l);
      const kept = this.leases.get(l.ip)?.server;
      this.leases.set(l.ip, kept === undefined ? blind : { ...blind, server: kept });
    }
  }
  /** The SQL engines' claim condition (sql-leases.ts CLAIM_CONDITION), in one synchronous pass: nothing interleaves. */
  async claimLeases(changes: StoredLease[], claim: LeaseClaim) {
    const refused: StoredLease[] = [];
    for (const l of changes) {
      const held = this.leases.get(l.ip);
      if (!held || claimable(held, l, claim.now)) this.leases.set(l.ip, { ...clone(l), server: claim.server });
      else refused.push(clone(held));
    }
    return refused;
  }

  async putToken(t: TokenRecord) {
    this.tokens.set(t.id, clone(t));
  }
  async getToken(id: string) {
    return clone(this.tokens.get(id));
  }
  async listTokens() {
    return [...this.tokens.values()].sort((a, b) => byKey(a.createdAt, b.createdAt) || byKey(a.id, b.id)).map(clone);
  }
  async deleteToken(id: string) {
    return this.tokens.delete(id);
  }
  async touchToken(id: string, at: string) {
    const t = this.tokens.get(id);
    // Uses can be recorded out of order (concurrent requests): keep the latest.
    if (t && (t.lastUsedAt === undefined || t.lastUsedAt < at)) t.lastUsedAt = at;
  }

  readonly changeFeed = false;

  /** One process, one server: no other writer to hear from. */
  watchChanges(_listener: (change: StoreChange) => void): () => void {
    return () => {};
  }

  async putServer(server: ServerRecord) {
    this.servers.set(server.id, clone(server));
  }
  async listServers() {
    return [...this.servers.values()].sort((a, b) => byKey(a.name, b.name) || byKey(a.id, b.id)).map(clone);
  }

  async close() {}
}
