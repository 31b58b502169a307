/**
 * The inventory service: the one door to machines, profiles, groups, next actions, events and leases. The CLI, the
 * REST API and the web UI all call it; none of them opens the store. Every write is validated (model/validate.ts),
 * is durable when the call returns (the store's contract), and is announced on `changes` so caches (the boot
 * service's catalog, the DHCP reservations) follow without a restart. Writes other servers sharing the store make
 * arrive on the same `changes` (remote: true), so every cache follows them alike.
 */
import { EventEmitter } from 'node:events';
import { BootherdError } from '../errors.ts';
import { checkDocument } from '../model/document.ts';
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
} from '../model/types.ts';
import { checkGroup, checkMachine, checkNextAction, checkProfile, fieldError } from '../model/validate.ts';
import type { EventFilter, ServerRecord, Store, StoredLease } from '../store/types.ts';
import type { Change } from './change.ts';
import { cidrMatcher, type MachineQuery, machineFilter, pageLimit } from './machine-query.ts';
import type { BootService } from './service.ts';

export interface MachinePage {
  items: Machine[];
  next?: string;
  total: number;
}

/** Live DHCP leases, when this server runs DHCP in full mode; otherwise the stored ones are shown. */
export interface LeaseControl {
  list(): StoredLease[];
  release(ip: string): Promise<boolean>;
}

export interface LeaseView {
  ip: string;
  mac: string;
  hostname?: string;
  state: StoredLease['state'];
  expiresAt: string;
  machineId?: string;
}

/**
 * Filtered listings scan the store in chunks until the page is full: the first twice the page, each next one twice
 * the last, up to this many rows. A common filter fills a page of 100 from a few hundred rows; reading and parsing a
 * thousand every time cost more than the rest of the request.
 */
const SCAN_CHUNK = 1000;

/** Retention deletes in batches this size, so a large first prune never holds the store for long. */
const PRUNE_BATCH = 5000;

export class InventoryService {
  readonly changes = new EventEmitter<{ change: [Change] }>();
  private leaseControl?: LeaseControl;

  constructor(
    private readonly store: Store,
    private readonly boot: BootService,
    private readonly now: () => Date = () => new Date(),
  ) {
    this.changes.setMaxListeners(100);
    // The boot service caches profiles, groups and the machines' identities: every write is followed there.
    this.changes.on('change', (change) => boot.invalidate(change));
  }

  /** Set by the composition root when DHCP runs in full mode. */
  attachLeases(control: LeaseControl): void {
    this.leaseControl = control;
  }

  private changed(change: Change): void {
    this.changes.emit('change', change);
  }

  /**
   * Follow the writes other servers make to the shared store (the store publishes every write itself, in its
   * transaction, so nothing is published from here). Returns the unsubscribe.
   */
  follow(): () => void {
    return this.store.watchChanges((c) =>
      // Not a write: only the caches that trust the feed hear it (the next `apply` tells everyone to reload).
      c.op === 'lost' ? this.boot.invalidate(c) : this.changed({ ...c, op: c.op, remote: true }),
    );
  }

  /** The servers sharing this store, as their heartbeats left them. */
  listServers(): Promise<ServerRecord[]> {
    return this.store.listServers();
  }

  // Machines

  async listMachines(query: MachineQuery = {}): Promise<MachinePage> {
    const limit = pageLimit(query.limit);
    const match = machineFilter(query, this.now());
    const items: Machine[] = [];
    let after = query.cursor;
    // More may follow when the page filled up before the store ran out.
    let more = true;
    let scan = Math.min(limit * 2, SCAN_CHUNK);
    while (items.length < limit && more) {
      // Unfiltered: one more than the page needs, so a page that ends the list says so (no `next` to an empty page).
      const want = match ? scan : limit - items.length + 1;
      scan = Math.min(scan * 2, SCAN_CHUNK);
      const chunk = await this.store.listMachines({ ...(after === undefined ? {} : { after }), limit: want });
      more = chunk.length === want;
      for (const [i, m] of chunk.entries()) {
        after = m.id;
        if (match && !match(m)) continue;
        items.push(m);
        if (items.length === limit) {
          more ||= i < chunk.length - 1;
          break;
        }
      }
    }
    // Listings carry each machine's last step (stage and decision); its facts are in lastSeen already.
    const latest = await this.store.latestEvents(
      items.map((m) => m.id),
      { brief: true },
    );
    for (const m of items) {
      const e = latest.get(m.id);
      if (e) m.lastEvent = e;
    }
    const last = items.at(-1);
    return {
      items,
      ...(items.length === limit && last && more ? { next: last.id } : {}),
      total: await this.store.countMachines(),
    };
  }

  /**
   * A page of listMachines as JSON text. Unfiltered pages (the fleet view, automation walking the fleet) come
   * straight from the store's JSON; filtered ones are built from listMachines.
   */
  async listMachinesJson(query: MachineQuery = {}): Promise<string> {
    if (machineFilter(query, this.now())) return JSON.stringify(await this.listMachines(query));
    const limit = pageLimit(query.limit);
    // One more than the page needs, so a page that ends the list says so (no `next` to an empty page).
    const rows = await this.store.listMachinesJson({
      ...(query.cursor === undefined ? {} : { after: query.cursor }),
      limit: limit + 1,
    });
    const page = rows.slice(0, limit);
    const next = rows.length > limit ? page.at(-1)?.id : undefined;
    const total = await this.store.countMachines();
    return `{"items":[${page.map((r) => r.json).join(',')}]${next === undefined ? '' : `,"next":${JSON.stringify(next)}`},"total":${total}}`;
  }

  async getMachine(id: string): Promise<Machine> {
    const m = await this.store.getMachine(id);
    if (!m) throw new BootherdError('MACHINE_NOT_FOUND', `no machine "${id}"`);
    const e = (await this.store.latestEvents([id])).get(id);
    if (e) m.lastEvent = e;
    return m;
  }

  /**
   * Create (fails if the id exists) or replace a machine. Its last-seen facts are the server's and are kept. With
   * `ifVersion` (else the input's `version`), only over that version of the machine: VERSION_CONFLICT otherwise.
   */
  async putMachine(
    input: Machine,
    mode: 'create' | 'replace',
    options: { ifVersion?: number } = {},
  ): Promise<{ machine: Machine; created: boolean }> {
    const ifVersion = options.ifVersion ?? input.version;
    const m = checkMachine(input);
    await this.checkRefs(m);
    const old = await this.store.getMachine(m.id);
    if (old && mode === 'create')
      throw new BootherdError('CONFLICT', `machine "${m.id}" already exists`, { field: 'id' });
    if (old?.lastSeen) m.lastSeen = old.lastSeen;
    await this.store.putMachine(m, ifVersion === undefined ? {} : { ifVersion });
    this.changed({ kind: 'machine', id: m.id, op: 'put' });
    return { machine: await this.getMachine(m.id), created: !old };
  }

  async deleteMachine(id: string): Promise<void> {
    if (!(await this.store.deleteMachine(id))) throw new BootherdError('MACHINE_NOT_FOUND', `no machine "${id}"`);
    this.changed({ kind: 'machine', id, op: 'delete' });
  }

  async setNextAction(id: string, action: NextAction | null): Promise<Machine> {
    if (action) {
      checkNextAction('nextAction', action);
      if ('profile' in action && action.profile && !(await this.store.getProfile(action.profile)))
        throw new BootherdError('PROFILE_NOT_FOUND', `no profile "${action.profile}"`, { field: 'profile' });
    }
    if (!(await this.store.setNextAction(id, action)))
      throw new BootherdError('MACHINE_NOT_FOUND', `no machine "${id}"`);
    this.changed({ kind: 'machine', id, op: 'put' });
    return this.getMachine(id);
  }

  private async checkRefs(m: Machine): Promise<void> {
    if (m.profile && !(await this.store.getProfile(m.profile)))
      throw fieldError('profile', `no profile "${m.profile}"`);
    if (m.group && !(await this.store.getGroup(m.group))) throw fieldError('group', `no group "${m.group}"`);
    const next = m.nextAction;
    if (next && 'profile' in next && next.profile && !(await this.store.getProfile(next.profile)))
      throw fieldError('nextAction/profile', `no profile "${next.profile}"`);
    for (const [i, mac] of m.macs.entries()) {
      const owner = await this.store.findMachine({ mac });
      if (owner && owner.id !== m.id) throw fieldError(`macs/${i}`, `${mac} is already used by machine "${owner.id}"`);
    }
  }

  // Profiles and groups

  listProfiles(): Promise<Profile[]> {
    return this.store.listProfiles();
  }

  async getProfile(name: string): Promise<Profile> {
    const p = await this.store.getProfile(name);
    if (!p) throw new BootherdError('PROFILE_NOT_FOUND', `no profile "${name}"`);
    return p;
  }

  async putProfile(input: Profile, mode: 'create' | 'replace'): Promise<{ profile: Profile; created: boolean }> {
    const p = checkProfile(input);
    if (p.boot.kind === 'menu') {
      for (const [i, item] of (p.boot.items ?? []).entries())
        if (item !== p.name && !(await this.store.getProfile(item)))
          throw fieldError(`boot/items/${i}`, `no profile "${item}"`);
    }
    const old = await this.store.getProfile(p.name);
    if (old && mode === 'create')
      throw new BootherdError('CONFLICT', `profile "${p.name}" already exists`, { field: 'name' });
    await this.store.putProfile(p);
    this.changed({ kind: 'profile', id: p.name, op: 'put' });
    return { profile: p, created: !old };
  }

  async deleteProfile(name: string): Promise<void> {
    const users = [
      ...(await this.store.listProfiles())
        .filter((p) => p.name !== name && p.boot.kind === 'menu' && p.boot.items?.includes(name))
        .map((p) => `the menu of profile "${p.name}"`),
      ...(await this.store.listGroups()).filter((g) => g.profile === name).map((g) => `group "${g.name}"`),
      ...(await this.store.listMachines())
        .filter(
          (m) => m.profile === name || (m.nextAction && 'profile' in m.nextAction && m.nextAction.profile === name),
        )
        .map((m) => `machine "${m.id}"`),
    ];
    if (users.length)
      throw new BootherdError(
        'CONFLICT',
        `profile "${name}" is used by ${users.slice(0, 5).join(', ')}${users.length > 5 ? ', …' : ''}`,
      );
    if (!(await this.store.deleteProfile(name))) throw new BootherdError('PROFILE_NOT_FOUND', `no profile "${name}"`);
    this.changed({ kind: 'profile', id: name, op: 'delete' });
  }

  listGroups(): Promise<Group[]> {
    return this.store.listGroups();
  }

  async getGroup(name: string): Promise<Group> {
    const g = await this.store.getGroup(name);
    if (!g) throw new BootherdError('GROUP_NOT_FOUND', `no group "${name}"`);
    return g;
  }

  async putGroup(input: Group, mode: 'create' | 'replace'): Promise<{ group: Group; created: boolean }> {
    const g = checkGroup(input);
    if (g.profile && !(await this.store.getProfile(g.profile)))
      throw fieldError('profile', `no profile "${g.profile}"`);
    const old = await this.store.getGroup(g.name);
    if (old && mode === 'create')
      throw new BootherdError('CONFLICT', `group "${g.name}" already exists`, { field: 'name' });
    await this.store.putGroup(g);
    this.changed({ kind: 'group', id: g.name, op: 'put' });
    return { group: g, created: !old };
  }

  async deleteGroup(name: string): Promise<void> {
    const users = (await this.store.listMachines()).filter((m) => m.group === name).map((m) => `machine "${m.id}"`);
    if (users.length) throw new BootherdError('CONFLICT', `group "${name}" is used by ${users.slice(0, 5).join(', ')}`);
    if (!(await this.store.deleteGroup(name))) throw new BootherdError('GROUP_NOT_FOUND', `no group "${name}"`);
    this.changed({ kind: 'group', id: name, op: 'delete' });
  }

  // Whole documents

  async apply(inventory: Inventory, prune: boolean): Promise<ApplyResult> {
    // With prune the document is the whole inventory: its references must resolve inside it.
    const known = prune
      ? undefined
      : {
          profiles: (await this.store.listProfiles()).map((p) => p.name),
          groups: (await this.store.listGroups()).map((g) => g.name),
        };
    const result = await this.store.apply(checkDocument(inventory, known), { prune });
    this.changed({ kind: 'inventory', op: 'apply' });
    return result;
  }

  export(): Promise<Inventory> {
    return this.store.export();
  }

  // Events

  async events(filter: EventFilter): Promise<{ items: BootEvent[]; next?: string }> {
    const limit = pageLimit(filter.limit);
    const mac = filter.mac === undefined ? undefined : (normalizeMac(filter.mac) ?? filter.mac);
    const items = await this.store.listEvents({ ...filter, ...(mac ? { mac } : {}), limit });
    const last = items.at(-1);
    return { items, ...(items.length === limit && last?.id !== undefined ? { next: String(last.id) } : {}) };
  }

  /** Boot log retention: deletes the events beyond the newest `keepEvents` and those older than `keepDays`. */
  async pruneBootLog(keep: { keepEvents: number; keepDays: number }, now: Date = new Date()): Promise<number> {
    const before = new Date(now.getTime() - keep.keepDays * 86_400_000).toISOString();
    return this.store.pruneBootLog({ keep: keep.keepEvents, before, batch: PRUNE_BATCH });
  }

  discovered(limit = 200): Promise<DiscoveredMachine[]> {
    return this.store.listDiscovered(Math.min(Math.max(limit, 1), 1000));
  }

  /** The script a machine would get now, without consuming a one-shot or recording an event. */
  async preview(id: string, format: 'ipxe' | 'pxelinux') {
    return this.boot.preview(await this.getMachine(id), format);
  }

  // Leases

  async leases(filter: { subnet?: string; mac?: string }): Promise<LeaseView[]> {
    const all = this.leaseControl ? this.leaseControl.list() : await this.store.loadLeases();
    const inSubnet = filter.subnet ? cidrMatcher(filter.subnet) : undefined;
    const mac = filter.mac ? normalizeMac(filter.mac) : undefined;
    if (filter.mac && !mac) throw fieldError('mac', `"${filter.mac}" is not a MAC address`);
    const out: LeaseView[] = [];
    for (const l of all) {
      if (inSubnet && !inSubnet(l.ip)) continue;
      if (mac && l.mac !== mac) continue;
      const owner = await this.store.findMachine({ mac: l.mac });
      out.push({
        ip: l.ip,
        mac: l.mac,
        ...(l.hostname ? { hostname: l.hostname } : {}),
        state: l.state,
        expiresAt: new Date(l.expiresAt).toISOString(),
        ...(owner ? { machineId: owner.id } : {}),
      });
    }
    return out;
  }

  /** Release a lease: the address goes back to the pool (the DHCP server's, when it runs here). */
  async releaseLease(ip: string): Promise<void> {
    if (this.leaseControl) {
      if (!(await this.leaseControl.release(ip))) throw new BootherdError('LEASE_NOT_FOUND', `no lease for ${ip}`);
    } else {
      const lease = (await this.store.loadLeases()).find((l) => l.ip === ip);
      if (!lease) throw new BootherdError('LEASE_NOT_FOUND', `no lease for ${ip}`);
      await this.store.commitLeases([{ ...lease, state: 'released', expiresAt: this.now().getTime() }]);
    }
    this.changed({ kind: 'lease', id: ip, op: 'delete' });
  }
}
