/**
 * Address allocation for full (non-proxy) DHCP mode: subnets, ranges, reservations, offer holds, decline quarantine.
 * Pure: no sockets, no timers; every method takes `now` (ms) so the caller's clock decides. Each mutating method
 * returns the leases it changed: the caller commits them (LeaseStore.commit, grouped as it likes) BEFORE it sends
 * the ACK, so an address is never handed out twice across a crash.
 */
import { normalizeMac } from '../model/identity.ts';
import { ipv4ToBytes } from './options.ts';

export type LeaseState = 'offered' | 'bound' | 'released' | 'declined' | 'expired';

export interface Lease {
  ip: string;
  /** Lower-case `aa:bb:cc:dd:ee:ff`. */
  mac: string;
  /** Option 61 as lower-case hex, when the client sent one. */
  clientId?: string;
  hostname?: string;
  state: LeaseState;
  /** ms since the epoch: end of the lease, of the offer hold, or of the decline quarantine. */
  expiresAt: number;
}

/** Durable lease storage. The pool keeps the live state in memory; the store only has to persist it. */
export interface LeaseStore {
  load(): Promise<Lease[]>;
  /** Upserts by `ip`. Must be durable when the promise resolves. */
  commit(changes: Lease[]): Promise<void>;
}

/** Options a subnet hands its clients (RFC 2132 names). The subnet mask comes from the subnet itself. */
export interface SubnetOptions {
  routers?: string[];
  dnsServers?: string[];
  domainName?: string;
  domainSearch?: string[];
  ntpServers?: string[];
  /** Option 26 interface MTU. */
  mtu?: number;
  broadcastAddress?: string;
}

export interface SubnetConfig {
  /** CIDR, e.g. `192.0.2.0/24`. */
  subnet: string;
  /** First and last address handed out dynamically (inclusive). */
  range: [string, string];
  options?: SubnetOptions;
  /** Default 3600. */
  leaseSeconds?: number;
  /** Addresses inside the range never handed out (the server's own, a printer...). */
  exclude?: string[];
}

export interface Reservation {
  mac: string;
  ip: string;
  hostname?: string;
}

export interface PoolConfig {
  subnets: SubnetConfig[];
  reservations?: Reservation[];
  /** How long an offered address is held for the client that was offered it. Default 30 s. */
  offerHoldMs?: number;
  /** How long a declined address stays out of use. Default 10 min. */
  declineQuarantineMs?: number;
}

/** What the reply builder needs from a subnet (see reply.ts). */
export interface NetworkParameters extends SubnetOptions {
  subnetMask: string;
  leaseSeconds: number;
}

export interface Subnet {
  /** As configured, e.g. `192.0.2.0/24`. */
  cidr: string;
  network: string;
  prefix: number;
  range: [string, string];
  params: NetworkParameters;
}

/** How a client is known: option 61 when both sides have one, else chaddr (RFC 2131 §4.2). */
export interface ClientKey {
  mac: string;
  /** Option 61 bytes or their hex. */
  clientId?: Buffer | string;
}

export type NakReason =
  /** The address is not on the client's network. */
  | 'wrong-subnet'
  /** Another client holds (or was offered) it. */
  | 'taken'
  /** Reserved for another machine. */
  | 'reserved'
  /** Declined by a client and still in quarantine. */
  | 'declined'
  /** Not an address this server hands out (outside the range, excluded, network or broadcast). */
  | 'not-assignable'
  /** SELECTING: this server did not offer that address to this client. */
  | 'not-offered'
  /** This client has (or is reserved) another address here. */
  | 'wrong-address';

export type RequestResult =
  | { kind: 'ack'; lease: Lease; subnet: Subnet; changes: Lease[] }
  | { kind: 'nak'; reason: NakReason; message: string; changes: Lease[] }
  /** RFC 2131 §4.3.2 INIT-REBOOT: "If the DHCP server has no record of this client, then it MUST remain silent". */
  | { kind: 'silent'; reason: string };

export interface OfferResult {
  lease: Lease;
  subnet: Subnet;
  changes: Lease[];
}

/** One subnet's addresses now: `size` counts those the pool can hand out (the range less exclusions, plus
 * reservations); `free` is what is neither offered, bound nor declined. For dashboards, not for allocation. */
export interface SubnetUsage {
  subnet: string;
  size: number;
  free: number;
  offered: number;
  bound: number;
  declined: number;
}

/** RFC 2131 §4.3.2: how the client filled in its DHCPREQUEST. */
export type RequestState = 'selecting' | 'init-reboot';

// ---------------------------------------------------------------------------------------------------------------
// 32-bit unsigned address math

export function ipToInt(ip: string): number | undefined {
  const b = ipv4ToBytes(ip);
  return b ? b.readUInt32BE(0) : undefined;
}

export function intToIp(n: number): string {
  return `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
}

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

function isActive(l: Lease, now: number): boolean {
  return (l.state === 'offered' || l.state === 'bound' || l.state === 'declined') && l.expiresAt > now;
}

type Check = 'ok' | Exclude<NakReason, 'not-offered' | 'wrong-address'>;

export class LeasePool {
  readonly offerHoldMs: number;
  readonly declineQuarantineMs: number;
  private readonly subnets: SubnetState[] = [];
  private readonly leases = new Map<number, Lease>();
  private readonly reservedByIp = new Map<number, Reservation>();
  private readonly reservedByMac = new Map<string, Reservation[]>();

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
      this.subnets.push({
        subnet: { cidr: s.subnet, network: intToIp(network), prefix, range: [s.range[0], s.range[1]], params },
        network,
        mask,
        broadcast,
        first,
        last,
        exclude: new Set((s.exclude ?? []).map((ip) => mustIp(`${s.subnet} exclude`, ip))),
      });
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
    this.reservedByIp.clear();
    this.reservedByMac.clear();
    for (const [ip, r] of byIp) this.reservedByIp.set(ip, r);
    for (const [mac, list] of byMac) this.reservedByMac.set(mac, list);
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
      this.leases.set(ip, { ...l });
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
   * in on (RFC 2131 §4.3.1: "on the subnet of the server's network interface or the 'giaddr'").
   */
  subnetFor(address: string): Subnet | undefined {
    const n = ipToInt(address);
    return n === undefined ? undefined : this.stateFor(n)?.subnet;
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
      return { lease: { ...existing }, subnet: st.subnet, changes: [{ ...existing }] };
    }
    const lease = this.makeLease(pick, c, 'offered', now + this.offerHoldMs, hostname);
    this.leases.set(pick, lease);
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
    return [{ ...l }];
  }

  /** An operator releases an address (API): whoever holds it, it returns to the pool. */
  releaseAddress(ip: string, now: number): Lease[] {
    const n = ipToInt(ip);
    const l = n === undefined ? undefined : this.leases.get(n);
    if (!l) return [];
    l.state = 'released';
    l.expiresAt = Math.min(l.expiresAt, now);
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
    return [{ ...l }];
  }

  /**
   * Marks ended offers, leases and quarantines as expired. Allocation never depends on it (it reads expiresAt); it
   * only makes the stored state say so.
   */
  expire(now: number): Lease[] {
    const changes: Lease[] = [];
    for (const l of this.leases.values()) {
      if ((l.state === 'offered' || l.state === 'bound' || l.state === 'declined') && l.expiresAt <= now) {
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

  /** This client's records on this subnet. */
  private recordsOf(st: SubnetState, c: Client): [number, Lease][] {
    const out: [number, Lease][] = [];
    for (const [ip, l] of this.leases) {
      if ((ip & st.mask) >>> 0 === st.network && sameClient(l, c)) out.push([ip, l]);
    }
    return out;
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
    for (let ip = st.first; ip <= st.last; ip++) {
      // A free address that is reserved for this very client was handled above; skip reservations here.
      if (this.reservedByIp.has(ip)) continue;
      if (this.check(st, c, ip, now) === 'ok') return ip;
    }
    // Full: an offer is a promise to nobody until a REQUEST binds it, so a flood of DISCOVERs from made-up MACs must
    // not lock real clients out for the hold time. Take back the offer that has waited longest.
    let oldest: Lease | undefined;
    for (let ip = st.first; ip <= st.last; ip++) {
      const l = this.leases.get(ip);
      if (l?.state === 'offered' && !this.reservedByIp.has(ip) && (!oldest || l.expiresAt < oldest.expiresAt))
        oldest = l;
    }
    return oldest ? ipToInt(oldest.ip) : undefined;
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
        changes.push({ ...l });
      }
    }
    const hostname = this.reservationFor(st, c.mac)?.hostname;
    const lease = this.makeLease(ip, c, 'bound', now + st.subnet.params.leaseSeconds * 1000, hostname);
    this.leases.set(ip, lease);
    changes.push({ ...lease });
    return { kind: 'ack', lease: { ...lease }, subnet: st.subnet, changes };
  }
}

function nak(reason: NakReason, message: string): RequestResult {
  return { kind: 'nak', reason, message, changes: [] };
}

/** A LeaseStore in memory: tests, and `--no-store` runs. */
export class MemoryLeaseStore implements LeaseStore {
  private readonly leases = new Map<string, Lease>();
  commits = 0;

  constructor(initial: Lease[] = []) {
    for (const l of initial) this.leases.set(l.ip, { ...l });
  }

  async load(): Promise<Lease[]> {
    return [...this.leases.values()].map((l) => ({ ...l }));
  }

  async commit(changes: Lease[]): Promise<void> {
    this.commits++;
    for (const l of changes) this.leases.set(l.ip, { ...l });
  }
}
