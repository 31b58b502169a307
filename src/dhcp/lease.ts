/**
 * The lease pool's vocabulary: leases, subnets, reservations, the results of offer and request, the 32-bit address
 * math, and an in-memory LeaseStore. Types and pure helpers only; the pool is in pool.ts, the configured subnets and
 * their options in config/dhcp-subnets.ts.
 */
import type { SubnetConfig, SubnetOptions } from '../config/dhcp-subnets.ts';
import { ipv4ToNumber } from './wire.ts';

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
  /** Several servers on one store: the one whose claim wrote it (as the store returned it). */
  server?: string;
}

/** Durable lease storage (pool tests). The pool keeps the live state in memory; the store only has to persist it. */
export interface LeaseStore {
  load(): Promise<Lease[]>;
  /** Upserts by `ip`. Must be durable when the promise resolves. */
  commit(changes: Lease[]): Promise<void>;
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
  return ipv4ToNumber(ip);
}

export function intToIp(n: number): string {
  return `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
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
