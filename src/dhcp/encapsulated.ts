/**
 * Options whose value has an inner structure, each a small codec of its own: encapsulated sub-options (the RFC 2132
 * §8.4 layout of 43, 82 and 175), RFC 1035 §3.1 domain lists (option 119, RFC 3397 §2), PXE 2.1 vendor options (43),
 * iPXE's options (175) and the user class (77, RFC 3004). Apart from the option table in options.ts, which only
 * says which codec each option code uses.
 */
import {
  type EncapsulatedOption,
  type IpxeOptions,
  OptionCode,
  type PxeVendorOptions,
  type UserClass,
} from './option-types.ts';
import { decodeText, encodeText, fail, invalid, ipv4Out, ipv4ToString, uintOut } from './wire.ts';

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

// ---------------------------------------------------------------------------------------------------------------
// Sub-options and domain lists

/** Encapsulated TLVs (RFC 2132 §8.4 layout). `padEnd`: 0 is a pad byte and 255 ends the list. */
export function parseSubOptions(code: number, b: Buffer, padEnd: boolean): EncapsulatedOption[] {
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

export function subOptionsOut(code: number, subs: EncapsulatedOption[]): Buffer[] {
  return subs.map((s) => {
    if (s.data.length > 255) invalid(code, `sub-option ${s.code} of option ${code} is over 255 bytes`);
    return Buffer.concat([uintOut(code, s.code, 1), Buffer.from([s.data.length]), s.data]);
  });
}

/** RFC 1035 §3.1 names, with §4.1.4 compression pointers into the option's own data (RFC 3397 §2). */
export function parseDomainList(code: number, b: Buffer): string[] {
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

export function domainListOut(code: number, names: string[]): Buffer {
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

export function parsePxe(b: Buffer): PxeVendorOptions {
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

export function pxeOut(v: PxeVendorOptions): Buffer {
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

export function parseIpxe(b: Buffer): IpxeOptions {
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

export function ipxeOut(v: IpxeOptions): Buffer {
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
export function parseUserClass(b: Buffer): UserClass {
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

export function userClassOut(v: UserClass): Buffer {
  if (v.format === 'string') return encodeText(OptionCode.UserClass, v.value);
  return Buffer.concat(
    v.instances.map((s) => {
      const b = encodeText(OptionCode.UserClass, s);
      if (b.length < 1 || b.length > 255) invalid(OptionCode.UserClass, 'user class instance of bad length');
      return Buffer.concat([Buffer.from([b.length]), b]);
    }),
  );
}
