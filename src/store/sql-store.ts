/**
 * The Store on SQL through kysely: one query layer for SQLite and PostgreSQL. Entities are kept as canonical JSON
 * documents plus the columns we look machines up by; a MAC is a row of its own so the database itself refuses a
 * MAC claimed by two machines.
 */
import type { Kysely } from 'kysely';
import { BootherdError } from '../errors.ts';
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
import { APPLIED_NEXT_UNKNOWN } from './migrations.ts';
import { deleteOldEvents, insertBootLog, selectDiscovered, selectEvents, selectLatestEvents } from './sql-events.ts';
import { selectLeases, upsertLeases } from './sql-leases.ts';
import type { Database, Db } from './sql-schema.ts';
import { removeToken, selectToken, selectTokens, updateTokenUse, upsertToken } from './sql-tokens.ts';
import type { EventFilter, MachineLookup, Store, StoredLease } from './types.ts';

type MachineRow = Database['machines'];

function machineDoc(m: Machine): Omit<Machine, 'nextAction' | 'lastSeen'> {
  const { nextAction: _n, lastSeen: _l, ...doc } = m;
  return doc;
}

function normalizeMacs(m: Machine): string[] {
  const macs = m.macs.map((x) => {
    const n = normalizeMac(x);
    if (!n) throw new BootherdError('INVENTORY_INVALID', `machine "${m.id}": "${x}" is not a MAC address`);
    return n;
  });
  return [...new Set(macs)];
}

/**
 * The columns a Machine is read from. Listings select only these: building rows with the lookup columns too
 * (uuid, serial, hostname, applied_next) doubles the cost of reading a page out of SQLite.
 */
const MACHINE_COLUMNS = ['doc', 'next_action', 'last_seen'] as const;

export function toMachine(row: Pick<MachineRow, (typeof MACHINE_COLUMNS)[number]>): Machine {
  const m = JSON.parse(row.doc) as Machine;
  if (row.next_action) m.nextAction = JSON.parse(row.next_action) as NextAction;
  if (row.last_seen) m.lastSeen = JSON.parse(row.last_seen) as SeenFacts;
  return m;
}

/**
 * What apply leaves as a machine's next action, like `kubectl apply`'s last-applied: a `next` the document already
 * named last time is not armed again (it may have been consumed since); a new or changed one is. A document that
 * names none keeps the current action and forgets the last applied one, so naming it again later re-arms it.
 * A machine from before this was recorded takes the document's `next` as already applied (see migrations.ts).
 */
function appliedState(old: MachineRow | undefined, docNext: NextAction | undefined) {
  const current = old?.next_action ?? null;
  if (!docNext) return { next: current, appliedNext: null };
  const named = canonical(docNext);
  const already = old && (named === old.applied_next || old.applied_next === APPLIED_NEXT_UNKNOWN);
  return { next: already ? current : named, appliedNext: named };
}

export class SqlStore implements Store {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly onClose: () => Promise<void> = async () => db.destroy(),
  ) {}

  async putProfile(p: Profile) {
    await this.upsertNamed(this.db, 'profiles', p.name, canonical(p));
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
    const r = await this.db.deleteFrom('profiles').where('name', '=', name).executeTakeFirst();
    return r.numDeletedRows > 0n;
  }

  async putGroup(g: Group) {
    await this.upsertNamed(this.db, 'groups', g.name, canonical(g));
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
    const r = await this.db.deleteFrom('groups').where('name', '=', name).executeTakeFirst();
    return r.numDeletedRows > 0n;
  }

  private async upsertNamed(db: Db, table: 'profiles' | 'groups', name: string, doc: string) {
    await db
      .insertInto(table)
      .values({ name, doc })
      .onConflict((oc) => oc.column('name').doUpdateSet({ doc }))
      .execute();
  }

  async putMachine(m: Machine) {
    await this.db.transaction().execute((trx) => this.writeMachine(trx, m));
  }

  /**
   * Write one machine and its MACs. Without `applied` the machine is replaced as given (applied_next untouched);
   * with it (apply), next action and applied_next are as computed there and a last-seen the document omits is kept.
   */
  private async writeMachine(db: Db, m: Machine, applied?: { next: string | null; appliedNext: string | null }) {
    const macs = normalizeMacs(m);
    if (macs.length) {
      const taken = await db
        .selectFrom('machine_macs')
        .select(['mac', 'machine_id'])
        .where('mac', 'in', macs)
        .where('machine_id', '!=', m.id)
        .orderBy('mac')
        .executeTakeFirst();
      if (taken) {
        throw new BootherdError(
          'INVENTORY_INVALID',
          `MAC ${taken.mac} of machine "${m.id}" is already used by machine "${taken.machine_id}"`,
        );
      }
    }
    const doc = canonical(machineDoc({ ...m, macs }));
    const lastSeen = m.lastSeen ? canonical(m.lastSeen) : null;
    const row = {
      doc,
      uuid: m.uuid?.toLowerCase() ?? null,
      serial: m.serial ?? null,
      hostname: m.hostname?.toLowerCase() ?? null,
      next_action: applied ? applied.next : m.nextAction ? canonical(m.nextAction) : null,
    };
    const update = applied
      ? { ...row, applied_next: applied.appliedNext, ...(lastSeen ? { last_seen: lastSeen } : {}) }
      : { ...row, last_seen: lastSeen };
    await db
      .insertInto('machines')
      .values({ id: m.id, ...row, last_seen: lastSeen, applied_next: applied?.appliedNext ?? null })
      .onConflict((oc) => oc.column('id').doUpdateSet(update))
      .execute();
    await db.deleteFrom('machine_macs').where('machine_id', '=', m.id).execute();
    if (macs.length)
      await db
        .insertInto('machine_macs')
        .values(macs.map((mac) => ({ mac, machine_id: m.id })))
        .execute();
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
    return this.db.transaction().execute(async (trx) => {
      await trx.deleteFrom('machine_macs').where('machine_id', '=', id).execute();
      const r = await trx.deleteFrom('machines').where('id', '=', id).executeTakeFirst();
      return r.numDeletedRows > 0n;
    });
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
    const r = await this.db
      .updateTable('machines')
      .set({ next_action: action ? canonical(action) : null })
      .where('id', '=', id)
      .executeTakeFirst();
    return r.numUpdatedRows > 0n;
  }

  async swapNextAction(id: string, expected: NextAction, next: NextAction | null) {
    // Compare-and-swap in one statement: of two racing requests only one sees its expected value.
    const r = await this.db
      .updateTable('machines')
      .set({ next_action: next ? canonical(next) : null })
      .where('id', '=', id)
      .where('next_action', '=', canonical(expected))
      .executeTakeFirst();
    return r.numUpdatedRows > 0n;
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
    return this.db.transaction().execute(async (trx) => {
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
          if (tally(`${kind}/${item.name}`, old.get(item.name), doc))
            await this.upsertNamed(trx, table, item.name, doc);
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
        if (tally(`machine/${m.id}`, before, stateOf(doc, applied))) await this.writeMachine(trx, m, applied);
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
    });
  }

  async export(): Promise<Inventory> {
    const machines = (await this.listMachines()).map(({ lastSeen: _, ...m }) => m);
    return { profiles: await this.listProfiles(), groups: await this.listGroups(), machines };
  }

  async loadLeases(): Promise<StoredLease[]> {
    return selectLeases(this.db);
  }
  async commitLeases(changes: StoredLease[]): Promise<void> {
    await upsertLeases(this.db, changes);
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

  async close() {
    await this.onClose();
  }
}
