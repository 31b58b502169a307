/**
 * An in-memory Store: no durability, for tests and `store: memory:` dry runs. It passes the same conformance suite
 * as every other engine, so code tested against it behaves the same on SQLite.
 */
import { normalizeMac } from '../boot/identity.ts';
import { BootherdError } from '../errors.ts';
import { canonical } from './canonical.ts';
import type {
  ApplyResult,
  BootEvent,
  Group,
  Inventory,
  Machine,
  MachineLookup,
  NextAction,
  Profile,
  SeenFacts,
  Store,
  StoredLease,
} from './types.ts';

const clone = <T>(v: T): T => structuredClone(v);
const same = (a: unknown, b: unknown) => canonical(a) === canonical(b);

export class MemoryStore implements Store {
  private profiles = new Map<string, Profile>();
  private groups = new Map<string, Group>();
  private machines = new Map<string, Machine>();
  private events: BootEvent[] = [];
  private nextEventId = 1;

  async putProfile(p: Profile) {
    this.profiles.set(p.name, clone(p));
  }
  async getProfile(name: string) {
    return clone(this.profiles.get(name));
  }
  async listProfiles() {
    return [...this.profiles.values()].sort((a, b) => a.name.localeCompare(b.name)).map(clone);
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
    return [...this.groups.values()].sort((a, b) => a.name.localeCompare(b.name)).map(clone);
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

  async putMachine(m: Machine) {
    this.machines.set(m.id, this.normalize(m));
  }
  async getMachine(id: string) {
    return clone(this.machines.get(id));
  }
  async listMachines() {
    return [...this.machines.values()].sort((a, b) => a.id.localeCompare(b.id)).map(clone);
  }
  async deleteMachine(id: string) {
    return this.machines.delete(id);
  }
  async findMachine(q: MachineLookup) {
    const all = [...this.machines.values()].sort((a, b) => a.id.localeCompare(b.id));
    const mac = q.mac ? normalizeMac(q.mac) : undefined;
    const hit =
      (mac && all.find((m) => m.macs.includes(mac))) ||
      (q.uuid && all.find((m) => m.uuid?.toLowerCase() === q.uuid?.toLowerCase())) ||
      (q.serial && all.find((m) => m.serial === q.serial)) ||
      (q.hostname && all.find((m) => m.hostname?.toLowerCase() === q.hostname?.toLowerCase())) ||
      undefined;
    return clone(hit);
  }

  async setNextAction(id: string, action: NextAction | null) {
    const m = this.machines.get(id);
    if (!m) return false;
    if (action) m.nextAction = clone(action);
    else delete m.nextAction;
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

  async listEvents(f: { machineId?: string; mac?: string; limit?: number }) {
    return this.events
      .filter(
        (e) => (f.machineId === undefined || e.machineId === f.machineId) && (f.mac === undefined || e.mac === f.mac),
      )
      .sort((a, b) => (b.id ?? 0) - (a.id ?? 0))
      .slice(0, f.limit ?? 100)
      .map(clone);
  }

  async apply(inv: Inventory, { prune }: { prune: boolean }): Promise<ApplyResult> {
    const result: ApplyResult = { created: [], updated: [], unchanged: [], deleted: [] };
    const backup = { p: new Map(this.profiles), g: new Map(this.groups), m: new Map(this.machines) };
    try {
      const upsert = <T>(kind: string, map: Map<string, T>, key: string, value: T, put: () => void) => {
        const old = map.get(key);
        const label = `${kind}/${key}`;
        if (!old) result.created.push(label);
        else if (same(old, value)) return result.unchanged.push(label);
        else result.updated.push(label);
        put();
      };
      for (const p of inv.profiles)
        upsert('profile', this.profiles, p.name, p, () => this.profiles.set(p.name, clone(p)));
      for (const g of inv.groups) upsert('group', this.groups, g.name, g, () => this.groups.set(g.name, clone(g)));
      for (const m of inv.machines) {
        const old = this.machines.get(m.id);
        // Operator state the document does not mention survives a re-apply.
        const merged = this.normalize({ ...m, nextAction: m.nextAction ?? old?.nextAction, lastSeen: old?.lastSeen });
        if (merged.nextAction === undefined) delete merged.nextAction;
        if (merged.lastSeen === undefined) delete merged.lastSeen;
        upsert('machine', this.machines, m.id, merged, () => this.machines.set(m.id, merged));
      }
      if (prune) {
        const keep = (names: string[]) => new Set(names);
        const del = <T>(kind: string, map: Map<string, T>, names: Set<string>) => {
          for (const k of [...map.keys()].sort())
            if (!names.has(k)) map.delete(k) && result.deleted.push(`${kind}/${k}`);
        };
        del('machine', this.machines, keep(inv.machines.map((m) => m.id)));
        del('group', this.groups, keep(inv.groups.map((g) => g.name)));
        del('profile', this.profiles, keep(inv.profiles.map((p) => p.name)));
      }
      return result;
    } catch (err) {
      this.profiles = backup.p;
      this.groups = backup.g;
      this.machines = backup.m;
      throw err;
    }
  }

  async export(): Promise<Inventory> {
    const machines = (await this.listMachines()).map(({ lastSeen: _, ...m }) => m);
    return { profiles: await this.listProfiles(), groups: await this.listGroups(), machines };
  }

  private leases = new Map<string, StoredLease>();
  async loadLeases() {
    return [...this.leases.values()].sort((a, b) => (a.ip < b.ip ? -1 : 1)).map(clone);
  }
  async commitLeases(changes: StoredLease[]) {
    for (const l of changes) this.leases.set(l.ip, clone(l));
  }

  async close() {}
}
