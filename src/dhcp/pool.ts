/**
 * Address allocation for full (non-proxy) DHCP mode: subnets, ranges, reservations, offer holds, decline quarantine.
 * Pure: no sockets, no timers; every method takes `now` (ms) so the caller's clock decides. Each mutating method
 * returns the leases it changed: the caller commits them (LeaseStore.commit, grouped as it likes) BEFORE it sends
 * the ACK, so an address is never handed out twice across a crash.
 * This file holds the DHCP message transitions (RFC 2131 §4.3); the records, indexes and address checks they work
 * on are in lease-table.ts, the internal shapes in pool-state.ts, the vocabulary in lease.ts.
 */

import {
  type ClientKey,
  ipToInt,
  type Lease,
  type LeaseStore,
  type NakReason,
  type OfferResult,
  type PoolConfig,
  type RequestResult,
  type RequestState,
  type Subnet,
} from './lease.ts';
import { LeaseTable } from './lease-table.ts';
import { type Client, holds, type SubnetState, sameClient } from './pool-state.ts';

export * from './lease.ts';

export class LeasePool extends LeaseTable {
  /** A pool with the store's leases loaded. */
  static async open(config: PoolConfig, store: LeaseStore): Promise<LeasePool> {
    const pool = new LeasePool(config);
    pool.restore(await store.load());
    return pool;
  }

  /**
   * DHCPDISCOVER. RFC 2131 §4.3.1 order: the reservation; "The client's current address as recorded in the
   * client's current binding, ELSE The client's previous address as recorded in the client's (now expired or
   * released) binding, ELSE The address requested in the 'Requested IP Address' option, if that address is valid
   * and not already allocated, ELSE A new address allocated from the server's pool". Undefined when the pool is
   * exhausted.
   */
  offer(subnet: Subnet, client: ClientKey & { requestedIp?: string }, now: number): OfferResult | undefined {
    const st = this.stateOf(subnet);
    const c = this.client(client);
    const pick = this.pickAddress(st, c, client.requestedIp, now);
    if (pick === undefined) return undefined;
    const existing = this.leases.get(pick);
    const hostname = this.reservationFor(st, c.mac)?.hostname;
    // A client that already holds this address (a reboot, iPXE after firmware PXE) keeps its binding: an offer
    // must not shorten a bound lease to the hold time.
    if (existing && existing.state === 'bound' && existing.expiresAt > now && sameClient(existing, c)) {
      if (existing.expiresAt >= now + this.offerHoldMs)
        return { lease: { ...existing }, subnet: st.subnet, changes: [] };
      existing.expiresAt = now + this.offerHoldMs;
      this.track(pick, existing);
      return { lease: { ...existing }, subnet: st.subnet, changes: [{ ...existing }] };
    }
    const lease = this.makeLease(pick, c, 'offered', now + this.offerHoldMs, hostname);
    this.put(pick, lease);
    return { lease: { ...lease }, subnet: st.subnet, changes: [{ ...lease }] };
  }

  /**
   * DHCPREQUEST in SELECTING (option 54 is ours, ciaddr 0, option 50 set) or INIT-REBOOT (no option 54, ciaddr 0,
   * option 50 set). A REQUEST naming another server is the caller's business (drop our offer with `release`).
   */
  request(subnet: Subnet, client: ClientKey, ip: string, state: RequestState, now: number): RequestResult {
    const st = this.stateOf(subnet);
    const c = this.client(client);
    const n = ipToInt(ip);
    if (n === undefined || (n & st.mask) >>> 0 !== st.network) {
      return nak('wrong-subnet', `${ip} is not on ${st.subnet.cidr}`);
    }
    const record = this.leases.get(n);
    const mine = record !== undefined && sameClient(record, c);
    const reservation = this.reservationFor(st, c.mac);
    if (state === 'selecting') {
      // RFC 2131 §4.3.2 SELECTING: "'requested IP address' MUST be filled in with the yiaddr value from the chosen
      // DHCPOFFER": anything else is not our offer.
      const check = this.check(st, c, n, now);
      if (check !== 'ok') return nak(check, `${ip}: ${check}`);
      if (!mine && reservation?.ip !== ip) return nak('not-offered', `${ip} was not offered to ${c.mac}`);
      return this.bind(st, c, n, now);
    }
    // INIT-REBOOT: "Server SHOULD send a DHCPNAK message to the client if the 'requested IP address' is incorrect,
    // or is on the wrong network." ... "If the DHCP server has no record of this client, then it MUST remain silent".
    if (reservation && reservation.ip !== ip) {
      return nak('wrong-address', `${c.mac} is reserved ${reservation.ip}, not ${ip}`);
    }
    if (!mine && !reservation) {
      const elsewhere = this.recordsOf(st, c).length > 0;
      if (!elsewhere) return { kind: 'silent', reason: `no record of ${c.mac} on ${st.subnet.cidr}` };
      return nak('wrong-address', `${c.mac} has another address on ${st.subnet.cidr}, not ${ip}`);
    }
    const check = this.check(st, c, n, now);
    if (check !== 'ok') return nak(check, `${ip}: ${check}`);
    return this.bind(st, c, n, now);
  }

  /**
   * DHCPREQUEST in RENEWING/REBINDING (ciaddr set, no option 50). The subnet is the one holding `ip`: a renewing
   * client unicasts, so the interface says nothing. With no record (a lost lease database), an address that is
   * free and ours to give is bound again rather than NAKed, so a running client keeps working.
   */
  renew(client: ClientKey, ip: string, now: number): RequestResult {
    const c = this.client(client);
    const n = ipToInt(ip);
    const st = n === undefined ? undefined : this.stateFor(n);
    if (n === undefined || !st) return nak('wrong-subnet', `${ip} is on no subnet of this server`);
    const reservation = this.reservationFor(st, c.mac);
    if (reservation && reservation.ip !== ip) {
      return nak('wrong-address', `${c.mac} is reserved ${reservation.ip}, not ${ip}`);
    }
    const check = this.check(st, c, n, now);
    if (check !== 'ok') return nak(check, `${ip}: ${check}`);
    return this.bind(st, c, n, now);
  }

  /**
   * DHCPRELEASE. RFC 2131 §4.3.4: "the server marks the network address as not allocated. The server SHOULD retain
   * a record of the client's initialization parameters for possible reuse": the record stays, so the next
   * DISCOVER of this client gets the same address back. Ignored unless this client holds the address.
   */
  release(client: ClientKey, ip: string, now: number): Lease[] {
    const c = this.client(client);
    const n = ipToInt(ip);
    const l = n === undefined ? undefined : this.leases.get(n);
    if (!l || !sameClient(l, c) || (l.state !== 'bound' && l.state !== 'offered')) return [];
    l.state = 'released';
    l.expiresAt = Math.min(l.expiresAt, now);
    this.track(n as number, l);
    return [{ ...l }];
  }

  /** An operator releases an address (API): whoever holds it, it returns to the pool. */
  releaseAddress(ip: string, now: number): Lease[] {
    const n = ipToInt(ip);
    const l = n === undefined ? undefined : this.leases.get(n);
    if (!l) return [];
    l.state = 'released';
    l.expiresAt = Math.min(l.expiresAt, now);
    this.track(n as number, l);
    return [{ ...l }];
  }

  /**
   * DHCPDECLINE. RFC 2131 §4.3.3: "the client has discovered through some other means that the suggested network
   * address is already in use. The server MUST mark the network address as not available". Only the client the
   * address was given to can decline it (or anyone could empty the pool).
   */
  decline(client: ClientKey, ip: string, now: number): Lease[] {
    const c = this.client(client);
    const n = ipToInt(ip);
    const l = n === undefined ? undefined : this.leases.get(n);
    if (!l || !sameClient(l, c) || (l.state !== 'bound' && l.state !== 'offered')) return [];
    l.state = 'declined';
    l.expiresAt = now + this.declineQuarantineMs;
    this.track(n as number, l);
    return [{ ...l }];
  }

  /**
   * Marks ended offers, leases and quarantines as expired. Allocation never depends on it (it reads expiresAt); it
   * only makes the stored state say so.
   */
  expire(now: number): Lease[] {
    const changes: Lease[] = [];
    while (this.marks.peekKey() <= now) {
      const l = this.leases.get(this.marks.pop() as number);
      // A stale mark (the lease was renewed, released or replaced since) finds nothing ended.
      if (l && holds(l) && l.expiresAt <= now) {
        l.state = 'expired';
        changes.push({ ...l });
      }
    }
    return changes;
  }

  private pickAddress(st: SubnetState, c: Client, requestedIp: string | undefined, now: number): number | undefined {
    const reservation = this.reservationFor(st, c.mac);
    if (reservation) {
      const n = ipToInt(reservation.ip)!;
      // Like dnsmasq: a reserved address still leased to another machine is not taken away from it.
      if (this.check(st, c, n, now) === 'ok') return n;
    }
    // Current binding first, then the most recent previous one.
    const rank = (l: Lease): number => (l.state === 'bound' && l.expiresAt > now ? 2 : l.state === 'offered' ? 1 : 0);
    const mine = this.recordsOf(st, c).sort(([, a], [, b]) => rank(b) - rank(a) || b.expiresAt - a.expiresAt);
    for (const [ip] of mine) if (this.check(st, c, ip, now) === 'ok') return ip;
    if (requestedIp !== undefined) {
      const n = ipToInt(requestedIp);
      if (n !== undefined && this.check(st, c, n, now) === 'ok') return n;
    }
    // A free address that is reserved for this very client was handled above; newAddress skips reservations.
    // Full: an offer is a promise to nobody until a REQUEST binds it, so a flood of DISCOVERs from made-up MACs must
    // not lock real clients out for the hold time. Take back the offer that has waited longest.
    return this.newAddress(st, now) ?? this.oldestOffer(st);
  }

  private bind(st: SubnetState, c: Client, ip: number, now: number): RequestResult {
    const changes: Lease[] = [];
    // One address per client per subnet: an older offer or binding at another address goes.
    for (const [other, l] of this.recordsOf(st, c)) {
      if (other !== ip && (l.state === 'bound' || l.state === 'offered') && l.expiresAt > now) {
        l.state = 'released';
        l.expiresAt = now;
        this.track(other, l);
        changes.push({ ...l });
      }
    }
    const hostname = this.reservationFor(st, c.mac)?.hostname;
    const lease = this.makeLease(ip, c, 'bound', now + st.subnet.params.leaseSeconds * 1000, hostname);
    this.put(ip, lease);
    changes.push({ ...lease });
    return { kind: 'ack', lease: { ...lease }, subnet: st.subnet, changes };
  }
}

function nak(reason: NakReason, message: string): RequestResult {
  return { kind: 'nak', reason, message, changes: [] };
}
