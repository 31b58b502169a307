/** Boot log queries of the SQL store: appending events, listing them, and what the log tells about machines. */
import { type Kysely, type Selectable, sql } from 'kysely';
import type { BootEvent, DiscoveredMachine, SeenFacts } from '../model/types.ts';
import type { Database, Db } from './sql-schema.ts';
import type { EventFilter } from './types.ts';

type EventRow = Selectable<Database['boot_events']>;

export function toEvent(r: EventRow): BootEvent {
  return {
    id: Number(r.id),
    at: r.at,
    ...(r.machine_id === null ? {} : { machineId: r.machine_id }),
    mac: r.mac,
    stage: r.stage as BootEvent['stage'],
    facts: JSON.parse(r.facts) as BootEvent['facts'],
    decision: JSON.parse(r.decision) as BootEvent['decision'],
  };
}

export async function insertBootLog(db: Kysely<Database>, events: BootEvent[], seen: [string, SeenFacts][]) {
  if (!events.length && !seen.length) return;
  await db.transaction().execute(async (trx) => {
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
            facts: JSON.stringify(e.facts),
            decision: JSON.stringify(e.decision),
          })),
        )
        .execute();
    }
    for (const [id, facts] of seen) {
      await trx
        .updateTable('machines')
        .set({ last_seen: JSON.stringify(facts) })
        .where('id', '=', id)
        .execute();
    }
  });
}

/** The query behind listEvents; exported so tests can check its plan. */
export function eventsQuery(db: Db, f: EventFilter) {
  let q = db
    .selectFrom('boot_events')
    .selectAll()
    .orderBy('id', 'desc')
    .limit(f.limit ?? 100);
  if (f.machineId !== undefined) q = q.where('machine_id', '=', f.machineId);
  if (f.mac !== undefined) q = q.where('mac', '=', f.mac);
  if (f.stage !== undefined) {
    // With a machine or MAC the per-machine/per-MAC index is far narrower than a stage's, but SQLite without
    // statistics may pick the stage index anyway: compare an expression, which no index serves, to keep it off.
    const narrowed = f.machineId !== undefined || f.mac !== undefined;
    q = narrowed ? q.where(sql<string>`${sql.ref('stage')} || ''`, '=', f.stage) : q.where('stage', '=', f.stage);
  }
  if (f.before !== undefined) q = q.where('id', '<', f.before);
  return q;
}

export async function selectEvents(db: Db, f: EventFilter): Promise<BootEvent[]> {
  return (await eventsQuery(db, f).execute()).map(toEvent);
}

/** Machines a statement: one parameter each, far below every engine's bound-parameter limit. */
const LATEST_CHUNK = 500;

/** The query behind latestEvents for one chunk of machines; exported so tests can check its plan. */
export function latestEventsQuery(db: Db, machineIds: string[]) {
  const values = sql.join(machineIds.map((id) => sql`(${id})`));
  // A max(id) per machine is one probe of the (machine_id, id) index; `GROUP BY machine_id` would read every
  // event of every machine instead.
  const newest = sql<number>`(select (select max(b.id) from boot_events b where b.machine_id = v.column1)
    from (values ${values}) as v)`;
  return db.selectFrom('boot_events').selectAll().where('id', 'in', newest);
}

export async function selectLatestEvents(db: Db, machineIds: string[]): Promise<Map<string, BootEvent>> {
  const out = new Map<string, BootEvent>();
  const ids = [...new Set(machineIds)];
  for (let i = 0; i < ids.length; i += LATEST_CHUNK) {
    for (const r of await latestEventsQuery(db, ids.slice(i, i + LATEST_CHUNK)).execute()) {
      const e = toEvent(r);
      if (e.machineId !== undefined) out.set(e.machineId, e);
    }
  }
  return out;
}

export async function selectDiscovered(db: Db, limit: number): Promise<DiscoveredMachine[]> {
  const seen = db
    .selectFrom('boot_events')
    .select((eb) => [
      'mac',
      eb.fn.min('at').as('first_seen'),
      eb.fn.max('at').as('last_seen'),
      eb.fn.max('id').as('last_id'),
    ])
    .where('machine_id', 'is', null)
    .where('mac', '!=', '')
    .where('mac', 'not in', (eb) => eb.selectFrom('machine_macs').select('mac'))
    .groupBy('mac')
    .orderBy('last_seen', 'desc')
    .orderBy('last_id', 'desc')
    .limit(limit);
  const rows = await db
    .selectFrom(seen.as('d'))
    .innerJoin('boot_events as e', 'e.id', 'd.last_id')
    .select(['d.mac', 'd.first_seen', 'd.last_seen', 'e.facts'])
    .orderBy('d.last_seen', 'desc')
    .orderBy('d.last_id', 'desc')
    .execute();
  return rows.map((r) => ({
    mac: r.mac,
    firstSeen: r.first_seen,
    lastSeen: r.last_seen,
    facts: JSON.parse(r.facts) as DiscoveredMachine['facts'],
  }));
}

/**
 * Boot log retention. The id of the newest event beyond `keep` is found once (a walk of `keep` entries down the
 * primary key); the age limit is checked within the oldest `batch` events only: events are appended in time order,
 * so the too-old ones are a prefix of them, and no call scans the table. One batch a statement, the loop turning
 * between them.
 */
export async function deleteOldEvents(
  db: Kysely<Database>,
  { keep, before, batch }: { keep: number; before: string; batch: number },
): Promise<number> {
  // Ids only grow, so the newest `keep` are those above max(id) - keep: one index probe, where OFFSET keep walked a
  // million index entries on every run. (A gap in the ids — a rolled-back insert — keeps a few fewer.)
  const newest = await db
    .selectFrom('boot_events')
    .select((eb) => eb.fn.max('id').as('id'))
    .executeTakeFirst();
  const beyondKeep = Math.max(0, Number(newest?.id ?? 0) - keep);
  let total = 0;
  for (;;) {
    const oldest = await db
      .selectFrom(db.selectFrom('boot_events').select(['id', 'at']).orderBy('id').limit(batch).as('b'))
      .select((eb) => [eb.fn.min('b.id').as('first'), eb.fn.max('b.id').as('last')])
      .executeTakeFirst();
    const tooOld = await db
      .selectFrom(db.selectFrom('boot_events').select(['id', 'at']).orderBy('id').limit(batch).as('b'))
      .where('b.at', '<', before)
      .select((eb) => eb.fn.max('b.id').as('last'))
      .executeTakeFirst();
    if (oldest?.first == null || oldest.last == null) return total;
    const upTo = Math.min(Math.max(beyondKeep, Number(tooOld?.last ?? 0)), Number(oldest.last));
    if (upTo < Number(oldest.first)) return total;
    const r = await db.deleteFrom('boot_events').where('id', '<=', upTo).executeTakeFirst();
    const n = Number(r.numDeletedRows);
    total += n;
    if (n < batch) return total;
    await new Promise((resolve) => setImmediate(resolve));
  }
}
