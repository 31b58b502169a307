/** API token queries of the SQL store. */
import type { TokenRecord } from '../model/types.ts';
import type { Database, Db } from './sql-schema.ts';

export function toToken(r: Database['api_tokens']): TokenRecord {
  return {
    id: r.id,
    name: r.name,
    scope: r.scope as TokenRecord['scope'],
    hash: r.hash,
    createdAt: r.created_at,
    ...(r.last_used_at === null ? {} : { lastUsedAt: r.last_used_at }),
  };
}

export async function upsertToken(db: Db, t: TokenRecord): Promise<void> {
  const row = {
    name: t.name,
    scope: t.scope,
    hash: t.hash,
    created_at: t.createdAt,
    last_used_at: t.lastUsedAt ?? null,
  };
  await db
    .insertInto('api_tokens')
    .values({ id: t.id, ...row })
    .onConflict((oc) => oc.column('id').doUpdateSet(row))
    .execute();
}

export async function selectToken(db: Db, id: string): Promise<TokenRecord | undefined> {
  const row = await db.selectFrom('api_tokens').selectAll().where('id', '=', id).executeTakeFirst();
  return row ? toToken(row) : undefined;
}

export async function selectTokens(db: Db): Promise<TokenRecord[]> {
  const rows = await db.selectFrom('api_tokens').selectAll().orderBy('created_at').orderBy('id').execute();
  return rows.map(toToken);
}

export async function removeToken(db: Db, id: string): Promise<boolean> {
  const r = await db.deleteFrom('api_tokens').where('id', '=', id).executeTakeFirst();
  return r.numDeletedRows > 0n;
}

/** Uses can be recorded out of order (concurrent requests): keep the latest. */
export async function updateTokenUse(db: Db, id: string, at: string): Promise<void> {
  await db
    .updateTable('api_tokens')
    .set({ last_used_at: at })
    .where('id', '=', id)
    .where((eb) => eb.or([eb('last_used_at', 'is', null), eb('last_used_at', '<', at)]))
    .execute();
}
