/**
 * The pool's records and the indexes that keep address choice cheap: subnets (from the config), reservations, lease
 * records by address and by client, the end of every hold, and the free-address index. It answers "may this client
 * have this address" and "which address is free"; the DHCP message transitions that change the records (RFC 2131
 * §4.3) are LeasePool's, in pool.ts.
 */
import { MinHeap } from './heap.ts';
import {
  type ClientKey,
  intToIp,
  ipToInt,
  type Lease,
  type LeaseState,
  type NakReason,
  type NetworkParameters,
  type PoolConfig,
  type Reservation,
  type Subnet,
  type SubnetUsage,
} from './lease.ts';
import {
  addTo,
  type Client,
  clientIdHex,
  holds,
  isActive,
  maskOf,
  mustIp,
  mustMac,
  parseCidr,
  removeFrom,
  type SubnetState,
  sameClient,
} from './pool-state.ts';

type Check = 'ok' | Exclude<NakReason, 'not-offered' | 'wrong-address'>;

/** The heaps are built again (compact) once they hold more than FACTOR entries a record plus SLACK. */
const COMPACT_FACTOR = 4;
const COMPACT_SLACK = 1024;

export abstract class LeaseTable {
  readonly offerHoldMs: number;
  readonly declineQuarantineMs: number;
  private readonly subnets: SubnetState[] = [];
  protected readonly leases = new Map<number, Lease>();
  private readonly reservedByIp = new Map<number, Reservation>();
  private readonly reservedByMac = new Map<string, Reservation[]>();
  /** giaddr → subnet, for relays outside the subnets they serve. */
  private readonly relays = new Map<number, SubnetState>();
  /** Lease records by client (chaddr, option 61), so a client's records are found without a scan. */
  private readonly byMac = new Map<string, Set<number>>();
  private readonly byClientId = new Map<string, Set<number>>();
  /** Every offer, lease and quarantine end, for expire(). */
  protected marks = new MinHeap();

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

  // -------------------------------------------------------------------------------------------------------------

  protected client(k: ClientKey): Client {
    const c: Client = { mac: mustMac(k.mac) };
    const id = clientIdHex(k.clientId);
    if (id !== undefined) c.clientId = id;
    return c;
  }

  protected stateFor(ip: number): SubnetState | undefined {
    return this.subnets.find((s) => (ip & s.mask) >>> 0 === s.network);
  }

  protected stateOf(subnet: Subnet): SubnetState {
    const st = this.subnets.find((s) => s.subnet.cidr === subnet.cidr);
    if (!st) throw new Error(`subnet ${subnet.cidr} is not in this pool`);
    return st;
  }

  protected reservationFor(st: SubnetState, mac: string): Reservation | undefined {
    return this.reservedByMac.get(mac)?.find((r) => {
      const n = ipToInt(r.ip)!;
      return (n & st.mask) >>> 0 === st.network;
    });
  }

  /** This client's records on this subnet, from the client indexes. */
  protected recordsOf(st: SubnetState, c: Client): [number, Lease][] {
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
  protected put(ip: number, lease: Lease): void {
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
  protected track(ip: number, lease: Lease): void {
    const st = this.stateFor(ip);
    if (!st) return;
    if (holds(lease)) {
      this.marks.push(lease.expiresAt, ip);
      st.ends.push(lease.expiresAt, ip);
      if (lease.state === 'offered') st.offers.push(lease.expiresAt, ip);
      // Each record has at most one live entry a heap; every ends or offers push comes with a marks push.
      if (this.marks.size > COMPACT_SLACK + COMPACT_FACTOR * this.leases.size) this.compact();
    } else {
      this.mayBeFree(st, ip);
    }
  }

  /**
   * The heaps again from the records. Entries are never updated in place, so a record's earlier ends stay until their
   * time comes: churn (offers lapsing and made again, renewals) grows the heaps with the changes of the last lease
   * time, not with the records — bench/rss's fuzz runs left ~50,000 entries in each of four heaps of a 151-address
   * range. Run once they pass four times the records (a fleet renewing at half its lease time keeps about two), it
   * costs O(n) every 3n changes or more: O(1) a change, amortized; once in a while ~15 ms at 50,000 records and 22–30
   * at 100,000 (a scratch measurement), about one of V8's full GCs.
   */
  private compact(): void {
    type Pairs = [number[], number[]];
    const pairs = (): Pairs => [[], []];
    const marks = pairs();
    const ends = new Map<SubnetState, Pairs>(this.subnets.map((st) => [st, pairs()]));
    const offers = new Map<SubnetState, Pairs>(this.subnets.map((st) => [st, pairs()]));
    const add = ([keys, values]: Pairs, key: number, value: number) => {
      keys.push(key);
      values.push(value);
    };
    for (const [ip, lease] of this.leases) {
      const st = this.stateFor(ip);
      if (!st) continue;
      if (holds(lease)) {
        add(marks, lease.expiresAt, ip);
        add(ends.get(st) as Pairs, lease.expiresAt, ip);
        if (lease.state === 'offered') add(offers.get(st) as Pairs, lease.expiresAt, ip);
      } else {
        // Its ended entry, which would have returned the address to `free`, is gone with the old heap.
        this.mayBeFree(st, ip);
      }
    }
    this.marks = new MinHeap(...marks);
    for (const st of this.subnets) {
      st.ends = new MinHeap(...(ends.get(st) as Pairs));
      st.offers = new MinHeap(...(offers.get(st) as Pairs));
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
  protected newAddress(st: SubnetState, now: number): number | undefined {
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
  protected oldestOffer(st: SubnetState): number | undefined {
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
  protected check(st: SubnetState, c: Client, ip: number, now: number): Check {
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

  protected makeLease(ip: number, c: Client, state: LeaseState, expiresAt: number, hostname?: string): Lease {
    const l: Lease = { ip: intToIp(ip), mac: c.mac, state, expiresAt };
    if (c.clientId !== undefined) l.clientId = c.clientId;
    if (hostname !== undefined) l.hostname = hostname;
    return l;
  }
}
