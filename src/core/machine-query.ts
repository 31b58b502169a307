/**
 * Machine listings' query: page sizes and the filters the API and UI offer (label, group, profile, last seen,
 * free text), and the subnet filter of the lease listing. Pure: a query in, a predicate out, a bad value a 400 naming
 * its field.
 */
import type { Machine } from '../model/types.ts';
import { fieldError } from '../model/validate.ts';

const MAX_PAGE = 500;

export interface MachineQuery {
  limit?: number;
  /** The last id of the previous page. */
  cursor?: string;
  /** `key=value`: machines with this label. */
  label?: string;
  group?: string;
  profile?: string;
  /** `never`, or a window like `1h`, `24h`, `7d`: machines seen (or, for never, not seen) within it. */
  seen?: string;
  /** Substring of id, hostname, MAC, UUID, serial or IP. */
  q?: string;
}

/** A page size from a request: 50 unless asked, never below 1 or above MAX_PAGE. */
export function pageLimit(asked: number | undefined): number {
  return Math.min(Math.max(asked ?? 50, 1), MAX_PAGE);
}

const WINDOW_RE = /^(\d{1,4})([mhd])$/;

export function machineFilter(q: MachineQuery, now: Date): ((m: Machine) => boolean) | undefined {
  const tests: ((m: Machine) => boolean)[] = [];
  if (q.label) {
    const eq = q.label.indexOf('=');
    const [k, v] = eq < 0 ? [q.label, undefined] : [q.label.slice(0, eq), q.label.slice(eq + 1)];
    // Own keys only: `label=constructor` must not match every machine through Object.prototype.
    tests.push((m) => Object.hasOwn(m.labels, k) && (v === undefined || m.labels[k] === v));
  }
  if (q.group) tests.push((m) => m.group === q.group);
  if (q.profile) tests.push((m) => m.profile === q.profile);
  if (q.seen) {
    if (q.seen === 'never') tests.push((m) => !m.lastSeen);
    else {
      const w = WINDOW_RE.exec(q.seen);
      if (!w) throw fieldError('seen', 'use never, or a window like 30m, 24h, 7d');
      const ms = Number(w[1]) * { m: 60_000, h: 3_600_000, d: 86_400_000 }[w[2] as 'm' | 'h' | 'd'];
      const since = now.getTime() - ms;
      tests.push((m) => !!m.lastSeen && Date.parse(m.lastSeen.at) >= since);
    }
  }
  if (q.q) {
    const needle = q.q.toLowerCase();
    tests.push((m) =>
      [m.id, m.hostname, m.uuid, m.serial, m.ip, ...m.macs].some((x) => x?.toLowerCase().includes(needle)),
    );
  }
  return tests.length ? (m) => tests.every((t) => t(m)) : undefined;
}

export function cidrMatcher(cidr: string): (ip: string) => boolean {
  const m = /^(\d{1,3}(?:\.\d{1,3}){3})\/(\d{1,2})$/.exec(cidr);
  const toInt = (ip: string) => ip.split('.').reduce((a, o) => ((a << 8) | Number(o)) >>> 0, 0);
  if (!m || Number(m[2]) > 32) throw fieldError('subnet', `"${cidr}" is not an IPv4 CIDR like 192.0.2.0/24`);
  const prefix = Number(m[2]);
  const mask = prefix === 0 ? 0 : (~0 << (32 - prefix)) >>> 0;
  const net = (toInt(m[1]!) & mask) >>> 0;
  return (ip) => (toInt(ip) & mask) >>> 0 === net;
}
