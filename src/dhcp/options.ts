/**
 * DHCPv4 option values (RFC 2132 and the PXE/iPXE extensions netboot needs): one option's bytes ↔ a typed value.
 * Framing (code/length, RFC 3396 long options, overload) lives in packet.ts.
 */

/** Option codes we give a typed value (RFC 2132 names unless noted). */
export const OptionCode = {
  Pad: 0,
  SubnetMask: 1,
  Router: 3,
  DomainNameServer: 6,
  HostName: 12,
  DomainName: 15,
  BroadcastAddress: 28,
  NtpServers: 42,
  VendorSpecific: 43,
  RequestedIpAddress: 50,
  LeaseTime: 51,
  OptionOverload: 52,
  MessageType: 53,
  ServerIdentifier: 54,
  ParameterRequestList: 55,
  MaxMessageSize: 57,
  RenewalTime: 58,
  RebindingTime: 59,
  VendorClassIdentifier: 60,
  ClientIdentifier: 61,
  TftpServerName: 66,
  BootfileName: 67,
  /** RFC 3004 */
  UserClass: 77,
  /** RFC 3046 */
  RelayAgentInformation: 82,
  /** RFC 4578 */
  ClientSystemArchitecture: 93,
  /** RFC 4578 */
  ClientNetworkInterfaceIdentifier: 94,
  /** RFC 4578 */
  ClientMachineIdentifier: 97,
  /** RFC 3397 */
  DomainSearch: 119,
  /** iPXE's encapsulated options ("Etherboot", site-specific range). */
  Ipxe: 175,
  /** RFC 5071 */
  PxelinuxConfigFile: 209,
  /** RFC 5071 */
  PxelinuxPathPrefix: 210,
  End: 255,
} as const;

/** RFC 2132 §9.6 DHCP message types. */
export const MessageType = {
  Discover: 1,
  Offer: 2,
  Request: 3,
  Decline: 4,
  Ack: 5,
  Nak: 6,
  Release: 7,
  Inform: 8,
} as const;

/** A sub-option of an encapsulated option (43, 82, 175) kept as bytes. */
export interface EncapsulatedOption {
  code: number;
  data: Buffer;
}

/** PXE 2.1 vendor options carried in option 43 when option 60 starts with `PXEClient`. */
export interface PxeVendorOptions {
  /** 6 PXE_DISCOVERY_CONTROL bit field (bit 3: boot file name in the DHCP packet, skip discovery). */
  discoveryControl?: number;
  /** 8 PXE_BOOT_SERVERS. */
  bootServers?: { type: number; addresses: string[] }[];
  /** 9 PXE_BOOT_MENU. */
  bootMenu?: { type: number; description: string }[];
  /** 10 PXE_MENU_PROMPT: timeout in seconds (255: wait for a key, 0: boot the first item at once). */
  menuPrompt?: { timeout: number; prompt: string };
  /** 71 PXE_BOOT_ITEM. */
  bootItem?: { type: number; layer: number };
  /** Any other sub-option, in the order received. */
  other?: EncapsulatedOption[];
}

/** iPXE feature flags in option 175 (iPXE include/ipxe/features.h, DHCP_EB_FEATURE_*). */
export const IPXE_FEATURES: ReadonlyMap<number, string> = new Map([
  [0x10, 'pxeext'],
  [0x11, 'iscsi'],
  [0x12, 'aoe'],
  [0x13, 'http'],
  [0x14, 'https'],
  [0x15, 'tftp'],
  [0x16, 'ftp'],
  [0x17, 'dns'],
  [0x18, 'bzimage'],
  [0x19, 'multiboot'],
  [0x1a, 'slam'],
  [0x1b, 'srp'],
  [0x20, 'nbi'],
  [0x21, 'pxe'],
  [0x22, 'elf'],
  [0x23, 'comboot'],
  [0x24, 'efi'],
  [0x25, 'fcoe'],
  [0x26, 'vlan'],
  [0x27, 'menu'],
  [0x28, 'sdi'],
  [0x29, 'nfs'],
]);
export const IPXE_FEATURE_CODES: ReadonlyMap<string, number> = new Map([...IPXE_FEATURES].map(([c, n]) => [n, c]));

/** iPXE encapsulated sub-options (iPXE include/ipxe/dhcp.h). */
const IPXE_NO_PXEDHCP = 0xb0;
const IPXE_BUS_ID = 0xb1;
const IPXE_VERSION = 0xeb;

/** Option 175, iPXE's encapsulated options. */
export interface IpxeOptions {
  /** 0xb1 bus id: bus type then ids, e.g. `01 8086 100e` = PCI 8086:100e. */
  busId?: Buffer;
  /** 0xeb version, `major.minor.patch`. */
  version?: string;
  /** 0xb0 (175.176) `no-pxedhcp`: sent by a server so iPXE does not wait for proxyDHCP offers. */
  noPxeDhcp?: boolean;
  /** Feature flags by name → the flag's value (1, or the API version for `pxeext`), in the order received. */
  features?: Record<string, number>;
  /** Sub-options without a typed value, in the order received. */
  other?: EncapsulatedOption[];
}

/** Option 77: iPXE sends a bare string (`iPXE`); RFC 3004 clients send length-prefixed instances. */
export type UserClass = { format: 'string'; value: string } | { format: 'rfc3004'; instances: string[] };

/** Option 97: type 0 is a 16-byte GUID, shown as a canonical UUID (RFC 4578 §2.3). */
export type ClientMachineIdentifier = { type: 0; uuid: string } | { type: number; id: Buffer };

/** Option 94 (RFC 4578 §2.2): UNDI interface type and version. */
export interface NetworkInterfaceIdentifier {
  type: number;
  major: number;
  minor: number;
}

/**
 * Every option, by RFC name. Options without a typed field, and option 43 from a client that is not a PXEClient,
 * are kept as bytes in `raw`.
 */
export interface DhcpOptions {
  subnetMask?: string;
  routers?: string[];
  domainNameServers?: string[];
  hostName?: string;
  domainName?: string;
  broadcastAddress?: string;
  ntpServers?: string[];
  vendorSpecific?: PxeVendorOptions;
  requestedIpAddress?: string;
  leaseTime?: number;
  /** Decoded only: the encoder sets option 52 itself when the options need the file/sname fields. */
  overload?: 1 | 2 | 3;
  messageType?: number;
  serverIdentifier?: string;
  parameterRequestList?: number[];
  maxMessageSize?: number;
  renewalTime?: number;
  rebindingTime?: number;
  vendorClassIdentifier?: string;
  clientIdentifier?: Buffer;
  tftpServerName?: string;
  bootfileName?: string;
  userClass?: UserClass;
  /** Sub-options kept as bytes, to echo back unchanged (RFC 3046 §2.2). */
  relayAgentInformation?: EncapsulatedOption[];
  clientSystemArchitecture?: number[];
  clientNetworkInterfaceIdentifier?: NetworkInterfaceIdentifier;
  clientMachineIdentifier?: ClientMachineIdentifier;
  domainSearch?: string[];
  ipxe?: IpxeOptions;
  pxelinuxConfigFile?: string;
  pxelinuxPathPrefix?: string;
  raw?: Map<number, Buffer>;
}

export type DhcpDecodeErrorCode =
  | 'TRUNCATED_HEADER'
  | 'BAD_OP'
  | 'BAD_HLEN'
  | 'BAD_COOKIE'
  | 'OPTION_OVERRUN'
  | 'ZERO_LENGTH'
  | 'BAD_LENGTH'
  | 'BAD_OVERLOAD'
  | 'SUBOPTION_OVERRUN'
  | 'BAD_DOMAIN_NAME';

export interface DhcpDecodeError {
  code: DhcpDecodeErrorCode;
  message: string;
  /** The option at fault, when there is one. */
  option?: number;
}

export type DhcpEncodeErrorCode = 'BAD_VALUE' | 'TOO_LARGE';

export interface DhcpEncodeError {
  code: DhcpEncodeErrorCode;
  message: string;
  option?: number;
}

/** Internal to the codec (packet.ts catches it): decodePacket returns it as an error result. */
export class DecodeFailure extends Error {
  constructor(
    readonly code: DhcpDecodeErrorCode,
    readonly option: number | undefined,
    message: string,
  ) {
    super(message);
  }
}

/** Internal to the codec (packet.ts catches it): encodePacket returns it as an error result. */
export class EncodeFailure extends Error {
  constructor(
    readonly code: DhcpEncodeErrorCode,
    readonly option: number | undefined,
    message: string,
  ) {
    super(message);
  }
}

function fail(code: DhcpDecodeErrorCode, option: number | undefined, message: string): never {
  throw new DecodeFailure(code, option, message);
}

function invalid(option: number | undefined, message: string): never {
  throw new EncodeFailure('BAD_VALUE', option, message);
}

// ---------------------------------------------------------------------------------------------------------------
// Primitive values

export function ipv4ToString(b: Buffer, off = 0): string {
  return `${b[off]}.${b[off + 1]}.${b[off + 2]}.${b[off + 3]}`;
}

/** Strict dotted quad → 4 bytes; undefined if `s` is not one. */
/** A dotted quad (four decimal octets 0-255, no leading zeros) as a 32-bit unsigned number. A loop rather than a
 * regex and a split: it runs several times for every packet encoded and every address the pool looks at. */
export function ipv4ToNumber(s: string): number | undefined {
  let n = 0;
  let part = 0;
  let digits = 0;
  let dots = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 46) {
      if (digits === 0 || ++dots > 3) return undefined;
      n = n * 256 + part;
      part = 0;
      digits = 0;
    } else if (c >= 48 && c <= 57) {
      if (digits > 0 && part === 0) return undefined;
      part = part * 10 + (c - 48);
      if (++digits > 3 || part > 255) return undefined;
    } else {
      return undefined;
    }
  }
  return digits === 0 || dots !== 3 ? undefined : n * 256 + part;
}

export function ipv4ToBytes(s: string): Buffer | undefined {
  const n = ipv4ToNumber(s);
  if (n === undefined) return undefined;
  const b = Buffer.allocUnsafe(4);
  b.writeUInt32BE(n, 0);
  return b;
}

function ipv4Out(code: number | undefined, s: string): Buffer {
  return ipv4ToBytes(s) ?? invalid(code, `not an IPv4 address: ${JSON.stringify(s)}`);
}

/**
 * RFC 2132 strings are NVT ASCII. Read them one character per octet (latin1) so that any bytes survive a
 * decode → encode round trip unchanged; a client's UTF-8 shows up as its octets.
 */
export function decodeText(b: Buffer): string {
  return b.toString('latin1');
}

/** The inverse of decodeText: a character above U+00FF has no octet, so it is a BAD_VALUE, never mangled. */
export function encodeText(option: number | undefined, s: string): Buffer {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: the whole octet range is the point
  if (!/^[\u0000-\u00ff]*$/.test(s)) invalid(option, `${JSON.stringify(s)} has characters outside one octet`);
  return Buffer.from(s, 'latin1');
}

function uintOut(code: number | undefined, v: number, bytes: 1 | 2 | 4): Buffer {
  const max = 2 ** (8 * bytes) - 1;
  if (!Number.isInteger(v) || v < 0 || v > max) invalid(code, `${v} is not an unsigned ${8 * bytes}-bit integer`);
  const b = Buffer.alloc(bytes);
  b.writeUIntBE(v, 0, bytes);
  return b;
}

/** Type 0 GUID → UUID string: the first three fields are little-endian on the wire (SMBIOS byte order). */
export function guidToUuid(g: Buffer): string {
  const h = (i: number, n: number, le: boolean): string => {
    const s = g.subarray(i, i + n);
    return Buffer.from(le ? [...s].reverse() : s).toString('hex');
  };
  return `${h(0, 4, true)}-${h(4, 2, true)}-${h(6, 2, true)}-${h(8, 2, false)}-${h(10, 6, false)}`;
}

const UUID_RE = /^([0-9a-f]{8})-([0-9a-f]{4})-([0-9a-f]{4})-([0-9a-f]{4})-([0-9a-f]{12})$/i;

/** UUID string → the 16 GUID bytes as clients send them; undefined if `uuid` is not 8-4-4-4-12 hex. */
export function uuidToGuid(uuid: string): Buffer | undefined {
  const m = UUID_RE.exec(uuid);
  if (!m) return undefined;
  const f = m.slice(1).map((x) => Buffer.from(x, 'hex'));
  return Buffer.concat([f[0]!.reverse(), f[1]!.reverse(), f[2]!.reverse(), f[3]!, f[4]!]);
}

/** Encapsulated TLVs (RFC 2132 §8.4 layout). `padEnd`: 0 is a pad byte and 255 ends the list. */
function parseSubOptions(code: number, b: Buffer, padEnd: boolean): EncapsulatedOption[] {
  const out: EncapsulatedOption[] = [];
  let i = 0;
  while (i < b.length) {
    const c = b[i]!;
    if (padEnd && c === 0) {
      i++;
      continue;
    }
    if (padEnd && c === 255) break;
    if (i + 1 >= b.length) fail('SUBOPTION_OVERRUN', code, `sub-option ${c} of option ${code} has no length`);
    const len = b[i + 1]!;
    if (i + 2 + len > b.length) fail('SUBOPTION_OVERRUN', code, `sub-option ${c} of option ${code} runs past its end`);
    out.push({ code: c, data: Buffer.from(b.subarray(i + 2, i + 2 + len)) });
    i += 2 + len;
  }
  return out;
}

function subOptionsOut(code: number, subs: EncapsulatedOption[]): Buffer[] {
  return subs.map((s) => {
    if (s.data.length > 255) invalid(code, `sub-option ${s.code} of option ${code} is over 255 bytes`);
    return Buffer.concat([uintOut(code, s.code, 1), Buffer.from([s.data.length]), s.data]);
  });
}

/** RFC 1035 §3.1 names, with §4.1.4 compression pointers into the option's own data (RFC 3397 §2). */
function parseDomainList(code: number, b: Buffer): string[] {
  const names: string[] = [];
  let i = 0;
  while (i < b.length) {
    const labels: string[] = [];
    let p = i;
    let end = -1; // where the next name starts, fixed by the first pointer or the root label
    let jumps = 0;
    for (;;) {
      if (p >= b.length) fail('BAD_DOMAIN_NAME', code, 'domain name runs past the end of the option');
      const len = b[p]!;
      if (len === 0) {
        if (end < 0) end = p + 1;
        break;
      }
      if ((len & 0xc0) === 0xc0) {
        if (p + 1 >= b.length) fail('BAD_DOMAIN_NAME', code, 'truncated compression pointer');
        const target = ((len & 0x3f) << 8) | b[p + 1]!;
        // Pointers must go backwards; that alone rules out loops, the jump cap is belt and braces.
        if (target >= p || ++jumps > 128) fail('BAD_DOMAIN_NAME', code, 'compression pointer does not point back');
        if (end < 0) end = p + 2;
        p = target;
        continue;
      }
      if (len > 63) fail('BAD_DOMAIN_NAME', code, `label length ${len} is over 63`);
      if (p + 1 + len > b.length) fail('BAD_DOMAIN_NAME', code, 'label runs past the end of the option');
      const label = b.toString('latin1', p + 1, p + 1 + len);
      // A dot inside a label could not be told from a separator in the dotted form.
      if (label.includes('.')) fail('BAD_DOMAIN_NAME', code, 'label contains a dot');
      labels.push(label);
      p += 1 + len;
    }
    names.push(labels.join('.'));
    i = end;
  }
  return names;
}

function domainListOut(code: number, names: string[]): Buffer {
  const parts: Buffer[] = [];
  for (const name of names) {
    const labels = name === '' ? [] : name.replace(/\.$/, '').split('.');
    let total = 1;
    for (const label of labels) {
      const l = encodeText(code, label);
      if (l.length === 0 || l.length > 63) invalid(code, `bad label in domain name ${JSON.stringify(name)}`);
      total += 1 + l.length;
      parts.push(Buffer.from([l.length]), l);
    }
    if (total > 255) invalid(code, `domain name ${JSON.stringify(name)} is over 255 octets`);
    parts.push(Buffer.from([0]));
  }
  return Buffer.concat(parts);
}

// ---------------------------------------------------------------------------------------------------------------
// Option 43 (PXE), 175 (iPXE), 77 (user class)

function parsePxe(b: Buffer): PxeVendorOptions {
  const code = OptionCode.VendorSpecific;
  const out: PxeVendorOptions = {};
  const other: EncapsulatedOption[] = [];
  const bad = (sub: number): never => fail('BAD_LENGTH', code, `PXE sub-option ${sub} has a bad length`);
  for (const s of parseSubOptions(code, b, true)) {
    const d = s.data;
    switch (s.code) {
      case 6:
        if (d.length !== 1) bad(6);
        out.discoveryControl = d[0]!;
        break;
      case 8: {
        const servers: { type: number; addresses: string[] }[] = [];
        for (let i = 0; i < d.length; ) {
          if (i + 3 > d.length) bad(8);
          const n = d[i + 2]!;
          if (i + 3 + 4 * n > d.length) bad(8);
          const addresses: string[] = [];
          for (let k = 0; k < n; k++) addresses.push(ipv4ToString(d, i + 3 + 4 * k));
          servers.push({ type: d.readUInt16BE(i), addresses });
          i += 3 + 4 * n;
        }
        out.bootServers = servers;
        break;
      }
      case 9: {
        const items: { type: number; description: string }[] = [];
        for (let i = 0; i < d.length; ) {
          if (i + 3 > d.length) bad(9);
          const n = d[i + 2]!;
          if (i + 3 + n > d.length) bad(9);
          items.push({ type: d.readUInt16BE(i), description: decodeText(d.subarray(i + 3, i + 3 + n)) });
          i += 3 + n;
        }
        out.bootMenu = items;
        break;
      }
      case 10:
        if (d.length < 1) bad(10);
        out.menuPrompt = { timeout: d[0]!, prompt: decodeText(d.subarray(1)) };
        break;
      case 71:
        if (d.length !== 4) bad(71);
        out.bootItem = { type: d.readUInt16BE(0), layer: d.readUInt16BE(2) };
        break;
      default:
        other.push(s);
    }
  }
  if (other.length > 0) out.other = other;
  return out;
}

function pxeOut(v: PxeVendorOptions): Buffer {
  const code = OptionCode.VendorSpecific;
  const subs: EncapsulatedOption[] = [];
  if (v.discoveryControl !== undefined) subs.push({ code: 6, data: uintOut(code, v.discoveryControl, 1) });
  if (v.bootServers) {
    const parts = v.bootServers.flatMap((s) => [
      uintOut(code, s.type, 2),
      uintOut(code, s.addresses.length, 1),
      ...s.addresses.map((a) => ipv4Out(code, a)),
    ]);
    subs.push({ code: 8, data: Buffer.concat(parts) });
  }
  if (v.bootMenu) {
    const parts = v.bootMenu.flatMap((m) => {
      const text = encodeText(code, m.description);
      return [uintOut(code, m.type, 2), uintOut(code, text.length, 1), text];
    });
    subs.push({ code: 9, data: Buffer.concat(parts) });
  }
  if (v.menuPrompt) {
    const data = Buffer.concat([uintOut(code, v.menuPrompt.timeout, 1), encodeText(code, v.menuPrompt.prompt)]);
    subs.push({ code: 10, data });
  }
  if (v.bootItem) {
    subs.push({
      code: 71,
      data: Buffer.concat([uintOut(code, v.bootItem.type, 2), uintOut(code, v.bootItem.layer, 2)]),
    });
  }
  subs.push(...(v.other ?? []));
  // PXE 2.1 §2.4.1: the vendor options end with PXE_END (255).
  return Buffer.concat([...subOptionsOut(code, subs), Buffer.from([255])]);
}

function parseIpxe(b: Buffer): IpxeOptions {
  const out: IpxeOptions = {};
  const features: Record<string, number> = {};
  const other: EncapsulatedOption[] = [];
  for (const s of parseSubOptions(OptionCode.Ipxe, b, true)) {
    const name = IPXE_FEATURES.get(s.code);
    if (s.code === IPXE_BUS_ID) out.busId = s.data;
    else if (s.code === IPXE_VERSION && s.data.length === 3) out.version = [...s.data].join('.');
    else if (s.code === IPXE_NO_PXEDHCP && s.data.length === 1 && s.data[0] === 1) out.noPxeDhcp = true;
    else if (name !== undefined && s.data.length === 1) features[name] = s.data[0]!;
    else other.push(s);
  }
  if (Object.keys(features).length > 0) out.features = features;
  if (other.length > 0) out.other = other;
  return out;
}

function ipxeOut(v: IpxeOptions): Buffer {
  const code = OptionCode.Ipxe;
  const subs: EncapsulatedOption[] = [];
  if (v.busId) subs.push({ code: IPXE_BUS_ID, data: v.busId });
  if (v.version !== undefined) {
    const m = /^(\d+)\.(\d+)\.(\d+)$/.exec(v.version);
    if (!m) invalid(code, `iPXE version ${JSON.stringify(v.version)} is not major.minor.patch`);
    subs.push({ code: IPXE_VERSION, data: Buffer.concat(m.slice(1).map((x) => uintOut(code, Number(x), 1))) });
  }
  if (v.noPxeDhcp) subs.push({ code: IPXE_NO_PXEDHCP, data: Buffer.from([1]) });
  for (const [name, value] of Object.entries(v.features ?? {})) {
    const c = IPXE_FEATURE_CODES.get(name) ?? invalid(code, `unknown iPXE feature ${JSON.stringify(name)}`);
    subs.push({ code: c, data: uintOut(code, value, 1) });
  }
  subs.push(...(v.other ?? []));
  return Buffer.concat(subOptionsOut(code, subs));
}

/** RFC 3004 instances (each a length byte then ≥ 1 octets) must use the data exactly; else it is a bare string. */
function parseUserClass(b: Buffer): UserClass {
  const instances: string[] = [];
  let i = 0;
  while (i < b.length) {
    const n = b[i]!;
    if (n === 0 || i + 1 + n > b.length) return { format: 'string', value: decodeText(b) };
    instances.push(decodeText(b.subarray(i + 1, i + 1 + n)));
    i += 1 + n;
  }
  return { format: 'rfc3004', instances };
}

function userClassOut(v: UserClass): Buffer {
  if (v.format === 'string') return encodeText(OptionCode.UserClass, v.value);
  return Buffer.concat(
    v.instances.map((s) => {
      const b = encodeText(OptionCode.UserClass, s);
      if (b.length < 1 || b.length > 255) invalid(OptionCode.UserClass, 'user class instance of bad length');
      return Buffer.concat([Buffer.from([b.length]), b]);
    }),
  );
}

// ---------------------------------------------------------------------------------------------------------------
// Whole option set

type Shape = 'ip' | 'ips' | 'text' | 'u32' | 'u16' | 'u8' | 'u8s';

/** Options whose value is a plain field, with the RFC's length rule. */
const SIMPLE: ReadonlyMap<number, [keyof DhcpOptions, Shape]> = new Map([
  [1, ['subnetMask', 'ip']],
  [3, ['routers', 'ips']],
  [6, ['domainNameServers', 'ips']],
  [12, ['hostName', 'text']],
  [15, ['domainName', 'text']],
  [28, ['broadcastAddress', 'ip']],
  [42, ['ntpServers', 'ips']],
  [50, ['requestedIpAddress', 'ip']],
  [51, ['leaseTime', 'u32']],
  [53, ['messageType', 'u8']],
  [54, ['serverIdentifier', 'ip']],
  [55, ['parameterRequestList', 'u8s']],
  [57, ['maxMessageSize', 'u16']],
  [58, ['renewalTime', 'u32']],
  [59, ['rebindingTime', 'u32']],
  [60, ['vendorClassIdentifier', 'text']],
  [66, ['tftpServerName', 'text']],
  [67, ['bootfileName', 'text']],
  [209, ['pxelinuxConfigFile', 'text']],
  [210, ['pxelinuxPathPrefix', 'text']],
] satisfies [number, [keyof DhcpOptions, Shape]][]);

function decodeSimple(code: number, shape: Shape, b: Buffer): string | string[] | number | number[] {
  const need = (ok: boolean, rule: string): void => {
    if (!ok) fail('BAD_LENGTH', code, `option ${code} has length ${b.length}, ${rule}`);
  };
  switch (shape) {
    case 'ip':
      need(b.length === 4, 'expected 4');
      return ipv4ToString(b);
    case 'ips':
      need(b.length % 4 === 0, 'expected a multiple of 4');
      return Array.from({ length: b.length / 4 }, (_, k) => ipv4ToString(b, 4 * k));
    case 'u32':
      need(b.length === 4, 'expected 4');
      return b.readUInt32BE(0);
    case 'u16':
      need(b.length === 2, 'expected 2');
      return b.readUInt16BE(0);
    case 'u8':
      need(b.length === 1, 'expected 1');
      return b[0]!;
    case 'u8s':
      return [...b];
    case 'text':
      return decodeText(b);
  }
}

function encodeSimple(code: number, shape: Shape, v: unknown): Buffer {
  const bad = (): never => invalid(code, `option ${code}: value of the wrong type`);
  switch (shape) {
    case 'ip':
      return typeof v === 'string' ? ipv4Out(code, v) : bad();
    case 'ips':
      return Array.isArray(v) ? Buffer.concat(v.map((a) => (typeof a === 'string' ? ipv4Out(code, a) : bad()))) : bad();
    case 'u32':
      return typeof v === 'number' ? uintOut(code, v, 4) : bad();
    case 'u16':
      return typeof v === 'number' ? uintOut(code, v, 2) : bad();
    case 'u8':
      return typeof v === 'number' ? uintOut(code, v, 1) : bad();
    case 'u8s':
      return Array.isArray(v)
        ? Buffer.concat(v.map((x) => (typeof x === 'number' ? uintOut(code, x, 1) : bad())))
        : bad();
    case 'text':
      return typeof v === 'string' ? encodeText(code, v) : bad();
  }
}

/** Options with a typed value that is not a SIMPLE field. */
const TYPED_COMPLEX = new Set<number>([52, 61, 77, 82, 93, 94, 97, 119, 175]);

/**
 * Typed options from the concatenated value of each option (RFC 3396), in the order first seen.
 * Throws CodecFailure on a value that breaks its RFC's length rule.
 */
export function decodeOptions(values: Map<number, Buffer>): DhcpOptions {
  const o: DhcpOptions = {};
  const raw = new Map<number, Buffer>();
  for (const [code, b] of values) {
    const simple = SIMPLE.get(code);
    // RFC 2132 gives every typed option a minimum length of at least 1. (iPXE's 175 is no RFC option: an empty
    // one, like one holding only End, says nothing and is no error.)
    if (b.length === 0 && (simple || (TYPED_COMPLEX.has(code) && code !== OptionCode.Ipxe)))
      fail('ZERO_LENGTH', code, `option ${code} is empty`);
    if (simple) {
      Object.assign(o, { [simple[0]]: decodeSimple(code, simple[1], b) });
      continue;
    }
    switch (code) {
      case OptionCode.OptionOverload:
        if (b.length !== 1 || b[0]! < 1 || b[0]! > 3)
          fail('BAD_OVERLOAD', code, 'option 52 must be 1 octet of 1, 2 or 3');
        o.overload = b[0] as 1 | 2 | 3;
        break;
      case OptionCode.ClientIdentifier:
        // RFC 2132 §9.14: "The code for this option is 61, and its minimum length is 2."
        if (b.length < 2) fail('BAD_LENGTH', code, 'option 61 is shorter than 2');
        o.clientIdentifier = b;
        break;
      case OptionCode.UserClass:
        o.userClass = parseUserClass(b);
        break;
      case OptionCode.RelayAgentInformation:
        o.relayAgentInformation = parseSubOptions(code, b, false);
        break;
      case OptionCode.ClientSystemArchitecture:
        if (b.length % 2 !== 0) fail('BAD_LENGTH', code, 'option 93 length must be even');
        o.clientSystemArchitecture = Array.from({ length: b.length / 2 }, (_, k) => b.readUInt16BE(2 * k));
        break;
      case OptionCode.ClientNetworkInterfaceIdentifier:
        if (b.length !== 3) fail('BAD_LENGTH', code, 'option 94 must be 3 octets');
        o.clientNetworkInterfaceIdentifier = { type: b[0]!, major: b[1]!, minor: b[2]! };
        break;
      case OptionCode.ClientMachineIdentifier:
        o.clientMachineIdentifier =
          b[0] === 0 && b.length === 17
            ? { type: 0, uuid: guidToUuid(b.subarray(1)) }
            : { type: b[0]!, id: Buffer.from(b.subarray(1)) };
        break;
      case OptionCode.DomainSearch:
        o.domainSearch = parseDomainList(code, b);
        break;
      case OptionCode.Ipxe:
        o.ipxe = parseIpxe(b);
        break;
      default:
        raw.set(code, b);
    }
  }
  // RFC 2132 §8.4: option 43's meaning belongs to the vendor named in option 60.
  const vendor = raw.get(OptionCode.VendorSpecific);
  if (vendor !== undefined && o.vendorClassIdentifier?.startsWith('PXEClient')) {
    raw.delete(OptionCode.VendorSpecific);
    o.vendorSpecific = parsePxe(vendor);
  }
  if (raw.size > 0) o.raw = raw;
  return o;
}

/** Each present option's encoded value, keyed by code (not yet split into ≤ 255-octet pieces). */
export function encodeOptions(o: DhcpOptions): Map<number, Buffer> {
  const out = new Map<number, Buffer>();
  for (const [code, [key, shape]] of SIMPLE) {
    const v = o[key];
    if (v !== undefined) out.set(code, encodeSimple(code, shape, v));
  }
  if (o.vendorSpecific) out.set(43, pxeOut(o.vendorSpecific));
  if (o.clientIdentifier) out.set(61, o.clientIdentifier);
  if (o.userClass) out.set(77, userClassOut(o.userClass));
  if (o.relayAgentInformation) out.set(82, Buffer.concat(subOptionsOut(82, o.relayAgentInformation)));
  if (o.clientSystemArchitecture) {
    out.set(93, Buffer.concat(o.clientSystemArchitecture.map((a) => uintOut(93, a, 2))));
  }
  const ndi = o.clientNetworkInterfaceIdentifier;
  if (ndi) out.set(94, Buffer.concat([uintOut(94, ndi.type, 1), uintOut(94, ndi.major, 1), uintOut(94, ndi.minor, 1)]));
  const cmi = o.clientMachineIdentifier;
  if (cmi) {
    const id =
      'uuid' in cmi ? (uuidToGuid(cmi.uuid) ?? invalid(97, `not a UUID: ${JSON.stringify(cmi.uuid)}`)) : cmi.id;
    out.set(97, Buffer.concat([uintOut(97, cmi.type, 1), id]));
  }
  if (o.domainSearch) out.set(119, domainListOut(119, o.domainSearch));
  if (o.ipxe) out.set(175, ipxeOut(o.ipxe));
  for (const [code, b] of o.raw ?? []) {
    if (code === OptionCode.Pad || code === OptionCode.End || code === OptionCode.OptionOverload) {
      invalid(code, `option ${code} cannot be given as raw bytes`);
    }
    if (out.has(code)) invalid(code, `option ${code} given both typed and raw`);
    if (!Number.isInteger(code) || code < 1 || code > 254) invalid(code, `bad option code ${code}`);
    out.set(code, b);
  }
  return out;
}
