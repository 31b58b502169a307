/** The server registry on SQL: one row per `bootherd serve`, upserted by its heartbeat. */

import type { Db } from './sql-schema.ts';
import type { ServerRecord } from './types.ts';

export async function upsertServer(db: Db, s: ServerRecord): Promise<void> {
  const row = {
    name: s.name,
    version: s.version,
    started_at: s.startedAt,
    heartbeat_at: s.heartbeatAt,
    stopped_at: s.stoppedAt ?? null,
    urls: JSON.stringify(s.urls),
    dhcp_share: s.dhcpShare ? 1 : null,
  };
  await db
    .insertInto('servers')
    .values({ id: s.id, ...row })
    .onConflict((oc) => oc.column('id').doUpdateSet(row))
    .execute();
}

export async function selectServers(db: Db): Promise<ServerRecord[]> {
  const rows = await db.selectFrom('servers').selectAll().orderBy('name').orderBy('id').execute();
  return rows.map((r) => ({
    id: r.id,
    name: r.name,
    version: r.version,
    startedAt: r.started_at,
    heartbeatAt: r.heartbeat_at,
    ...(r.stopped_at ? { stoppedAt: r.stopped_at } : {}),
    urls: JSON.parse(r.urls) as string[],
    ...(r.dhcp_share ? { dhcpShare: true } : {}),
  }));
}
