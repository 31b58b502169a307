/**
 * The lease pool's internal shapes and small pure helpers: CIDR and address parsing, a subnet's address state (with
 * the free-address index lease-table.ts keeps), the client key, and the predicates over lease records. Shared by
 * lease-table.ts and pool.ts; not part of the pool's API.
 */
import { normalizeMac } from '../model/identity.ts';
import type { MinHeap } from './heap.ts';
import { intToIp, ipToInt, type Lease, type Subnet } from './lease.ts';

export function maskOf(prefix: number): number {
  return prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
}

export function parseCidr(cidr: string): { network: number; prefix: number } {
  const m = /^([\d.]+)\/(\d{1,2})$/.exec(cidr);
  const base = m ? ipToInt(m[1]!) : undefined;
  const prefix = m ? Number(m[2]) : Number.NaN;
  if (base === undefined || !(prefix >= 0 && prefix <= 32)) throw new Error(`not an IPv4 CIDR: ${cidr}`);
  const network = (base & maskOf(prefix)) >>> 0;
  if (network !== base) throw new Error(`${cidr} has host bits set (network is ${intToIp(network)}/${prefix})`);
  return { network, prefix };
}

export function mustIp(what: string, ip: string): number {
  const n = ipToInt(ip);
  if (n === undefined) throw new Error(`${what}: not an IPv4 address: ${JSON.stringify(ip)}`);
  return n;
}

/** The one MAC normalisation (model/identity.ts); the pool refuses what is not a MAC instead of storing it. */
export function mustMac(mac: string): string {
  const n = normalizeMac(mac);
  if (!n) throw new Error(`not a MAC address: ${JSON.stringify(mac)}`);
  return n;
}

export function clientIdHex(id: Buffer | string | undefined): string | undefined {
  if (id === undefined) return undefined;
  return typeof id === 'string' ? id.toLowerCase() : id.toString('hex');
}

export interface SubnetState {
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

export interface Client {
  mac: string;
  clientId?: string;
}

/** Option 61 decides when both the client and the record have one; otherwise chaddr does. */
export function sameClient(lease: Lease, c: Client): boolean {
  if (c.clientId !== undefined && lease.clientId !== undefined) return c.clientId === lease.clientId;
  return lease.mac === c.mac;
}

export function holds(l: Lease): boolean {
  return l.state === 'offered' || l.state === 'bound' || l.state === 'declined';
}

export function isActive(l: Lease, now: number): boolean {
  return holds(l) && l.expiresAt > now;
}

export function addTo<K>(index: Map<K, Set<number>>, key: K, ip: number): void {
  const set = index.get(key);
  if (set) set.add(ip);
  else index.set(key, new Set([ip]));
}

export function removeFrom<K>(index: Map<K, Set<number>>, key: K, ip: number): void {
  const set = index.get(key);
  if (set?.delete(ip) && set.size === 0) index.delete(key);
}
