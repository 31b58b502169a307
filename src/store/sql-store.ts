/**
 * The Store on SQL through kysely: one query layer for SQLite and PostgreSQL. Entities are kept as canonical JSON
 * documents plus the columns we look machines up by; a MAC is a row of its own so the database itself refuses a
 * MAC claimed by two machines.
 */
import type { Generated, Kysely, Transaction } from 'kysely';
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

export interface Database {
  profiles: { name: string; doc: string };
  groups: { name: string; doc: string };
  machines: {
    id: string;
    doc: string;
    uuid: string | null;
    serial: string | null;
    hostname: string | null;
    next_action: string | null;
    last_seen: string | null;
  };
  machine_macs: { mac: string; machine_id: string };
  dhcp_leases: {
    ip: string;
    mac: string;
    client_id: string | null;
    hostname: string | null;
    state: string;
    expires_at: number;
  };
  boot_events: {
    id: Generated<number>;
    at: string;
    machine_id: string | null;
    mac: string;
    stage: string;
    facts: string;
    decision: string;
  };
}

type Db = Kysely<Database> | Transaction<Database>;
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

function toMachine(row: MachineRow): Machine {
  const m = JSON.parse(row.doc) as Machine;
  if (row.next_action) m.nextAction = JSON.parse(row.next_action) as NextAction;
  if (row.last_seen) m.lastSeen = JSON.parse(row.last_seen) as SeenFacts;
  return m;
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
    await this.db.transaction().execute((trx) => this.writeMachine(trx, m, { keepState: false }));
  }

  /** Write one machine and its MACs. With keepState, a next action or last-seen the document omits is kept. */
  private async writeMachine(db: Db, m: Machine, { keepState }: { keepState: boolean }) {
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
    const next = m.nextAction ? canonical(m.nextAction) : null;
    const row = {
      doc,
      uuid: m.uuid?.toLowerCase() ?? null,
      serial: m.serial ?? null,
      hostname: m.hostname?.toLowerCase() ?? null,
    };
    const lastSeen = m.lastSeen ? canonical(m.lastSeen) : null;
    await db
      .insertInto('machines')
      .values({ id: m.id, ...row, next_action: next, last_seen: lastSeen })
      .onConflict((oc) =>
        oc
          .column('id')
          .doUpdateSet(
            keepState
              ? { ...row, ...(next ? { next_action: next } : {}), ...(lastSeen ? { last_seen: lastSeen } : {}) }
              : { ...row, next_action: next, last_seen: lastSeen },
          ),
      )
      .execute();
    await db.deleteFrom('machine_macs').where('machine_id', '=', m.id).execute();
    if (macs.length)
      await db
        .insertInto('machine_macs')
        .values(macs.map((mac) => ({ mac, machine_id: m.id })))
        .execute();
  }

  async getMachine(id: string) {
    const row = await this.db.selectFrom('machines').selectAll().where('id', '=', id).executeTakeFirst();
    return row ? toMachine(row) : undefined;
  }
  async listMachines() {
    const rows = await this.db.selectFrom('machines').selectAll().orderBy('id').execute();
    return rows.map(toMachine);
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
    if (!events.length && !seen.length) return;
    await this.db.transaction().execute(async (trx) => {
      // 7 columns a row: 100 rows a statement stays far below every engine's bound-parameter limit.
      for (let i = 0; i < events.length; i += 100) {
        await trx
          .insertInto('boot_events')
          .values(
            events.slice(i, i + 100).map((e) => ({
              at: e.at,
              machine_id: e.machineId ?? null,
              mac: e.mac,
              stage: e.stage,
              facts: canonical(e.facts),
              decision: canonical(e.decision),
            })),
          )
          .execute();
      }
      for (const [id, facts] of seen) {
        await trx
          .updateTable('machines')
          .set({ last_seen: canonical(facts) })
          .where('id', '=', id)
          .execute();
      }
    });
  }

  async listEvents(f: { machineId?: string; mac?: string; limit?: number }) {
    let q = this.db
      .selectFrom('boot_events')
      .selectAll()
      .orderBy('id', 'desc')
      .limit(f.limit ?? 100);
    if (f.machineId !== undefined) q = q.where('machine_id', '=', f.machineId);
    if (f.mac !== undefined) q = q.where('mac', '=', f.mac);
    const rows = await q.execute();
    return rows.map(
      (r): BootEvent => ({
        id: Number(r.id),
        at: r.at,
        ...(r.machine_id === null ? {} : { machineId: r.machine_id }),
        mac: r.mac,
        stage: r.stage as BootEvent['stage'],
        facts: JSON.parse(r.facts) as BootEvent['facts'],
        decision: JSON.parse(r.decision) as BootEvent['decision'],
      }),
    );
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
      for (const m of inv.machines) {
        const old = oldMachines.get(m.id);
        const doc = canonical(machineDoc({ ...m, macs: normalizeMacs(m) }));
        // The document's next action counts only when it names one; otherwise the operator's current one stays.
        const stateOf = (d: string, next: string | null | undefined) => `${d}\u0000${next ?? ''}`;
        const now = stateOf(doc, m.nextAction ? canonical(m.nextAction) : old?.next_action);
        if (tally(`machine/${m.id}`, old && stateOf(old.doc, old.next_action), now)) {
          await this.writeMachine(trx, m, { keepState: true });
        }
      }
      if (prune) {
        const named = {
          machine: new Set(inv.machines.map((m) => m.id)),
          group: new Set(inv.groups.map((g) => g.name)),
          profile: new Set(inv.profiles.map((p) => p.name)),
        };
        for (const id of [...oldMachines.keys()].sort()) {
          if (named.machine.has(id)) continue;
          await trx.deleteFrom('machine_macs').where('machine_id', '=', id).execute();
          await trx.deleteFrom('machines').where('id', '=', id).execute();
          result.deleted.push(`machine/${id}`);
        }
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
    const rows = await this.db.selectFrom('dhcp_leases').selectAll().orderBy('ip').execute();
    return rows.map((r) => ({
      ip: r.ip,
      mac: r.mac,
      ...(r.client_id === null ? {} : { clientId: r.client_id }),
      ...(r.hostname === null ? {} : { hostname: r.hostname }),
      state: r.state as StoredLease['state'],
      expiresAt: Number(r.expires_at),
    }));
  }

  async commitLeases(changes: StoredLease[]): Promise<void> {
    if (!changes.length) return;
    await this.db.transaction().execute(async (trx) => {
      for (const l of changes) {
        const row = {
          mac: l.mac,
          client_id: l.clientId ?? null,
          hostname: l.hostname ?? null,
          state: l.state,
          expires_at: l.expiresAt,
        };
        await trx
          .insertInto('dhcp_leases')
          .values({ ip: l.ip, ...row })
          .onConflict((oc) => oc.column('ip').doUpdateSet(row))
          .execute();
      }
    });
  }

  async close() {
    await this.onClose();
  }
}
