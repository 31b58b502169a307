/** What a DHCPv6 message tells the boot policy about the client: the same ClientFacts the DHCPv4 path gives. */
import { archInfo } from '../boot/arch.ts';
import type { ClientFacts } from '../model/types.ts';
import { macFromDuid, macFromEui64 } from './addr.ts';
import type { Dhcp6Message } from './packet.ts';

/**
 * The client's MAC: from its DUID when that is a link-layer one (EDK2 sends DUID-LLT), else from the modified
 * EUI-64 of the link-local address it sent from (iPXE's DUID is a UUID one). Undefined when neither carries one.
 */
export function macOf(m: Dhcp6Message, source: string): string | undefined {
  return (m.options.clientId && macFromDuid(m.options.clientId)) ?? macFromEui64(source);
}

/** RFC 5970 §3.4 / PXE: the vendor class data of enterprise 343 (Intel) is `PXEClient:Arch:…` or `HTTPClient:…`. */
function vendorClass(m: Dhcp6Message): string | undefined {
  const first = m.options.vendorClass?.find((v) => v.data.length)?.data[0];
  return first?.replace(/\0+$/, '');
}

export function factsFromMessage(m: Dhcp6Message, mac: string, iface?: string): ClientFacts {
  const facts: ClientFacts = { mac, dhcp6: true };
  // RFC 5970 §3.3: the client lists its architecture types in decreasing order of preference.
  const arch = m.options.clientArch?.[0];
  if (arch !== undefined) {
    facts.arch = arch;
    const info = archInfo(arch);
    if (info) {
      facts.platform = info.platform;
      facts.buildarch = info.buildarch;
    }
  }
  const vc = vendorClass(m);
  if (vc !== undefined) facts.vendorClass = vc;
  // RFC 8415 §21.15: user-class-data items; iPXE sends one, `iPXE`.
  const uc = m.options.userClass?.map((s) => s.replace(/\0+$/, '')).join(',');
  if (uc) facts.userClass = uc;
  if (iface !== undefined) facts.iface = iface;
  return facts;
}

/** UEFI HTTP boot over IPv6 says so in its vendor class, as over IPv4 (`HTTPClient:Arch:00016…`). */
export function isHttpClient(facts: ClientFacts): boolean {
  return facts.vendorClass?.startsWith('HTTPClient') ?? false;
}
