/**
 * DHCPv4 option values (RFC 2132 and the PXE/iPXE extensions netboot needs): one option's bytes ↔ a typed value.
 * The option table and the whole-set decode/encode; the declarations are in option-types.ts, the primitives in
 * wire.ts, the structured values in encapsulated.ts. Framing (code/length, RFC 3396 long options, overload) lives
 * in packet.ts.
 */
import {
  domainListOut,
  ipxeOut,
  parseDomainList,
  parseIpxe,
  parsePxe,
  parseSubOptions,
  parseUserClass,
  pxeOut,
  subOptionsOut,
  userClassOut,
} from './encapsulated.ts';
import { type DhcpOptions, OptionCode } from './option-types.ts';
import {
  decodeText,
  encodeText,
  fail,
  guidToUuid,
  invalid,
  ipv4Out,
  ipv4ToString,
  uintOut,
  uuidToGuid,
} from './wire.ts';

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
 * Throws DecodeFailure (wire.ts) on a value that breaks its RFC's length rule.
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
