/**
 * The lease claim's pieces both SQL paths share (sql-leases.ts through kysely, the SQLite writer thread on its own
 * connection): the row's shape, the condition and the order. Kept free of the query builder, so the writer thread,
 * which starts at the first lease write, loads nothing more than it runs.
 */
import type { Database } from './sql-schema.ts';
import type { StoredLease } from './types.ts';

type LeaseRow = Database['dhcp_leases'];

export function toStoredLease(r: LeaseRow): StoredLease {
  return {
    ip: r.ip,
    mac: r.mac,
    ...(r.client_id === null ? {} : { clientId: r.client_id }),
    ...(r.hostname === null ? {} : { hostname: r.hostname }),
    state: r.state as StoredLease['state'],
    expiresAt: Number(r.expires_at),
    ...(r.server === null ? {} : { server: r.server }),
  };
}

/**
 * The claim's condition (Store.claimLeases) on the stored row (`dhcp_leases`) and the proposed one (`excluded`), in
 * SQL both engines run, split where the claim's `now` goes. A row is ended when it holds nothing (released, expired)
 * or its hold is over; otherwise only its own client may write it, and not to shorten a binding into an offer, to
 * mark it expired early (another server may have renewed it since we looked), or to lift a decline's quarantine.
 */
export const CLAIM_CONDITION = [
  "dhcp_leases.state NOT IN ('offered', 'bound', 'declined') OR dhcp_leases.expires_at <= ",
  " OR (dhcp_leases.state <> 'declined' AND excluded.state <> 'expired'" +
    " AND NOT (excluded.state = 'offered' AND dhcp_leases.state = 'bound')" +
    ' AND CASE WHEN dhcp_leases.client_id IS NOT NULL AND excluded.client_id IS NOT NULL' +
    ' THEN dhcp_leases.client_id = excluded.client_id ELSE dhcp_leases.mac = excluded.mac END)',
] as const;

/**
 * Claims in address order, so two servers' transactions take their row locks in the same order and cannot deadlock;
 * a stable sort keeps one address's changes in the order the pool made them. Returns the sorted changes' indexes.
 */
export function claimOrder(changes: StoredLease[]): number[] {
  return changes
    .map((_, i) => i)
    .sort((a, b) => (changes[a]!.ip < changes[b]!.ip ? -1 : changes[a]!.ip > changes[b]!.ip ? 1 : a - b));
}
