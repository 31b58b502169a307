/**
 * DHCPv6 client/server messages (RFC 8415 §8) and the options a netboot server reads or writes: pure codec, no
 * sockets. RFC 8415 §8: "All DHCP messages sent between clients and servers share an identical fixed-format header
 * and a variable-format area for options": msg-type (1 octet), transaction-id (3 octets), options. Every option is
 * option-code (2), option-len (2), data (§21.1). Relay messages (§9) are not decoded: bootherd serves its own links.
 * Malformed input is a Dhcp6DecodeError, never a throw.
 */
import { bytesToIpv6, ipv6ToBytes } from '../net/ipv6.ts';

/** RFC 8415 §7.3 message types. */
export const Msg = {
  Solicit: 1,
  Advertise: 2,
  Request: 3,
  Confirm: 4,
  Renew: 5,
  Rebind: 6,
  Reply: 7,
  Release: 8,
  Decline: 9,
  Reconfigure: 10,
  InformationRequest: 11,
  RelayForw: 12,
  RelayRepl: 13,
} as const;

/** RFC 8415 §21 and RFC 5970 §3 option codes. */
export const Opt = {
  ClientId: 1,
  ServerId: 2,
  IaNa: 3,
  IaAddr: 5,
  Oro: 6,
  Preference: 7,
  ElapsedTime: 8,
  StatusCode: 13,
  RapidCommit: 14,
  UserClass: 15,
  VendorClass: 16,
  DnsServers: 23,
  BootfileUrl: 59,
  BootfileParam: 60,
  ClientArchType: 61,
  Nii: 62,
} as const;

/** RFC 8415 §21.13 status codes. */
export const Status = { Success: 0, UnspecFail: 1, NoAddrsAvail: 2, NoBinding: 3, NotOnLink: 4, UseMulticast: 5 };

export interface IaAddr {
  address: string;
  preferred: number;
  valid: number;
  status?: StatusCode;
}

/** RFC 8415 §21.4 IA_NA: IAID, T1, T2 and its IA Address (and Status Code) options. */
export interface IaNa {
  iaid: number;
  t1: number;
  t2: number;
  addresses: IaAddr[];
  status?: StatusCode;
}

export interface StatusCode {
  code: number;
  message: string;
}

export interface VendorClass {
  enterprise: number;
  data: string[];
}

/** RFC 5970 §3.4 Network Interface Identifier: type 1 is UNDI, then the UNDI major and minor revision. */
export interface Nii {
  type: number;
  major: number;
  minor: number;
}

export interface Dhcp6Options {
  clientId?: Buffer;
  serverId?: Buffer;
  iaNa: IaNa[];
  oro?: number[];
  preference?: number;
  /** Hundredths of a second (§21.9). */
  elapsed?: number;
  status?: StatusCode;
  rapidCommit?: boolean;
  userClass?: string[];
  vendorClass?: VendorClass[];
  dnsServers?: string[];
  bootfileUrl?: string;
  bootfileParams?: string[];
  clientArch?: number[];
  nii?: Nii;
}

export interface Dhcp6Message {
  type: number;
  /** 24 bits. */
  xid: number;
  options: Dhcp6Options;
}

export type Dhcp6DecodeErrorCode = 'TOO_SHORT' | 'RELAY' | 'OPTION_TRUNCATED' | 'OPTION_LENGTH' | 'DUPLICATE_OPTION';

export interface Dhcp6DecodeError {
  code: Dhcp6DecodeErrorCode;
  message: string;
}

export type Dhcp6DecodeResult = { ok: true; message: Dhcp6Message } | { ok: false; error: Dhcp6DecodeError };

class Fail extends Error {
  constructor(
    readonly code: Dhcp6DecodeErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/** §21.1 option TLVs of one area (the message, or the inside of an IA_NA / IAADDR). */
function* tlvs(buf: Buffer): Generator<[number, Buffer]> {
  let at = 0;
  while (at < buf.length) {
    if (at + 4 > buf.length) throw new Fail('OPTION_TRUNCATED', `option header at byte ${at} is cut off`);
    const code = buf.readUInt16BE(at);
    const len = buf.readUInt16BE(at + 2);
    if (at + 4 + len > buf.length) throw new Fail('OPTION_TRUNCATED', `option ${code} runs past the end`);
    yield [code, buf.subarray(at + 4, at + 4 + len)];
    at += 4 + len;
  }
}

function need(code: number, data: Buffer, ok: boolean): void {
  if (!ok) throw new Fail('OPTION_LENGTH', `option ${code} has a bad length ${data.length}`);
}

/** §21.13: a 2-octet status code, then a UTF-8 message. */
function statusOf(data: Buffer): StatusCode {
  need(Opt.StatusCode, data, data.length >= 2);
  return { code: data.readUInt16BE(0), message: data.subarray(2).toString('utf8') };
}

/** RFC 8415 §21.15/§21.16 and RFC 5970 §3.2: lists of opaque data, each prefixed by a 2-octet length. */
function lengthPrefixed(code: number, data: Buffer): string[] {
  const out: string[] = [];
  for (let at = 0; at < data.length; ) {
    need(code, data, at + 2 <= data.length);
    const len = data.readUInt16BE(at);
    need(code, data, at + 2 + len <= data.length);
    out.push(data.subarray(at + 2, at + 2 + len).toString('latin1'));
    at += 2 + len;
  }
  return out;
}

function u16List(code: number, data: Buffer): number[] {
  need(code, data, data.length % 2 === 0);
  const out: number[] = [];
  for (let at = 0; at < data.length; at += 2) out.push(data.readUInt16BE(at));
  return out;
}

function iaAddr(data: Buffer): IaAddr {
  // §21.6: IPv6-address (16), preferred-lifetime (4), valid-lifetime (4), IAaddr-options.
  need(Opt.IaAddr, data, data.length >= 24);
  const a: IaAddr = {
    address: bytesToIpv6(data.subarray(0, 16)),
    preferred: data.readUInt32BE(16),
    valid: data.readUInt32BE(20),
  };
  for (const [code, d] of tlvs(data.subarray(24))) if (code === Opt.StatusCode) a.status = statusOf(d);
  return a;
}

function iaNa(data: Buffer): IaNa {
  // §21.4: IAID (4), T1 (4), T2 (4), IA_NA-options.
  need(Opt.IaNa, data, data.length >= 12);
  const ia: IaNa = { iaid: data.readUInt32BE(0), t1: data.readUInt32BE(4), t2: data.readUInt32BE(8), addresses: [] };
  for (const [code, d] of tlvs(data.subarray(12))) {
    if (code === Opt.IaAddr) ia.addresses.push(iaAddr(d));
    else if (code === Opt.StatusCode) ia.status = statusOf(d);
  }
  return ia;
}

/** The options bootherd reads; others are skipped (options a server does not use are ignored). */
function readOption(o: Dhcp6Options, code: number, data: Buffer): void {
  switch (code) {
    case Opt.ClientId:
    case Opt.ServerId:
      // §11.1: "A DUID can be no more than 128 octets long (not including the type code)".
      need(code, data, data.length >= 2 && data.length <= 130);
      o[code === Opt.ClientId ? 'clientId' : 'serverId'] = Buffer.from(data);
      return;
    case Opt.IaNa:
      o.iaNa.push(iaNa(data));
      return;
    case Opt.Oro:
      o.oro = u16List(code, data);
      return;
    case Opt.Preference:
      need(code, data, data.length === 1);
      o.preference = data[0];
      return;
    case Opt.ElapsedTime:
      need(code, data, data.length === 2);
      o.elapsed = data.readUInt16BE(0);
      return;
    case Opt.StatusCode:
      o.status = statusOf(data);
      return;
    case Opt.RapidCommit:
      need(code, data, data.length === 0);
      o.rapidCommit = true;
      return;
    case Opt.UserClass:
      o.userClass = lengthPrefixed(code, data);
      return;
    case Opt.VendorClass: {
      // §21.16: enterprise-number (4), then vendor-class-data as length-prefixed items.
      need(code, data, data.length >= 4);
      o.vendorClass = [
        ...(o.vendorClass ?? []),
        { enterprise: data.readUInt32BE(0), data: lengthPrefixed(code, data.subarray(4)) },
      ];
      return;
    }
    case Opt.DnsServers:
      need(code, data, data.length % 16 === 0);
      o.dnsServers = [];
      for (let at = 0; at < data.length; at += 16) o.dnsServers.push(bytesToIpv6(data.subarray(at, at + 16)));
      return;
    case Opt.BootfileUrl:
      o.bootfileUrl = data.toString('utf8');
      return;
    case Opt.BootfileParam:
      o.bootfileParams = lengthPrefixed(code, data);
      return;
    case Opt.ClientArchType:
      // RFC 5970 §3.3: "A list of one or more architecture types", in decreasing order of preference.
      o.clientArch = u16List(code, data);
      need(code, data, o.clientArch.length > 0);
      return;
    case Opt.Nii:
      need(code, data, data.length === 3);
      o.nii = { type: data[0] as number, major: data[1] as number, minor: data[2] as number };
      return;
  }
}

/** Options that appear at most once in a message: two are taken as a malformed message. */
const SINGLE = new Set<number>([Opt.ClientId, Opt.ServerId, Opt.Oro, Opt.ElapsedTime, Opt.RapidCommit]);

export function decodeMessage(buf: Buffer): Dhcp6DecodeResult {
  try {
    if (buf.length < 4) throw new Fail('TOO_SHORT', `${buf.length} bytes is shorter than the 4-byte header`);
    const type = buf[0] as number;
    if (type === Msg.RelayForw || type === Msg.RelayRepl) throw new Fail('RELAY', 'relay messages are not served');
    const options: Dhcp6Options = { iaNa: [] };
    const seen = new Set<number>();
    for (const [code, data] of tlvs(buf.subarray(4))) {
      if (SINGLE.has(code) && seen.has(code)) throw new Fail('DUPLICATE_OPTION', `option ${code} appears twice`);
      seen.add(code);
      readOption(options, code, data);
    }
    return { ok: true, message: { type, xid: buf.readUIntBE(1, 3), options } };
  } catch (err) {
    if (err instanceof Fail) return { ok: false, error: { code: err.code, message: err.message } };
    throw err;
  }
}

function tlv(code: number, data: Buffer): Buffer {
  const head = Buffer.alloc(4);
  head.writeUInt16BE(code, 0);
  head.writeUInt16BE(data.length, 2);
  return Buffer.concat([head, data]);
}

function u32s(...values: number[]): Buffer {
  const b = Buffer.alloc(values.length * 4);
  for (const [i, v] of values.entries()) b.writeUInt32BE(v >>> 0, i * 4);
  return b;
}

function u16s(values: number[]): Buffer {
  const b = Buffer.alloc(values.length * 2);
  for (const [i, v] of values.entries()) b.writeUInt16BE(v, i * 2);
  return b;
}

function prefixed(items: string[], encoding: BufferEncoding): Buffer {
  return Buffer.concat(
    items.map((s) => Buffer.concat([u16s([Buffer.byteLength(s, encoding)]), Buffer.from(s, encoding)])),
  );
}

function statusTlv(s: StatusCode): Buffer {
  return tlv(Opt.StatusCode, Buffer.concat([u16s([s.code]), Buffer.from(s.message, 'utf8')]));
}

function iaNaTlv(ia: IaNa): Buffer {
  const inner = ia.addresses.map((a) =>
    tlv(
      Opt.IaAddr,
      Buffer.concat([
        ipv6ToBytes(a.address),
        u32s(a.preferred, a.valid),
        a.status ? statusTlv(a.status) : Buffer.alloc(0),
      ]),
    ),
  );
  if (ia.status) inner.push(statusTlv(ia.status));
  return tlv(Opt.IaNa, Buffer.concat([u32s(ia.iaid, ia.t1, ia.t2), ...inner]));
}

/** The message on the wire; options in code order (server id and client id first, as servers commonly send). */
export function encodeMessage(m: Dhcp6Message): Buffer {
  const o = m.options;
  const parts: Buffer[] = [Buffer.from([m.type, (m.xid >>> 16) & 0xff, (m.xid >>> 8) & 0xff, m.xid & 0xff])];
  if (o.clientId) parts.push(tlv(Opt.ClientId, o.clientId));
  if (o.serverId) parts.push(tlv(Opt.ServerId, o.serverId));
  for (const ia of o.iaNa) parts.push(iaNaTlv(ia));
  if (o.oro) parts.push(tlv(Opt.Oro, u16s(o.oro)));
  if (o.preference !== undefined) parts.push(tlv(Opt.Preference, Buffer.from([o.preference])));
  if (o.elapsed !== undefined) parts.push(tlv(Opt.ElapsedTime, u16s([o.elapsed])));
  if (o.status) parts.push(statusTlv(o.status));
  if (o.rapidCommit) parts.push(tlv(Opt.RapidCommit, Buffer.alloc(0)));
  if (o.userClass) parts.push(tlv(Opt.UserClass, prefixed(o.userClass, 'latin1')));
  for (const v of o.vendorClass ?? [])
    parts.push(tlv(Opt.VendorClass, Buffer.concat([u32s(v.enterprise), prefixed(v.data, 'latin1')])));
  if (o.dnsServers) parts.push(tlv(Opt.DnsServers, Buffer.concat(o.dnsServers.map(ipv6ToBytes))));
  if (o.bootfileUrl !== undefined) parts.push(tlv(Opt.BootfileUrl, Buffer.from(o.bootfileUrl, 'utf8')));
  if (o.bootfileParams) parts.push(tlv(Opt.BootfileParam, prefixed(o.bootfileParams, 'utf8')));
  if (o.clientArch) parts.push(tlv(Opt.ClientArchType, u16s(o.clientArch)));
  if (o.nii) parts.push(tlv(Opt.Nii, Buffer.from([o.nii.type, o.nii.major, o.nii.minor])));
  return Buffer.concat(parts);
}
