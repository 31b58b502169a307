/**
 * The SQLite engine's change log: what the migrations' triggers record in inventory_changes, read back by the server
 * so its in-memory caches follow writes nobody announced (the CLI on the same file; Store.othersChanges).
 */
import type SQLite from 'better-sqlite3';
import type { StoreChange } from './types.ts';

/** Past this many unread changes, one whole-inventory change: cheaper than re-reading the machines one by one. */
const CHANGES_BATCH = 1000;
/** Rows of inventory_changes kept behind the newest a reader read, or at open the newest written (the table is a
 * feed, not a history); pruned at most every few seconds. */
const CHANGES_KEEP = 10_000;
const PRUNE_EVERY_MS = 5000;

/**
 * Readers of the changes the migrations' triggers log in inventory_changes. A probe says cheaply whether anyone
 * committed since the last read: `PRAGMA data_version` (SQLite: "will be different if changes were committed to the
 * database by any other connection in the interim"; ~2 µs idle, more under load, where it takes the WAL read lock:
 * bench/http's script row went from 102–106 to 59–71 µs a request when HTTP lookups shared one probe a turn of the
 * event loop, machine-index.ts), and on an in-memory database, which has no other connection, the connection's own
 * count of changed rows; only then are the new rows read. Seqs are given under SQLite's one write lock, so in commit
 * order: `seq > last` misses nothing committed. A gap (rows pruned before a reader saw them) or a burst past
 * CHANGES_BATCH is reported as one whole-inventory change. Returns the reader factory (Store.othersChanges).
 */
export function changeLog(db: SQLite.Database, alone: boolean): () => () => StoreChange[] {
  const probe = db.prepare(alone ? 'SELECT total_changes()' : 'PRAGMA data_version').pluck();
  const since = db
    .prepare<[number, number]>('SELECT seq, kind, id FROM inventory_changes WHERE seq > ? ORDER BY seq LIMIT ?')
    .raw(true);
  // The newest seq ever given, even when pruning emptied the table.
  const newest = db
    .prepare("SELECT coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'inventory_changes'), 0)")
    .pluck();
  const prune = db.prepare<[number]>('DELETE FROM inventory_changes WHERE seq <= ?');
  let prunedTo = 0;
  let prunedAt = 0;
  const pruneBehind = (last: number) => {
    const upTo = last - CHANGES_KEEP;
    if (upTo <= prunedTo || Date.now() - prunedAt < PRUNE_EVERY_MS) return;
    prunedAt = Date.now();
    try {
      prune.run(upTo);
      prunedTo = upTo;
    } catch (err) {
      // Another connection holds the write lock (busy_timeout 0 here): the next prune will do.
      if (!(err as { code?: string }).code?.startsWith('SQLITE_BUSY')) throw err;
    }
  };
  // At every open too (each CLI command), so the table stays bounded where no server reads it.
  pruneBehind(newest.get() as number);
  return () => {
    // The probe before the seq: a commit in between moves the next probe.
    let version = probe.get();
    let last = newest.get() as number;
    return (): StoreChange[] => {
      // Only an in-memory database reads on the main connection, whose open transaction would show uncommitted rows.
      if (db.inTransaction) return [];
      const now = probe.get();
      if (now === version) return [];
      const rows = since.all(last, CHANGES_BATCH + 1) as [number, string, string | null][];
      version = now;
      if (!rows.length) return [];
      const whole = rows.length > CHANGES_BATCH || rows[0]?.[0] !== last + 1;
      last = whole ? (newest.get() as number) : (rows.at(-1)?.[0] ?? last);
      pruneBehind(last);
      if (whole) return [{ kind: 'inventory', op: 'apply' }];
      return rows.map(([, kind, id]) => ({
        kind: kind as StoreChange['kind'],
        ...(id === null ? {} : { id }),
        op: 'put',
      }));
    };
  };
}
