/**
 * BOOTP/DHCPv4 message codec (RFC 951, RFC 2131 §2, RFC 2132, RFC 3396 long options). Pure: bytes ↔ DhcpPacket.
 * decodePacket never throws; encodePacket returns a typed error when the reply cannot be built or cannot fit.
 */
import { type DhcpOptions, OptionCode } from './option-types.ts';
import { decodeOptions, encodeOptions } from './options.ts';
import {
  DecodeFailure,
  type DhcpDecodeError,
  type DhcpEncodeError,
  decodeText,
  EncodeFailure,
  encodeText,
  ipv4ToBytes,
  ipv4ToString,
} from './wire.ts';

export type { DhcpDecodeError, DhcpDecodeErrorCode, DhcpEncodeError, DhcpEncodeErrorCode } from './wire.ts';

export const BOOTREQUEST = 1;
export const BOOTREPLY = 2;
/** RFC 2131 §2: the leftmost bit of `flags`, "BROADCAST (B) flag". */
export const BROADCAST_FLAG = 0x8000;
/** RFC 2131 §3: "the first four octets of the 'options' field ... 99, 130, 83, 99". */
export const MAGIC_COOKIE = 0x63825363;
/** RFC 951's 64-octet vend field: a BOOTP message is at least 236 + 64 octets; relays and old clients drop less. */
export const BOOTP_MIN_SIZE = 300;

const HEADER_SIZE = 236;
const OPTIONS_OFFSET = 240;
const SNAME = { offset: 44, size: 64 } as const;
const FILE = { offset: 108, size: 128 } as const;

export interface DhcpPacket {
  /** 1 BOOTREQUEST, 2 BOOTREPLY. */
  op: number;
  htype: number;
  hlen: number;
  hops: number;
  xid: number;
  secs: number;
  /** Bit 15 is BROADCAST_FLAG; RFC 2131 says the other bits MUST be zero, we keep what came. */
  flags: number;
  ciaddr: string;
  yiaddr: string;
  siaddr: string;
  giaddr: string;
  /** All 16 octets of the chaddr field. The encoder writes these; `mac` is for reading. */
  chaddr: Buffer;
  /** Lower-case `aa:bb:cc:dd:ee:ff`, only when htype is 1 (Ethernet) and hlen 6. Ignored by the encoder. */
  mac?: string;
  /** Up to the first NUL; empty when the field carried options (overload). */
  sname: string;
  file: string;
  options: DhcpOptions;
  /**
   * Option codes in the order the packet carried them (decoder); the encoder writes these first, in this order,
   * then the rest in its default order. Lets a decoded packet re-encode to the same bytes.
   */
  optionOrder?: number[];
}

export type DecodeResult = { ok: true; packet: DhcpPacket } | { ok: false; error: DhcpDecodeError };
export type EncodeResult = { ok: true; buffer: Buffer } | { ok: false; error: DhcpEncodeError };

export function isBroadcast(p: DhcpPacket): boolean {
  return (p.flags & BROADCAST_FLAG) !== 0;
}

/** `aa:bb:cc:dd:ee:ff` (or `-`/bare hex) → a 16-octet chaddr field; undefined if not a MAC. */
export function macToChaddr(mac: string): Buffer | undefined {
  const hex = mac.replace(/[:-]/g, '');
  if (!/^[0-9a-f]{12}$/i.test(hex)) return undefined;
  const b = Buffer.alloc(16);
  Buffer.from(hex, 'hex').copy(b);
  return b;
}

function failDecode(code: DhcpDecodeError['code'], message: string): DecodeResult {
  return { ok: false, error: { code, message } };
}

/** A NUL-terminated string field (RFC 2131 §2: sname and file are "null terminated string"). */
function cString(b: Buffer): string {
  const nul = b.indexOf(0);
  return decodeText(nul < 0 ? b : b.subarray(0, nul));
}

/** Collects the option instances of one field, up to End (or the field's end: End is not always sent). */
function scanOptions(area: Buffer, where: string, into: Map<number, Buffer[]>): void {
  let i = 0;
  while (i < area.length) {
    const code = area[i]!;
    if (code === OptionCode.Pad) {
      i++;
      continue;
    }
    if (code === OptionCode.End) return;
    if (i + 1 >= area.length) {
      throw new DecodeFailure('OPTION_OVERRUN', code, `option ${code} in ${where} has no length`);
    }
    const len = area[i + 1]!;
    if (i + 2 + len > area.length) {
      throw new DecodeFailure('OPTION_OVERRUN', code, `option ${code} in ${where} runs past the end of the field`);
    }
    const pieces = into.get(code);
    const data = area.subarray(i + 2, i + 2 + len);
    if (pieces) pieces.push(data);
    else into.set(code, [data]);
    i += 2 + len;
  }
}

/**
 * Option 53 (message type) read straight from the options field, without decoding the packet: the receive loop
 * sorts datagrams into its queues with this before any real work. Undefined when absent or unreadable (the full
 * decode decides later; option 52 overload is not followed here).
 */
export function peekMessageType(buf: Buffer): number | undefined {
  if (buf.length < OPTIONS_OFFSET || buf.readUInt32BE(HEADER_SIZE) !== MAGIC_COOKIE) return undefined;
  for (let i = OPTIONS_OFFSET; i + 1 < buf.length; ) {
    const code = buf[i] as number;
    if (code === OptionCode.Pad) {
      i++;
      continue;
    }
    if (code === OptionCode.End) return undefined;
    const len = buf[i + 1] as number;
    if (code === OptionCode.MessageType) return len === 1 && i + 2 < buf.length ? buf[i + 2] : undefined;
    i += 2 + len;
  }
  return undefined;
}

export function decodePacket(buf: Buffer): DecodeResult {
  if (buf.length < HEADER_SIZE) return failDecode('TRUNCATED_HEADER', `${buf.length} octets, a BOOTP header is 236`);
  const op = buf[0]!;
  if (op !== BOOTREQUEST && op !== BOOTREPLY) return failDecode('BAD_OP', `op ${op} is neither 1 nor 2`);
  const hlen = buf[2]!;
  if (hlen > 16) return failDecode('BAD_HLEN', `hlen ${hlen} is over the 16-octet chaddr field`);
  if (buf.length < OPTIONS_OFFSET || buf.readUInt32BE(HEADER_SIZE) !== MAGIC_COOKIE) {
    return failDecode('BAD_COOKIE', 'no DHCP magic cookie 99.130.83.99 after the BOOTP header');
  }
  const htype = buf[1]!;
  const chaddr = Buffer.from(buf.subarray(28, 44));
  const snameField = buf.subarray(SNAME.offset, SNAME.offset + SNAME.size);
  const fileField = buf.subarray(FILE.offset, FILE.offset + FILE.size);

  const pieces = new Map<number, Buffer[]>();
  let options: DhcpOptions;
  let overload: number | undefined;
  try {
    scanOptions(buf.subarray(OPTIONS_OFFSET), 'options', pieces);
    const ov = pieces.get(OptionCode.OptionOverload);
    if (ov) {
      // RFC 2131 §4.1: "The options in the 'options' field MUST be interpreted first, so that any 'option overload'
      // options may be interpreted. The 'file' field MUST be interpreted next ..., followed by the 'sname' field."
      const v = Buffer.concat(ov);
      if (v.length !== 1 || v[0]! < 1 || v[0]! > 3) {
        throw new DecodeFailure('BAD_OVERLOAD', OptionCode.OptionOverload, 'option 52 must be 1 octet of 1, 2 or 3');
      }
      overload = v[0]!;
      if (overload & 1) scanOptions(fileField, 'file', pieces);
      if (overload & 2) scanOptions(snameField, 'sname', pieces);
      if (pieces.get(OptionCode.OptionOverload)!.length !== 1) {
        throw new DecodeFailure('BAD_OVERLOAD', OptionCode.OptionOverload, 'option 52 inside an overloaded field');
      }
    }
    // RFC 3396 §7: "the values of all instances of that option ... are concatenated together", in field order.
    const values = new Map<number, Buffer>();
    for (const [code, parts] of pieces) values.set(code, Buffer.concat(parts));
    options = decodeOptions(values);
  } catch (e) {
    if (e instanceof DecodeFailure) {
      const error: DhcpDecodeError = { code: e.code, message: e.message };
      if (e.option !== undefined) error.option = e.option;
      return { ok: false, error };
    }
    throw e;
  }

  const packet: DhcpPacket = {
    op,
    htype,
    hlen,
    hops: buf[3]!,
    xid: buf.readUInt32BE(4),
    secs: buf.readUInt16BE(8),
    flags: buf.readUInt16BE(10),
    ciaddr: ipv4ToString(buf, 12),
    yiaddr: ipv4ToString(buf, 16),
    siaddr: ipv4ToString(buf, 20),
    giaddr: ipv4ToString(buf, 24),
    chaddr,
    sname: overload !== undefined && overload & 2 ? '' : cString(snameField),
    file: overload !== undefined && overload & 1 ? '' : cString(fileField),
    options,
    optionOrder: [...pieces.keys()],
  };
  if (htype === 1 && hlen === 6)
    packet.mac = [...chaddr.subarray(0, 6)].map((x) => x.toString(16).padStart(2, '0')).join(':');
  return { ok: true, packet };
}

// ---------------------------------------------------------------------------------------------------------------
// Encoding

export interface EncodeOptions {
  /** The client's option 57 from its request; absent means 576 (RFC 2131 §2, RFC 2132 §9.10). */
  maxMessageSize?: number;
}

/**
 * The largest DHCP message (UDP payload) we send a client. Option 57 is read as a whole IP datagram, as dnsmasq
 * does (the RFC text is ambiguous and iPXE itself sends 1500 - 28 = 1472), so 28 octets of IP + UDP header come
 * off; RFC 2132 §9.10: "The minimum legal value is 576 octets"; capped at the Ethernet MTU so no reply fragments
 * (OVMF asks for 65280).
 */
export function maxDhcpPayload(maxMessageSize?: number): number {
  const size = Math.min(Math.max(maxMessageSize ?? 576, 576), 1500);
  return size - 28;
}

/** 53 first (RFC 2131 §3 clients look for it), 54 next, then by code; 82 last (RFC 3046 §2.2). */
function defaultRank(code: number): number {
  if (code === OptionCode.MessageType) return -2;
  if (code === OptionCode.ServerIdentifier) return -1;
  if (code === OptionCode.RelayAgentInformation) return 256;
  return code;
}

interface Area {
  capacity: number;
  parts: Buffer[];
  used: number;
}

function put(area: Area, code: number, data: Buffer): void {
  area.parts.push(Buffer.from([code, data.length]), data);
  area.used += 2 + data.length;
}

function instanceSize(len: number): number {
  return len === 0 ? 2 : len + 2 * Math.ceil(len / 255);
}

/**
 * One option into the first field with room for it whole. If none has, RFC 3396 §5 lets any option be split into
 * several instances, concatenated in field order (options, file, sname) by the client: fill the fields in that order.
 * Values over 255 octets are always split. Returns false when the option cannot fit.
 */
function place(areas: Area[], code: number, data: Buffer): boolean {
  const free = (a: Area): number => a.capacity - a.used;
  if (data.length <= 255) {
    const whole = areas.find((a) => free(a) >= 2 + data.length);
    if (whole) {
      put(whole, code, data);
      return true;
    }
  }
  let off = 0;
  for (const area of areas) {
    while (off < data.length && free(area) >= 3) {
      const n = Math.min(255, free(area) - 2, data.length - off);
      put(area, code, data.subarray(off, off + n));
      off += n;
    }
  }
  return off >= data.length;
}

function stringField(name: string, s: string, size: number): Buffer {
  const b = Buffer.alloc(size);
  const text = encodeText(undefined, s);
  // Room for the terminating NUL.
  if (text.length >= size)
    throw new EncodeFailure('BAD_VALUE', undefined, `${name} is ${text.length} octets, max ${size - 1}`);
  text.copy(b);
  return b;
}

function areaField(area: Area, size: number): Buffer {
  const b = Buffer.alloc(size);
  Buffer.concat([...area.parts, Buffer.from([OptionCode.End])]).copy(b);
  return b;
}

function headerInt(name: string, v: number, max: number): number {
  if (!Number.isInteger(v) || v < 0 || v > max)
    throw new EncodeFailure('BAD_VALUE', undefined, `${name} ${v} is out of range`);
  return v;
}

function headerIp(name: string, s: string): Buffer {
  const b = ipv4ToBytes(s);
  if (!b) throw new EncodeFailure('BAD_VALUE', undefined, `${name} ${JSON.stringify(s)} is not an IPv4 address`);
  return b;
}

export function encodePacket(p: DhcpPacket, opts: EncodeOptions = {}): EncodeResult {
  try {
    return { ok: true, buffer: encodeOrThrow(p, opts) };
  } catch (e) {
    if (e instanceof EncodeFailure) {
      const error: DhcpEncodeError = { code: e.code, message: e.message };
      if (e.option !== undefined) error.option = e.option;
      return { ok: false, error };
    }
    throw e;
  }
}

function encodeOrThrow(p: DhcpPacket, opts: EncodeOptions): Buffer {
  const limit = maxDhcpPayload(opts.maxMessageSize);
  const header = Buffer.alloc(HEADER_SIZE);
  header[0] = headerInt('op', p.op, 255);
  header[1] = headerInt('htype', p.htype, 255);
  header[2] = headerInt('hlen', p.hlen, 16);
  header[3] = headerInt('hops', p.hops, 255);
  header.writeUInt32BE(headerInt('xid', p.xid, 0xffffffff), 4);
  header.writeUInt16BE(headerInt('secs', p.secs, 0xffff), 8);
  header.writeUInt16BE(headerInt('flags', p.flags, 0xffff), 10);
  headerIp('ciaddr', p.ciaddr).copy(header, 12);
  headerIp('yiaddr', p.yiaddr).copy(header, 16);
  headerIp('siaddr', p.siaddr).copy(header, 20);
  headerIp('giaddr', p.giaddr).copy(header, 24);
  if (p.chaddr.length > 16) throw new EncodeFailure('BAD_VALUE', undefined, 'chaddr is over 16 octets');
  p.chaddr.copy(header, 28);

  const values = encodeOptions(p.options);
  values.delete(OptionCode.OptionOverload);
  const order = [...new Set([...(p.optionOrder ?? []).filter((c) => values.has(c))])];
  const rest = [...values.keys()].filter((c) => !order.includes(c)).sort((a, b) => defaultRank(a) - defaultRank(b));
  const codes = [...order, ...rest];

  const optionsCapacity = limit - OPTIONS_OFFSET;
  const needed = codes.reduce((n, c) => n + instanceSize(values.get(c)!.length), 1);
  let sname = stringField('sname', p.sname, SNAME.size);
  let file = stringField('file', p.file, FILE.size);
  let optionsArea: Buffer;

  if (needed <= optionsCapacity) {
    // Everything fits the options field: written straight into one buffer (the common case, every OFFER and ACK),
    // values over 255 octets as consecutive instances (RFC 3396).
    optionsArea = Buffer.allocUnsafe(needed);
    let o = 0;
    for (const c of codes) {
      const v = values.get(c)!;
      let off = 0;
      do {
        const n = Math.min(255, v.length - off);
        optionsArea[o++] = c;
        optionsArea[o++] = n;
        v.copy(optionsArea, o, off, off + n);
        o += n;
        off += n;
      } while (off < v.length);
    }
    optionsArea[o] = OptionCode.End;
  } else {
    // RFC 2132 §9.3: overload the file field, then sname, when they are free. Each field keeps one octet for End,
    // and the options field three more for option 52 itself.
    const main: Area = { capacity: optionsCapacity - 3 - 1, parts: [], used: 0 };
    const fileArea: Area | undefined = p.file === '' ? { capacity: FILE.size - 1, parts: [], used: 0 } : undefined;
    const snameArea: Area | undefined = p.sname === '' ? { capacity: SNAME.size - 1, parts: [], used: 0 } : undefined;
    const areas = [main, fileArea, snameArea].filter((a): a is Area => a !== undefined);
    for (const c of codes) {
      if (!place(areas, c, values.get(c)!)) {
        throw new EncodeFailure(
          'TOO_LARGE',
          c,
          `options need ${needed} octets; the client takes ${limit} octets of DHCP message, even with the file and sname fields overloaded`,
        );
      }
    }
    const overload = (fileArea && fileArea.used > 0 ? 1 : 0) | (snameArea && snameArea.used > 0 ? 2 : 0);
    if (fileArea && overload & 1) file = areaField(fileArea, FILE.size);
    if (snameArea && overload & 2) sname = areaField(snameArea, SNAME.size);
    const ov = Buffer.from([OptionCode.OptionOverload, 1, overload]);
    // Option 52 right after 53 when 53 leads, so the message type still comes first.
    const leadsWith53 = main.parts[0]?.[0] === OptionCode.MessageType;
    const head = leadsWith53 ? main.parts.slice(0, 2) : [];
    const tail = leadsWith53 ? main.parts.slice(2) : main.parts;
    optionsArea = Buffer.concat([...head, ov, ...tail, Buffer.from([OptionCode.End])]);
  }

  // One allocation, zero-filled: the padding up to the BOOTP minimum is zeros.
  const out = Buffer.alloc(Math.max(OPTIONS_OFFSET + optionsArea.length, BOOTP_MIN_SIZE));
  header.copy(out, 0);
  out.writeUInt32BE(MAGIC_COOKIE, HEADER_SIZE);
  optionsArea.copy(out, OPTIONS_OFFSET);
  sname.copy(out, SNAME.offset);
  file.copy(out, FILE.offset);
  if (out.length > limit)
    throw new EncodeFailure('TOO_LARGE', undefined, `message is ${out.length} octets, limit ${limit}`);
  return out;
}
