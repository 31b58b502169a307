/** What a DHCP request tells us about the client, in the shape boot/ decides on. */
import { archInfo } from '../boot/arch.ts';
import { macFromBytes, normalizeHostname, normalizeUuid } from '../model/identity.ts';
import type { ClientFacts } from '../model/types.ts';
import type { DhcpPacket } from './packet.ts';

/** Option 60 of PXE firmware: `PXEClient:Arch:00007:UNDI:003000`; UEFI HTTP boot sends `HTTPClient:Arch:00016…`. */
const VENDOR_ARCH_RE = /^(?:PXE|HTTP)Client:Arch:(\d{5})(?::|$)/;

/** The vendor class without the trailing NULs some firmware appends. */
function vendorClass(p: DhcpPacket): string | undefined {
  return p.options.vendorClassIdentifier?.replace(/\0+$/, '');
}

/** PXE 2.1 §2.2.1: a PXE client's option 60 begins with `PXEClient`. */
export function isPxeClient(p: DhcpPacket): boolean {
  return vendorClass(p)?.startsWith('PXEClient') ?? false;
}

/** UEFI HTTP boot clients (UEFI 2.5+, "HTTP Boot") send option 60 beginning with `HTTPClient`. */
export function isHttpClient(p: DhcpPacket): boolean {
  return vendorClass(p)?.startsWith('HTTPClient') ?? false;
}

/** The arch field of option 60 is decimal (`00007` is 7, `00016` is 16), not hex. */
export function archFromVendorClass(vendorClassIdentifier: string): number | undefined {
  const m = VENDOR_ARCH_RE.exec(vendorClassIdentifier);
  return m ? Number.parseInt(m[1]!, 10) : undefined;
}

/** Option 77 as one string: the bare string, or RFC 3004 instances joined with `,`. */
function userClass(p: DhcpPacket): string | undefined {
  const uc = p.options.userClass;
  if (!uc) return undefined;
  return uc.format === 'string' ? uc.value.replace(/\0+$/, '') : uc.instances.join(',');
}

function macFromChaddr(p: DhcpPacket): string {
  if (p.mac) return p.mac;
  return macFromBytes(p.chaddr.subarray(0, p.hlen));
}

export function factsFromPacket(p: DhcpPacket, iface?: string): ClientFacts {
  const o = p.options;
  const facts: ClientFacts = { mac: macFromChaddr(p) };
  const vc = vendorClass(p);
  // RFC 4578 §2.1: option 93 may list several types; the first is the one the client runs now.
  const arch = o.clientSystemArchitecture?.[0] ?? (vc === undefined ? undefined : archFromVendorClass(vc));
  if (arch !== undefined) facts.arch = arch;
  const info = archInfo(arch);
  if (info) {
    facts.platform = info.platform;
    facts.buildarch = info.buildarch;
  }
  if (vc !== undefined) facts.vendorClass = vc;
  const uc = userClass(p);
  if (uc !== undefined) facts.userClass = uc;
  const features = o.ipxe?.features;
  if (features) facts.ipxeFeatures = Object.keys(features);
  const cmi = o.clientMachineIdentifier;
  // normalizeUuid drops the placeholders (all-zero from a default QEMU, all-F from unset SMBIOS).
  const uuid = cmi && 'uuid' in cmi ? normalizeUuid(cmi.uuid) : undefined;
  if (uuid) facts.uuid = uuid;
  const hostname = normalizeHostname(o.hostName?.replace(/\0+$/, ''));
  if (hostname) facts.hostname = hostname;
  if (p.ciaddr !== '0.0.0.0') facts.ip = p.ciaddr;
  if (iface !== undefined) facts.iface = iface;
  return facts;
}
