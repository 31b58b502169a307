/**
 * The Store on SQL through kysely: one query layer for SQLite and PostgreSQL. Entities are kept as canonical JSON
 * documents plus the columns we look machines up by; a MAC is a row of its own so the database itself refuses a
 * MAC claimed by two machines.
 */
import type { Kysely } from 'kysely';
import { normalizeMac } from '../model/identity.ts';
import type {
  ApplyResult,
  BootEvent,
  Group,
  Inventory,
  Machine,
  NextAction,
  Profile,
  SeenFacts,
  TokenRecord,
} from '../model/types.ts';
import { canonical, machinesJson } from './canonical.ts';
import { deleteOldEvents, insertBootLog, selectDiscovered, selectEvents, selectLatestEvents } from './sql-events.ts';
import { claimLeasesSql, selectLeases, upsertLeases } from './sql-leases.ts';
import {
  appliedState,
  bumped,
  MACHINE_COLUMNS,
  machineDoc,
  normalizeMacs,
  toMachine,
  upsertNamed,
  writeMachine,
} from './sql-machines.ts';
import type { Database, Db } from './sql-schema.ts';
import { selectServers, upsertServer } from './sql-servers.ts';
import { removeToken, selectToken, selectTokens, updateTokenUse, upsertToken } from './sql-tokens.ts';
import type { EventFilter, LeaseClaim, MachineLookup, ServerRecord, Store, StoreChange, StoredLease } from './types.ts';

export class SqlStore implements Store {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly onClose: () => Promise<void> = async () => db.destroy(),
  ) {}

  /**
   * How an engine shared by several servers tells the others about a write, inside the write's transaction so a
   * notification means committed; none for a single-server engine.
   */
  protected notifier(): ((db: Db, change: StoreChange) => Promise<void>) | undefined {
    return undefined;
  }

  readonly changeFeed: boolean = false;

  /** A single-server engine: no other server writes, nothing to deliver. */
  watchChanges(_listener: (change: StoreChange) => void): () => void {
    return () => {};
  }

  /** Run a write and publish the change it made (if any): with a notifier, both in one transaction. */
  private async published<T>(
    write: (db: Db) => Promise<T>,
    change: (result: T) => StoreChange | undefined,
    transaction = false,
  ): Promise<T> {
    const notify = this.notifier();
    if (!notify) return transaction ? this.db.transaction().execute(write) : write(this.db);
    return this.db.transaction().execute(async (trx) => {
      const result = await write(trx);
      const c = change(result);
      if (c) await notify(trx, c);
      return result;
    });
  }

  async putProfile(p: Profile) {
    await this.published(
      (db) => upsertNamed(db, 'profiles', p.name, canonical(p)),
      () => ({ kind: 'profile', id: p.name, op: 'put' }),
    );
  }
  async getProfile(name: string) {
    const row = await this.db.selectFrom('profiles').select('doc').where('name', '=', name).executeTakeFirst();
    return row ? (JSON.parse(row.doc) as Profile) : undefined;
  }
  async listProfiles() {
    const rows = await this.db.selectFrom('profiles').select('doc').orderBy('name').execute();
    return rows.map((r) => JSON.parse(r.doc) as Profile);
  }
  async deleteProfile(name: string) {
    return this.published(
      async (db) => (await db.deleteFrom('profiles').where('name', '=', name).executeTakeFirst()).numDeletedRows > 0n,
      (done) => (done ? { kind: 'profile', id: name, op: 'delete' } : undefined),
    );
  }

  async putGroup(g: Group) {
    await this.published(
      (db) => upsertNamed(db, 'groups', g.name, canonical(g)),
      () => ({ kind: 'group', id: g.name, op: 'put' }),
    );
  }
  async getGroup(name: string) {
    const row = await this.db.selectFrom('groups').select('doc').where('name', '=', name).executeTakeFirst();
    return row ? (JSON.parse(row.doc) as Group) : undefined;
  }
  async listGroups() {
    const rows = await this.db.selectFrom('groups').select('doc').orderBy('name').execute();
    return rows.map((r) => JSON.parse(r.doc) as Group);
  }
  async deleteGroup(name: string) {
    return this.published(
      async (db) => (await db.deleteFrom('groups').where('name', '=', name).executeTakeFirst()).numDeletedRows > 0n,
      (done) => (done ? { kind: 'group', id: name, op: 'delete' } : undefined),
    );
  }

  async putMachine(m: Machine, options: { ifVersion?: number } = {}) {
    await this.published(
      (db) => writeMachine(db, m, undefined, options.ifVersion),
      () => ({ kind: 'machine', id: m.id, op: 'put' }),
      true,
    );
  }

  async getMachine(id: string) {
    const row = await this.db.selectFrom('machines').select(MACHINE_COLUMNS).where('id', '=', id).executeTakeFirst();
    return row ? toMachine(row) : undefined;
  }
  async listMachines(page: { after?: string; limit?: number } = {}) {
    let q = this.db.selectFrom('machines').select(MACHINE_COLUMNS).orderBy('id');
    if (page.after !== undefined) q = q.where('id', '>', page.after);
    if (page.limit !== undefined) q = q.limit(page.limit);
    return (await q.execute()).map(toMachine);
  }
  listMachinesJson(page: { after?: string; limit: number }) {
    return machinesJson(this, page);
  }
  async countMachines() {
    const row = await this.db
      .selectFrom('machines')
      .select((eb) => eb.fn.countAll().as('n'))
      .executeTakeFirstOrThrow();
    return Number(row.n);
  }
  async deleteMachine(id: string) {
    return this.published(
      async (trx) => {
        await trx.deleteFrom('machine_macs').where('machine_id', '=', id).execute();
        const r = await trx.deleteFrom('machines').where('id', '=', id).executeTakeFirst();
        return r.numDeletedRows > 0n;
      },
      (done) => (done ? { kind: 'machine', id, op: 'delete' } : undefined),
      true,
    );
  }

  async findMachine(q: MachineLookup) {
    const mac = q.mac ? normalizeMac(q.mac) : undefined;
    const base = () => this.db.selectFrom('machines').selectAll('machines').orderBy('machines.id').limit(1);
    const tries = [
      mac &&
        (() =>
          base()
            .innerJoin('machine_macs', 'machine_macs.machine_id', 'machines.id')
            .where('machine_macs.mac', '=', mac)),
      q.uuid && (() => base().where('uuid', '=', q.uuid!.toLowerCase())),
      q.serial && (() => base().where('serial', '=', q.serial!)),
      q.hostname && (() => base().where('hostname', '=', q.hostname!.toLowerCase())),
    ];
    for (const t of tries) {
      if (!t) continue;
      const row = await t().executeTakeFirst();
      if (row) return toMachine(row);
    }
    return undefined;
  }

  async setNextAction(id: string, action: NextAction | null) {
    return this.published(
      async (db) => {
        const r = await db
          .updateTable('machines')
          .set({ next_action: action ? canonical(action) : null, version: bumped })
          .where('id', '=', id)
          .executeTakeFirst();
        return r.numUpdatedRows > 0n;
      },
      (done) => (done ? { kind: 'machine', id, op: 'put' } : undefined),
    );
  }

  async swapNextAction(id: string, expected: NextAction, next: NextAction | null) {
    // Compare-and-swap in one statement: of two racing requests only one sees its expected value. The consume is a
    // write like any other: the version moves (a client's stale PUT cannot re-arm it) and other servers hear of it.
    return this.published(
      async (db) => {
        const r = await db
          .updateTable('machines')
          .set({ next_action: next ? canonical(next) : null, version: bumped })
          .where('id', '=', id)
          .where('next_action', '=', canonical(expected))
          .executeTakeFirst();
        return r.numUpdatedRows > 0n;
      },
      (done) => (done ? { kind: 'machine', id, op: 'put' } : undefined),
    );
  }

  async writeBootLog(events: BootEvent[], seen: [string, SeenFacts][]) {
    await insertBootLog(this.db, events, seen);
  }
  async listEvents(filter: EventFilter) {
    return selectEvents(this.db, filter);
  }
  async pruneBootLog(options: { keep: number; before: string; batch: number }) {
    return deleteOldEvents(this.db, options);
  }
  async latestEvents(machineIds: string[], options: { brief?: boolean } = {}) {
    const events = await selectLatestEvents(this.db, machineIds);
    if (options.brief) for (const e of events.values()) e.facts = {};
    return events;
  }
  async listDiscovered(limit: number) {
    return selectDiscovered(this.db, limit);
  }

  async apply(inv: Inventory, { prune }: { prune: boolean }): Promise<ApplyResult> {
    return this.published(
      async (trx) => {
        const result: ApplyResult = { created: [], updated: [], unchanged: [], deleted: [] };
        const tally = (label: string, old: string | undefined, now: string) => {
          if (old === undefined) result.created.push(label);
          else if (old === now) result.unchanged.push(label);
          else result.updated.push(label);
          return old !== now;
        };
        for (const [table, kind, items] of [
          ['profiles', 'profile', inv.profiles],
          ['groups', 'group', inv.groups],
        ] as const) {
          const old = new Map(
            (await trx.selectFrom(table).select(['name', 'doc']).execute()).map((r) => [r.name, r.doc]),
          );
          for (const item of items) {
            const doc = canonical(item);
            if (tally(`${kind}/${item.name}`, old.get(item.name), doc)) await upsertNamed(trx, table, item.name, doc);
          }
        }
        const oldMachines = new Map((await trx.selectFrom('machines').selectAll().execute()).map((r) => [r.id, r]));
        if (prune) {
          // Machines go first, so a MAC can move from a pruned machine to a new one in the same document.
          const named = new Set(inv.machines.map((m) => m.id));
          for (const id of [...oldMachines.keys()].sort()) {
            if (named.has(id)) continue;
            await trx.deleteFrom('machine_macs').where('machine_id', '=', id).execute();
            await trx.deleteFrom('machines').where('id', '=', id).execute();
            result.deleted.push(`machine/${id}`);
          }
        }
        for (const m of inv.machines) {
          const old = oldMachines.get(m.id);
          const doc = canonical(machineDoc({ ...m, macs: normalizeMacs(m) }));
          const applied = appliedState(old, m.nextAction);
          const stateOf = (d: string, s: { next: string | null; appliedNext: string | null }) =>
            `${d}\u0000${s.next ?? ''}\u0000${s.appliedNext ?? ''}`;
          const before = old && stateOf(old.doc, { next: old.next_action, appliedNext: old.applied_next });
          if (tally(`machine/${m.id}`, before, stateOf(doc, applied))) await writeMachine(trx, m, applied);
        }
        if (prune) {
          const named = {
            group: new Set(inv.groups.map((g) => g.name)),
            profile: new Set(inv.profiles.map((p) => p.name)),
          };
          for (const [table, kind] of [
            ['groups', 'group'],
            ['profiles', 'profile'],
          ] as const) {
            const names = (await trx.selectFrom(table).select('name').orderBy('name').execute()).map((r) => r.name);
            for (const name of names) {
              if (named[kind].has(name)) continue;
              await trx.deleteFrom(table).where('name', '=', name).execute();
              result.deleted.push(`${kind}/${name}`);
            }
          }
        }
        return result;
      },
      (r) => (r.created.length + r.updated.length + r.deleted.length ? { kind: 'inventory', op: 'apply' } : undefined),
      true,
    );
  }

  async export(): Promise<Inventory> {
    const machines = (await this.listMachines()).map(({ lastSeen: _, version: _v, ...m }) => m);
    return { profiles: await this.listProfiles(), groups: await this.listGroups(), machines };
  }

  async loadLeases(): Promise<StoredLease[]> {
    return selectLeases(this.db);
  }
  async commitLeases(changes: StoredLease[]): Promise<void> {
    await upsertLeases(this.db, changes);
  }
  async claimLeases(changes: StoredLease[], claim: LeaseClaim): Promise<StoredLease[]> {
    return claimLeasesSql(this.db, changes, claim);
  }

  async putToken(token: TokenRecord) {
    await upsertToken(this.db, token);
  }
  async getToken(id: string) {
    return selectToken(this.db, id);
  }
  async listTokens() {
    return selectTokens(this.db);
  }
  async deleteToken(id: string) {
    return removeToken(this.db, id);
  }
  async touchToken(id: string, at: string) {
    await updateTokenUse(this.db, id, at);
  }

  async putServer(server: ServerRecord) {
    await upsertServer(this.db, server);
  }
  async listServers() {
    return selectServers(this.db);
  }

  async close() {
    await this.onClose();
  }
}
