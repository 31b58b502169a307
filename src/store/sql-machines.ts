/**
 * Writing machines, profiles and groups on SQL, shared by single writes and apply: canonical documents, a MAC row per
 * address, and a version bumped by every write of a machine (optimistic locking).
 */
import { type Selectable, sql } from 'kysely';
import { BootherdError } from '../errors.ts';
import { normalizeMac } from '../model/identity.ts';
import type { Machine, NextAction, SeenFacts } from '../model/types.ts';
import { canonical } from './canonical.ts';
import { APPLIED_NEXT_UNKNOWN } from './migrations.ts';
import type { Database, Db } from './sql-schema.ts';

export type MachineRow = Selectable<Database['machines']>;

export function machineDoc(m: Machine): Omit<Machine, 'nextAction' | 'lastSeen' | 'version'> {
  const { nextAction: _n, lastSeen: _l, version: _v, ...doc } = m;
  return doc;
}

/** The store's answer to a write naming a version that is no longer the record's. */
export function versionConflict(id: string, asked: number, current: number | undefined): BootherdError {
  return new BootherdError(
    'VERSION_CONFLICT',
    current === undefined
      ? `machine "${id}" no longer exists (the write named version ${asked})`
      : `machine "${id}" is at version ${current}, not ${asked}: it changed since it was read; read it again and retry`,
    { field: 'version', version: current ?? null },
  );
}

export function normalizeMacs(m: Machine): string[] {
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
export const MACHINE_COLUMNS = ['doc', 'next_action', 'last_seen', 'version'] as const;

export function toMachine(row: {
  doc: string;
  next_action: string | null;
  last_seen: string | null;
  version: number;
}): Machine {
  const m = JSON.parse(row.doc) as Machine;
  if (row.next_action) m.nextAction = JSON.parse(row.next_action) as NextAction;
  if (row.last_seen) m.lastSeen = JSON.parse(row.last_seen) as SeenFacts;
  m.version = Number(row.version);
  return m;
}

/** Every write of a machine row bumps its version (optimistic locking). */
export const bumped = sql<number>`${sql.ref('machines.version')} + 1`;

/**
 * What apply leaves as a machine's next action, like `kubectl apply`'s last-applied: a `next` the document already
 * named last time is not armed again (it may have been consumed since); a new or changed one is. A document that
 * names none keeps the current action and forgets the last applied one, so naming it again later re-arms it.
 * A machine from before this was recorded takes the document's `next` as already applied (see migrations.ts).
 */
export function appliedState(old: MachineRow | undefined, docNext: NextAction | undefined) {
  const current = old?.next_action ?? null;
  if (!docNext) return { next: current, appliedNext: null };
  const named = canonical(docNext);
  const already = old && (named === old.applied_next || old.applied_next === APPLIED_NEXT_UNKNOWN);
  return { next: already ? current : named, appliedNext: named };
}

export async function upsertNamed(db: Db, table: 'profiles' | 'groups', name: string, doc: string) {
  await db
    .insertInto(table)
    .values({ name, doc })
    .onConflict((oc) => oc.column('name').doUpdateSet({ doc }))
    .execute();
}

/**
 * Write one machine and its MACs. Without `applied` the machine is replaced as given (applied_next untouched);
 * with it (apply), next action and applied_next are as computed there and a last-seen the document omits is kept.
 */
export async function writeMachine(
  db: Db,
  m: Machine,
  applied?: { next: string | null; appliedNext: string | null },
  ifVersion?: number,
) {
  if (ifVersion !== undefined) {
    // The upsert below re-checks the version under the row lock; this names the case of a machine gone meanwhile.
    const row = await db.selectFrom('machines').select('version').where('id', '=', m.id).executeTakeFirst();
    if (row?.version !== ifVersion) throw versionConflict(m.id, ifVersion, row?.version);
  }
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
    ? { ...row, applied_next: applied.appliedNext, ...(lastSeen ? { last_seen: lastSeen } : {}), version: bumped }
    : { ...row, last_seen: lastSeen, version: bumped };
  const written = await db
    .insertInto('machines')
    .values({ id: m.id, ...row, last_seen: lastSeen, applied_next: applied?.appliedNext ?? null })
    .onConflict((oc) => {
      const set = oc.column('id').doUpdateSet(update);
      return ifVersion === undefined ? set : set.where('machines.version', '=', ifVersion);
    })
    .executeTakeFirst();
  if (ifVersion !== undefined && !written.numInsertedOrUpdatedRows) {
    const now = await db.selectFrom('machines').select('version').where('id', '=', m.id).executeTakeFirst();
    throw versionConflict(m.id, ifVersion, now?.version);
  }
  await db.deleteFrom('machine_macs').where('machine_id', '=', m.id).execute();
  if (macs.length)
    await db
      .insertInto('machine_macs')
      .values(macs.map((mac) => ({ mac, machine_id: m.id })))
      .execute();
}
