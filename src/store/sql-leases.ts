/** DHCP lease queries of the SQL store: load, blind commit, and the claim several servers on one database rely on. */

import { type Kysely, sql } from 'kysely';
import { CLAIM_CONDITION, claimOrder, toStoredLease } from './lease-claim.ts';
import type { Database, Db } from './sql-schema.ts';
import type { LeaseClaim, StoredLease } from './types.ts';

export async function selectLeases(db: Db): Promise<StoredLease[]> {
  const rows = await db.selectFrom('dhcp_leases').selectAll().orderBy('ip').execute();
  return rows.map(toStoredLease);
}

export async function upsertLeases(db: Kysely<Database>, changes: StoredLease[]): Promise<void> {
  if (!changes.length) return;
  await db.transaction().execute(async (trx) => {
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

/**
 * One `INSERT ... ON CONFLICT (ip) DO UPDATE ... WHERE <condition> RETURNING ip` a lease, in one transaction: on
 * PostgreSQL a racing claim of the same address waits for the row lock and then re-checks the condition against the
 * committed row, so of two servers exactly one writes it. No row returned: refused; the holder is read back in the
 * same transaction (the row stays locked by the upsert that found it).
 */
export async function claimLeasesSql(
  db: Kysely<Database>,
  changes: StoredLease[],
  claim: LeaseClaim,
): Promise<StoredLease[]> {
  if (!changes.length) return [];
  const refused: [number, StoredLease][] = [];
  await db.transaction().execute(async (trx) => {
    for (const i of claimOrder(changes)) {
      const l = changes[i]!;
      const won = await trx
        .insertInto('dhcp_leases')
        .values({
          ip: l.ip,
          mac: l.mac,
          client_id: l.clientId ?? null,
          hostname: l.hostname ?? null,
          state: l.state,
          expires_at: l.expiresAt,
          server: claim.server,
        })
        .onConflict((oc) =>
          oc
            .column('ip')
            .doUpdateSet((eb) => ({
              mac: eb.ref('excluded.mac'),
              client_id: eb.ref('excluded.client_id'),
              hostname: eb.ref('excluded.hostname'),
              state: eb.ref('excluded.state'),
              expires_at: eb.ref('excluded.expires_at'),
              server: eb.ref('excluded.server'),
            }))
            .where(sql<boolean>`${sql.raw(CLAIM_CONDITION[0])}${claim.now}${sql.raw(CLAIM_CONDITION[1])}`),
        )
        .returning('ip')
        .executeTakeFirst();
      if (won) continue;
      const holder = await trx.selectFrom('dhcp_leases').selectAll().where('ip', '=', l.ip).executeTakeFirst();
      if (holder) refused.push([i, toStoredLease(holder)]);
    }
  });
  return refused.sort(([a], [b]) => a - b).map(([, l]) => l);
}
