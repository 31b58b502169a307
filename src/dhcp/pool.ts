/**
 * Address allocation for full (non-proxy) DHCP mode: subnets, ranges, reservations, offer holds, decline quarantine.
 * Pure: no sockets, no timers; every method takes `now` (ms) so the caller's clock decides. Each mutating method
 * returns the leases it changed: the caller commits them (LeaseStore.commit, grouped as it likes) BEFORE it sends
 * the ACK, so an address is never handed out twice across a crash.
 */
import { normalizeMac } from '../model/identity.ts';
import { MinHeap } from './heap.ts';
import {
  type ClientKey,
  intToIp,
  ipToInt,
  type Lease,
  type LeaseState,
  type LeaseStore,
  type NakReason,
  type NetworkParameters,
  type OfferResult,
  type PoolConfig,
  type RequestResult,
  type RequestState,
  type Reservation,
  type Subnet,
  type SubnetUsage,
} from './lease.ts';

export * from './lease.ts';

function maskOf(prefix: number): number {
  return prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
}

function parseCidr(cidr: string): { network: number; prefix: number } {
  const m = /^([\d.]+)\/(\d{1,2})$/.exec(cidr);
  const base = m ? ipToInt(m[1]!) : undefined;
  const prefix = m ? Number(m[2]) : Number.NaN;
  if (base === undefined || !(prefix >= 0 && prefix <= 32)) throw new Error(`not an IPv4 CIDR: ${cidr}`);
  const network = (base & maskOf(prefix)) >>> 0;
  if (network !== base) throw new Error(`${cidr} has host bits set (network is ${intToIp(network)}/${prefix})`);
  return { network, prefix };
}

function mustIp(what: string, ip: string): number {
  const n = ipToInt(ip);
  if (n === undefined) throw new Error(`${what}: not an IPv4 address: ${JSON.stringify(ip)}`);
  return n;
}

/** The one MAC normalisation (model/identity.ts); the pool refuses what is not a MAC instead of storing it. */
function mustMac(mac: string): string {
  const n = normalizeMac(mac);
  if (!n) throw new Error(`not a MAC address: ${JSON.stringify(mac)}`);
  return n;
}

function clientIdHex(id: Buffer | string | undefined): string | undefined {
  if (id === undefined) return undefined;
  return typeof id === 'string' ? id.toLowerCase() : id.toString('hex');
}

// ---------------------------------------------------------------------------------------------------------------

interface SubnetState {
  subnet: Subnet;
  network: number;
  mask: number;
  broadcast: number;
  first: number;
  last: number;
  exclude: Set<number>;
  // Address choice without scanning (see newAddress): every range address at or above `fresh` has never been
  // looked at; below it, every address that may be free again is in `free` (lowest first). `ends` holds the end of
  // every offer, lease and quarantine, so a lapsed one returns its address to `free`; `offers` the offer holds,
  // oldest first, for taking one back when the range is full.
  fresh: number;
  free: MinHeap;
  inFree: Set<number>;
  ends: MinHeap;
  offers: MinHeap;
}

interface Client {
  mac: string;
  clientId?: string;
}

/** Option 61 decides when both the client and the record have one; otherwise chaddr does. */
function sameClient(lease: Lease, c: Client): boolean {
  if (c.clientId !== undefined && lease.clientId !== undefined) return c.clientId === lease.clientId;
  return lease.mac === c.mac;
}

function holds(l: Lease): boolean {
  return l.state === 'offered' || l.state === 'bound' || l.state === 'declined';
}

function isActive(l: Lease, now: number): boolean {
  return holds(l) && l.expiresAt > now;
}

function addTo<K>(index: Map<K, Set<number>>, key: K, ip: number): void {
  const set = index.get(key);
  if (set) set.add(ip);
  else index.set(key, new Set([ip]));
}

function removeFrom<K>(index: Map<K, Set<number>>, key: K, ip: number): void {
  const set = index.get(key);
  if (set?.delete(ip) && set.size === 0) index.delete(key);
}

type Check = 'ok' | Exclude<NakReason, 'not-offered' | 'wrong-address'>;

export class LeasePool {
  readonly offerHoldMs: number;
  readonly declineQuarantineMs: number;
  private readonly subnets: SubnetState[] = [];
  private readonly leases = new Map<number, Lease>();
  private readonly reservedByIp = new Map<number, Reservation>();
  private readonly reservedByMac = new Map<string, Reservation[]>();
  /** giaddr → subnet, for relays outside the subnets they serve. */
  private readonly relays = new Map<number, SubnetState>();
  /** Lease records by client (chaddr, option 61), so a client's records are found without a scan. */
  private readonly byMac = new Map<string, Set<number>>();
  private readonly byClientId = new Map<string, Set<number>>();
  /** Every offer, lease and quarantine end, for expire(). */
  private readonly marks = new MinHeap();

  constructor(config: PoolConfig) {
    this.offerHoldMs = config.offerHoldMs ?? 30_000;
    this.declineQuarantineMs = config.declineQuarantineMs ?? 600_000;
    for (const s of config.subnets) {
      const { network, prefix } = parseCidr(s.subnet);
      const mask = maskOf(prefix);
      const broadcast = (network | ~mask) >>> 0;
      const first = mustIp(`${s.subnet} range`, s.range[0]);
      const last = mustIp(`${s.subnet} range`, s.range[1]);
      if (first > last) throw new Error(`${s.subnet}: range ${s.range[0]}–${s.range[1]} is backwards`);
      if ((first & mask) >>> 0 !== network || (last & mask) >>> 0 !== network) {
        throw new Error(`${s.subnet}: range ${s.range[0]}–${s.range[1]} is not inside the subnet`);
      }
      for (const other of this.subnets) {
        if ((network & other.mask) >>> 0 === other.network || (other.network & mask) >>> 0 === network) {
          throw new Error(`${s.subnet} overlaps ${other.subnet.cidr}`);
        }
      }
      const params: NetworkParameters = {
        ...s.options,
        subnetMask: intToIp(mask),
        leaseSeconds: s.leaseSeconds ?? 3600,
      };
      const st: SubnetState = {
        subnet: { cidr: s.subnet, network: intToIp(network), prefix, range: [s.range[0], s.range[1]], params },
        network,
        mask,
        broadcast,
        first,
        last,
        exclude: new Set((s.exclude ?? []).map((ip) => mustIp(`${s.subnet} exclude`, ip))),
        fresh: first,
        free: new MinHeap(),
        inFree: new Set(),
        ends: new MinHeap(),
        offers: new MinHeap(),
      };
      this.subnets.push(st);
      for (const relay of s.relayAddresses ?? []) {
        const n = mustIp(`${s.subnet} relay address`, relay);
        const other = this.relays.get(n);
        if (other) throw new Error(`relay ${relay} is mapped to both ${other.subnet.cidr} and ${s.subnet}`);
        this.relays.set(n, st);
      }
    }
    this.setReservations(config.reservations ?? []);
  }

  /**
   * Replace the reservations (the inventory changed): takes effect from the next packet. Leases already bound keep
   * their address until they end; a new reservation wins at the client's next DISCOVER or renewal NAK.
   */
  setReservations(reservations: Reservation[]): void {
    const byIp = new Map<number, Reservation>();
    const byMac = new Map<string, Reservation[]>();
    for (const r of reservations) {
      const ip = mustIp(`reservation ${r.mac}`, r.ip);
      const res: Reservation = { ...r, mac: mustMac(r.mac) };
      if (byIp.has(ip)) throw new Error(`${r.ip} is reserved twice`);
      if (!this.stateFor(ip)) throw new Error(`reservation ${r.ip} is in no configured subnet`);
      byIp.set(ip, res);
      const list = byMac.get(res.mac) ?? [];
      list.push(res);
      byMac.set(res.mac, list);
    }
    const dropped = [...this.reservedByIp.keys()].filter((ip) => !byIp.has(ip));
    this.reservedByIp.clear();
    this.reservedByMac.clear();
    for (const [ip, r] of byIp) this.reservedByIp.set(ip, r);
    for (const [mac, list] of byMac) this.reservedByMac.set(mac, list);
    // An address no longer reserved may be free for anyone now.
    for (const ip of dropped) {
      const st = this.stateFor(ip);
      if (st) this.mayBeFree(st, ip);
    }
  }

  /** A pool with the store's leases loaded. */
  static async open(config: PoolConfig, store: LeaseStore): Promise<LeasePool> {
    const pool = new LeasePool(config);
    pool.restore(await store.load());
    return pool;
  }

  /** Loads persisted leases (e.g. at start). Leases outside every subnet are dropped. */
  restore(leases: Lease[]): void {
    for (const l of leases) {
      const ip = ipToInt(l.ip);
      if (ip === undefined || !this.stateFor(ip)) continue;
      this.put(ip, { ...l });
    }
  }

  /** Every lease record, copied (for the API / UI). */
  all(): Lease[] {
    return [...this.leases.values()].map((l) => ({ ...l }));
  }

  /** Per-subnet address counts, O(leases + exclusions + reservations): cheap enough for every scrape. */
  usage(now: number = Date.now()): SubnetUsage[] {
    const out = this.subnets.map((st) => {
      let size = st.last - st.first + 1;
      // Addresses inside the range that check() never hands out, each once.
      const holes = new Set([...st.exclude, st.network, st.broadcast]);
      for (const ip of holes) if (ip >= st.first && ip <= st.last && !this.assignable(st, ip)) size--;
      for (const ip of this.reservedByIp.keys()) {
        if ((ip & st.mask) >>> 0 === st.network && (ip < st.first || ip > st.last) && this.assignable(st, ip)) size++;
      }
      return { subnet: st.subnet.cidr, size, free: 0, offered: 0, bound: 0, declined: 0 };
    });
    for (const [ip, l] of this.leases) {
      if (!isActive(l, now)) continue;
      const i = this.subnets.findIndex((s) => (ip & s.mask) >>> 0 === s.network);
      const u = out[i];
      // A lease restored from an older config on an address no longer ours takes nothing from `size`.
      if (!u || !this.assignable(this.subnets[i]!, ip)) continue;
      if (l.state === 'offered' || l.state === 'bound' || l.state === 'declined') u[l.state]++;
    }
    for (const u of out) u.free = Math.max(0, u.size - u.offered - u.bound - u.declined);
    return out;
  }

  lease(ip: string): Lease | undefined {
    const n = ipToInt(ip);
    const l = n === undefined ? undefined : this.leases.get(n);
    return l ? { ...l } : undefined;
  }

  /**
   * The subnet a client is on: pass giaddr for a relayed packet, else the address of the interface the packet came
   * in on (RFC 2131 §4.3.1: "on the subnet of the server's network interface or the 'giaddr'"). A relay address
   * mapped to a subnet (`relayAddresses`) picks that subnet.
   */
  subnetFor(address: string): Subnet | undefined {
    const n = ipToInt(address);
    return n === undefined ? undefined : (this.relays.get(n) ?? this.stateFor(n))?.subnet;
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

  // -------------------------------------------------------------------------------------------------------------

  private client(k: ClientKey): Client {
    const c: Client = { mac: mustMac(k.mac) };
    const id = clientIdHex(k.clientId);
    if (id !== undefined) c.clientId = id;
    return c;
  }

  private stateFor(ip: number): SubnetState | undefined {
    return this.subnets.find((s) => (ip & s.mask) >>> 0 === s.network);
  }

  private stateOf(subnet: Subnet): SubnetState {
    const st = this.subnets.find((s) => s.subnet.cidr === subnet.cidr);
    if (!st) throw new Error(`subnet ${subnet.cidr} is not in this pool`);
    return st;
  }

  private reservationFor(st: SubnetState, mac: string): Reservation | undefined {
    return this.reservedByMac.get(mac)?.find((r) => {
      const n = ipToInt(r.ip)!;
      return (n & st.mask) >>> 0 === st.network;
    });
  }

  /** This client's records on this subnet, from the client indexes. */
  private recordsOf(st: SubnetState, c: Client): [number, Lease][] {
    const out: [number, Lease][] = [];
    const byId = c.clientId === undefined ? undefined : this.byClientId.get(c.clientId);
    for (const set of [this.byMac.get(c.mac), byId]) {
      for (const ip of set ?? []) {
        const l = this.leases.get(ip);
        if (!l || (ip & st.mask) >>> 0 !== st.network || !sameClient(l, c)) continue;
        if (!out.some(([seen]) => seen === ip)) out.push([ip, l]);
      }
    }
    return out;
  }

  /** Sets the record of `ip`, keeping the client indexes and the address structures in step. */
  private put(ip: number, lease: Lease): void {
    const old = this.leases.get(ip);
    if (old) {
      removeFrom(this.byMac, old.mac, ip);
      if (old.clientId !== undefined) removeFrom(this.byClientId, old.clientId, ip);
    }
    this.leases.set(ip, lease);
    addTo(this.byMac, lease.mac, ip);
    if (lease.clientId !== undefined) addTo(this.byClientId, lease.clientId, ip);
    this.track(ip, lease);
  }

  /** After a record's state or end changed: remember when it ends, or that its address may be free now. */
  private track(ip: number, lease: Lease): void {
    const st = this.stateFor(ip);
    if (!st) return;
    if (holds(lease)) {
      this.marks.push(lease.expiresAt, ip);
      st.ends.push(lease.expiresAt, ip);
      if (lease.state === 'offered') st.offers.push(lease.expiresAt, ip);
    } else {
      this.mayBeFree(st, ip);
    }
  }

  /** Queues an address that may have become free; newAddress() checks it again when it comes out. */
  private mayBeFree(st: SubnetState, ip: number): void {
    // Addresses from `fresh` up are reached by the cursor; outside the range nothing is handed out dynamically.
    if (ip < st.first || ip >= st.fresh || st.inFree.has(ip)) return;
    st.inFree.add(ip);
    st.free.push(ip, ip);
  }

  /** Free for a new client: in the range, not excluded, not reserved, held by nobody. */
  private isFree(st: SubnetState, ip: number, now: number): boolean {
    if (ip < st.first || ip > st.last || st.exclude.has(ip) || this.reservedByIp.has(ip)) return false;
    if (st.mask !== 0xffffffff && st.mask !== 0xfffffffe && (ip === st.network || ip === st.broadcast)) return false;
    const l = this.leases.get(ip);
    return !l || !isActive(l, now);
  }

  /**
   * The lowest free address of the range, in O(log n): lapsed holds move to `free`, then `free` is tried, then the
   * never-used addresses at the cursor. Each address passes the cursor once, so skipping taken ones is amortized.
   */
  private newAddress(st: SubnetState, now: number): number | undefined {
    while (st.ends.peekKey() <= now) this.mayBeFree(st, st.ends.pop() as number);
    while (st.free.size) {
      const ip = st.free.pop() as number;
      st.inFree.delete(ip);
      if (this.isFree(st, ip, now)) return ip;
    }
    while (st.fresh <= st.last) {
      const ip = st.fresh++;
      if (this.isFree(st, ip, now)) return ip;
    }
    return undefined;
  }

  /** The offer that has waited longest (the earliest hold end), skipping stale entries. */
  private oldestOffer(st: SubnetState): number | undefined {
    while (st.offers.size) {
      const at = st.offers.peekKey();
      const ip = st.offers.peekValue() as number;
      const l = this.leases.get(ip);
      const inRange = ip >= st.first && ip <= st.last;
      if (inRange && l?.state === 'offered' && l.expiresAt === at && !this.reservedByIp.has(ip)) return ip;
      st.offers.pop();
    }
    return undefined;
  }

  /** Could anyone ever get this address here (check() without the client and the lease)? */
  private assignable(st: SubnetState, ip: number): boolean {
    if (st.mask !== 0xffffffff && st.mask !== 0xfffffffe && (ip === st.network || ip === st.broadcast)) return false;
    if (this.reservedByIp.has(ip)) return true;
    return ip >= st.first && ip <= st.last && !st.exclude.has(ip);
  }

  /** May this client have this address now? */
  private check(st: SubnetState, c: Client, ip: number, now: number): Check {
    if ((ip & st.mask) >>> 0 !== st.network) return 'wrong-subnet';
    if (st.mask !== 0xffffffff && st.mask !== 0xfffffffe && (ip === st.network || ip === st.broadcast)) {
      return 'not-assignable';
    }
    const reserved = this.reservedByIp.get(ip);
    if (reserved && reserved.mac !== c.mac) return 'reserved';
    if (!reserved && (ip < st.first || ip > st.last || st.exclude.has(ip))) return 'not-assignable';
    const l = this.leases.get(ip);
    if (l && isActive(l, now)) {
      if (l.state === 'declined') return 'declined';
      if (!sameClient(l, c)) return 'taken';
    }
    return 'ok';
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

  private makeLease(ip: number, c: Client, state: LeaseState, expiresAt: number, hostname?: string): Lease {
    const l: Lease = { ip: intToIp(ip), mac: c.mac, state, expiresAt };
    if (c.clientId !== undefined) l.clientId = c.clientId;
    if (hostname !== undefined) l.hostname = hostname;
    return l;
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
