/**
 * DHCPv6 address assignment (IA_NA, RFC 8415 §6.2) for full mode: one address per client and link from a configured
 * range. Pure: no sockets, no timers; every method takes `now` (ms). Each mutating method returns the leases it
 * changed, which the caller makes durable (Store.commitLeases) before it sends a REPLY that binds them, so an address
 * is never given to two clients across a crash. Leases are the Store's own records: the IPv6 address as `ip`, the
 * client's DUID (hex) as `clientId`.
 */
import type { Subnet6Config } from '../config/dhcp6.ts';
import { bigintToIpv6, inPrefix, ipv6ToBigint, parsePrefix } from '../net/ipv6.ts';
import type { StoredLease } from '../store/types.ts';

interface Subnet6 {
  config: Subnet6Config;
  prefix: { network: bigint; length: number };
  first: bigint;
  last: bigint;
  /** Where the next search for a free address starts. */
  cursor: bigint;
}

export interface Client6 {
  /** The DUID as lower-case hex. */
  duid: string;
  mac: string;
}

/** How long an ADVERTISEd address is held for the REQUEST that follows. */
const OFFER_HOLD_MS = 60_000;
/** RFC 8415 §18.3.8: a declined address is marked unavailable; held an hour, as the IPv4 pool does. */
const DECLINE_HOLD_MS = 3_600_000;
/** Bound on addresses looked at per allocation: a /64 range is never walked whole. */
const SCAN_LIMIT = 65_536;

export class Lease6Pool {
  private readonly subnets: Subnet6[];
  private readonly byIp = new Map<string, StoredLease>();

  constructor(configs: Subnet6Config[]) {
    this.subnets = configs.map((config) => {
      const prefix = parsePrefix(config.prefix);
      if (!prefix) throw new Error(`${config.prefix} is not an IPv6 prefix`);
      const first = ipv6ToBigint(config.range[0]);
      const last = ipv6ToBigint(config.range[1]);
      if (!inPrefix(first, prefix) || !inPrefix(last, prefix) || first > last) {
        throw new Error(`range ${config.range.join('-')} is not an ascending range inside ${config.prefix}`);
      }
      return { config, prefix, first, last, cursor: first };
    });
  }

  /** The subnet clients on `iface` are numbered from. */
  subnetFor(iface: string | undefined): Subnet6Config | undefined {
    return this.subnets.find((s) => !s.config.interfaces?.length || (iface && s.config.interfaces.includes(iface)))
      ?.config;
  }

  private stateOf(config: Subnet6Config): Subnet6 {
    return this.subnets.find((s) => s.config === config) as Subnet6;
  }

  /** Is `address` inside this subnet's prefix (RFC 8415 §18.3.3 CONFIRM: "appropriate for the link")? */
  onLink(config: Subnet6Config, address: string): boolean {
    try {
      return inPrefix(ipv6ToBigint(address), this.stateOf(config).prefix);
    } catch {
      return false;
    }
  }

  /** Leases from the store: the IPv6 ones inside a configured range (the IPv4 pool takes the rest). */
  restore(leases: StoredLease[]): void {
    for (const l of leases) {
      if (!l.ip.includes(':')) continue;
      const n = ipv6ToBigint(l.ip);
      if (this.subnets.some((s) => n >= s.first && n <= s.last)) this.byIp.set(bigintToIpv6(n), { ...l });
    }
  }

  all(): StoredLease[] {
    return [...this.byIp.values()].map((l) => ({ ...l }));
  }

  private held(l: StoredLease, now: number): boolean {
    return (l.state === 'offered' || l.state === 'bound' || l.state === 'declined') && l.expiresAt > now;
  }

  /** The client's lease in this subnet, live or not (a returning client gets its old address back). */
  private leaseOf(s: Subnet6, c: Client6): StoredLease | undefined {
    for (const l of this.byIp.values()) {
      if (l.clientId !== c.duid || l.mac !== c.mac) continue;
      const n = ipv6ToBigint(l.ip);
      if (n >= s.first && n <= s.last && l.state !== 'declined') return l;
    }
    return undefined;
  }

  private pick(s: Subnet6, now: number): string | undefined {
    const size = s.last - s.first + 1n;
    const tries = size < BigInt(SCAN_LIMIT) ? size : BigInt(SCAN_LIMIT);
    for (let i = 0n; i < tries; i++) {
      const n = s.first + ((s.cursor - s.first + i) % size);
      const ip = bigintToIpv6(n);
      const l = this.byIp.get(ip);
      if (!l || !this.held(l, now)) {
        s.cursor = n + 1n > s.last ? s.first : n + 1n;
        return ip;
      }
    }
    return undefined;
  }

  private put(ip: string, c: Client6, state: StoredLease['state'], expiresAt: number): StoredLease {
    const lease: StoredLease = { ip, mac: c.mac, clientId: c.duid, state, expiresAt };
    this.byIp.set(ip, lease);
    return { ...lease };
  }

  /**
   * The address for a SOLICIT (held as offered) or a REQUEST / rapid-commit SOLICIT (bound): the client's own one if
   * it has one, else a free one. Undefined when the range is full (§21.13 NoAddrsAvail).
   */
  assign(
    config: Subnet6Config,
    c: Client6,
    bind: boolean,
    now: number,
  ): { lease: StoredLease; changes: StoredLease[] } | undefined {
    const s = this.stateOf(config);
    const own = this.leaseOf(s, c);
    // A returning client gets its current or previous address back, as RFC 2131 §4.3.1 has it for IPv4.
    const ip = own?.ip ?? this.pick(s, now);
    if (!ip) return undefined;
    if (!bind && own?.ip === ip && own.state === 'bound' && own.expiresAt > now) {
      return { lease: { ...own }, changes: [] };
    }
    const lease = bind
      ? this.put(ip, c, 'bound', now + config.validSeconds * 1000)
      : this.put(ip, c, 'offered', now + OFFER_HOLD_MS);
    return { lease, changes: [lease] };
  }

  /** RENEW / REBIND of `address`: extended when this client holds it, else undefined (§18.3.4 NoBinding). */
  renew(config: Subnet6Config, c: Client6, address: string, now: number): StoredLease | undefined {
    const l = this.byIp.get(address);
    if (!l || l.clientId !== c.duid || l.mac !== c.mac || l.state === 'declined' || !this.onLink(config, address)) {
      return undefined;
    }
    return this.put(address, c, 'bound', now + config.validSeconds * 1000);
  }

  /** RELEASE (§18.3.7) or DECLINE (§18.3.8) of the client's address; undefined when it holds no such lease. */
  giveUp(c: Client6, address: string, how: 'released' | 'declined', now: number): StoredLease | undefined {
    const l = this.byIp.get(address);
    if (!l || l.clientId !== c.duid || l.mac !== c.mac) return undefined;
    return this.put(address, c, how, how === 'declined' ? now + DECLINE_HOLD_MS : now);
  }
}
