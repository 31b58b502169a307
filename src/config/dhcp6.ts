/**
 * The `dhcp6` section of the configuration: DHCPv6 beside (or instead of) DHCPv4, on its own because an IPv6 link
 * has its own prefix, lifetimes and Router Advertisements, and an IPv6-only segment runs it with `dhcp.mode: off`.
 *
 *   dhcp6:
 *     mode: full                      # off (default) | full
 *     interfaces: [br0]               # default: dhcp.interfaces
 *     subnets:
 *       - prefix: 2001:db8::/64
 *         range: [2001:db8::100, 2001:db8::1ff]
 *         preferred_lifetime: 3600    # seconds; valid_lifetime defaults to twice it
 *         dns: [2001:db8::53]
 *     router_advertisements: true     # answer RS with M=1, O=1 and the prefix (on-link)
 *     slaac: false                    # the prefix's A flag: hosts may also pick their own addresses
 */
import { isIPv6 } from 'node:net';
import { inPrefix, ipv6ToBigint, parsePrefix } from '../net/ipv6.ts';
import type { Value } from './reader.ts';

export interface Subnet6Config {
  /** The on-link prefix, e.g. `2001:db8::/64`. */
  prefix: string;
  /** First and last address handed out (inclusive). */
  range: [string, string];
  /** RFC 8415 §21.6 preferred and valid lifetimes of the addresses, seconds. */
  preferredSeconds: number;
  validSeconds: number;
  dnsServers?: string[];
  /** Interfaces whose clients are numbered from this subnet; empty: any served interface. */
  interfaces?: string[];
}

export interface Dhcp6Config {
  mode: 'off' | 'full';
  interfaces: string[];
  port: number;
  subnets: Subnet6Config[];
  routerAdvertisements: boolean;
  slaac: boolean;
}

function ipv6(v: Value): string {
  const s = v.string() as string;
  if (!isIPv6(s) || s.includes('%')) v.fail(`"${s}" is not an IPv6 address`);
  return s;
}

export function parseDhcp6(v: Value, dhcpInterfaces: string[]): Dhcp6Config {
  v.keys(['mode', 'interfaces', 'port', 'subnets', 'router_advertisements', 'slaac']);
  const mode = v.get('mode').oneOf(['off', 'full'] as const, 'off');
  const interfaces = v.get('interfaces').present ? v.get('interfaces').strings() : dhcpInterfaces;
  const subnetsValue = v.get('subnets');
  const subnets = subnetsValue.items().map((s): Subnet6Config => {
    s.keys(['prefix', 'range', 'preferred_lifetime', 'valid_lifetime', 'dns', 'interfaces']);
    const prefixValue = s.get('prefix');
    const text = prefixValue.string() as string;
    const prefix = parsePrefix(text) ?? prefixValue.fail(`"${text}" is not an IPv6 prefix like 2001:db8::/64`);
    const rangeValue = s.get('range');
    const range = rangeValue.items().map(ipv6);
    if (range.length !== 2) rangeValue.fail('must be [first, last]');
    const [first, last] = range.map(ipv6ToBigint) as [bigint, bigint];
    if (!inPrefix(first, prefix) || !inPrefix(last, prefix)) rangeValue.fail(`both ends must be inside ${text}`);
    if (first > last) rangeValue.fail('first must not come after last');
    const preferredSeconds = s.get('preferred_lifetime').int(3600, 60, 365 * 24 * 3600);
    const validValue = s.get('valid_lifetime');
    const validSeconds = validValue.int(preferredSeconds * 2, 60, 365 * 24 * 3600);
    // RFC 8415 §21.6: a client discards an address whose preferred lifetime exceeds its valid lifetime.
    if (validSeconds < preferredSeconds) validValue.fail('must not be shorter than preferred_lifetime');
    return {
      prefix: text,
      range: [range[0] as string, range[1] as string],
      preferredSeconds,
      validSeconds,
      ...(s.get('dns').present ? { dnsServers: s.get('dns').items().map(ipv6) } : {}),
      ...(s.get('interfaces').present ? { interfaces: s.get('interfaces').strings() } : {}),
    };
  });
  if (mode === 'full' && subnets.length === 0) subnetsValue.fail('full mode needs at least one subnet with a range');
  if (mode === 'full' && interfaces.length === 0) {
    v.get('interfaces').fail('DHCPv6 needs the interfaces to serve (dhcp6.interfaces or dhcp.interfaces)');
  }
  return {
    mode,
    interfaces,
    port: v.get('port').int(547, 1, 65535),
    subnets,
    routerAdvertisements: v.get('router_advertisements').bool(mode === 'full'),
    slaac: v.get('slaac').bool(false),
  };
}
