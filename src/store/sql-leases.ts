/** DHCP lease queries of the SQL store. */

import type { Kysely } from 'kysely';
import type { Database, Db } from './sql-schema.ts';
import type { StoredLease } from './types.ts';

export async function selectLeases(db: Db): Promise<StoredLease[]> {
  const rows = await db.selectFrom('dhcp_leases').selectAll().orderBy('ip').execute();
  return rows.map((r) => ({
    ip: r.ip,
    mac: r.mac,
    ...(r.client_id === null ? {} : { clientId: r.client_id }),
    ...(r.hostname === null ? {} : { hostname: r.hostname }),
    state: r.state as StoredLease['state'],
    expiresAt: Number(r.expires_at),
  }));
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
