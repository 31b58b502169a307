/**
 * Encoding a DhcpPacket (RFC 2131 §2 layout, RFC 2132 options, RFC 3396 long options, RFC 2132 §9.3 overload):
 * every field and option checked, a typed error when the reply cannot be built or cannot fit the client's size.
 */
import { OptionCode } from './option-types.ts';
import { encodeOptions } from './options.ts';
import { BOOTP_MIN_SIZE, type DhcpPacket, FILE, HEADER_SIZE, MAGIC_COOKIE, OPTIONS_OFFSET, SNAME } from './packet.ts';
import { type DhcpEncodeError, EncodeFailure, encodeText, ipv4ToNumber } from './wire.ts';

export type EncodeResult = { ok: true; buffer: Buffer } | { ok: false; error: DhcpEncodeError };

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

/** A header string field's octets, without the padding; empty for '' (the field stays zeros). */
function stringField(name: string, s: string, size: number): Buffer {
  if (s === '') return EMPTY;
  const text = encodeText(undefined, s);
  // Room for the terminating NUL.
  if (text.length >= size)
    throw new EncodeFailure('BAD_VALUE', undefined, `${name} is ${text.length} octets, max ${size - 1}`);
  return text;
}

const EMPTY = Buffer.alloc(0);

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

function headerIp(name: string, s: string): number {
  const n = ipv4ToNumber(s);
  if (n === undefined)
    throw new EncodeFailure('BAD_VALUE', undefined, `${name} ${JSON.stringify(s)} is not an IPv4 address`);
  return n;
}

export function encodePacket(p: DhcpPacket, opts: EncodeOptions = {}): EncodeResult {
  try {
    return { ok: true, buffer: encodeOrThrow(p, opts) };
  } catch (e) {
    if (e instanceof EncodeFailure) return { ok: false, error: e.error };
    throw e;
  }
}

/**
 * The fixed header's fields, checked, and the function that writes them into a message. Checked first, in the order
 * the fields come, so a bad field is the error reported before any option's.
 */
function headerFields(p: DhcpPacket): (out: Buffer) => void {
  const op = headerInt('op', p.op, 255);
  const htype = headerInt('htype', p.htype, 255);
  const hlen = headerInt('hlen', p.hlen, 16);
  const hops = headerInt('hops', p.hops, 255);
  const xid = headerInt('xid', p.xid, 0xffffffff);
  const secs = headerInt('secs', p.secs, 0xffff);
  const flags = headerInt('flags', p.flags, 0xffff);
  const ciaddr = headerIp('ciaddr', p.ciaddr);
  const yiaddr = headerIp('yiaddr', p.yiaddr);
  const siaddr = headerIp('siaddr', p.siaddr);
  const giaddr = headerIp('giaddr', p.giaddr);
  if (p.chaddr.length > 16) throw new EncodeFailure('BAD_VALUE', undefined, 'chaddr is over 16 octets');
  return (out) => {
    out[0] = op;
    out[1] = htype;
    out[2] = hlen;
    out[3] = hops;
    out.writeUInt32BE(xid, 4);
    out.writeUInt16BE(secs, 8);
    out.writeUInt16BE(flags, 10);
    out.writeUInt32BE(ciaddr, 12);
    out.writeUInt32BE(yiaddr, 16);
    out.writeUInt32BE(siaddr, 20);
    out.writeUInt32BE(giaddr, 24);
    p.chaddr.copy(out, 28);
  };
}

/**
 * The message around `optionsLength` octets of options (written at OPTIONS_OFFSET by the caller): the header, the
 * magic cookie, sname and file, zeros elsewhere (the padding to BOOTP's 300, the unused fields).
 */
function message(writeHeader: (out: Buffer) => void, sname: Buffer, file: Buffer, optionsLength: number): Buffer {
  // From Node's pool (one allocation a slab, not one ArrayBuffer a reply), then cleared.
  const out = Buffer.allocUnsafe(Math.max(OPTIONS_OFFSET + optionsLength, BOOTP_MIN_SIZE)).fill(0);
  writeHeader(out);
  out.writeUInt32BE(MAGIC_COOKIE, HEADER_SIZE);
  sname.copy(out, SNAME.offset);
  file.copy(out, FILE.offset);
  return out;
}

function encodeOrThrow(p: DhcpPacket, opts: EncodeOptions): Buffer {
  const limit = maxDhcpPayload(opts.maxMessageSize);
  const writeHeader = headerFields(p);

  const values = encodeOptions(p.options);
  values.delete(OptionCode.OptionOverload);
  const order = [...new Set([...(p.optionOrder ?? []).filter((c) => values.has(c))])];
  const rest = [...values.keys()].filter((c) => !order.includes(c)).sort((a, b) => defaultRank(a) - defaultRank(b));
  const codes = [...order, ...rest];

  const optionsCapacity = limit - OPTIONS_OFFSET;
  const needed = codes.reduce((n, c) => n + instanceSize(values.get(c)!.length), 1);
  let sname = stringField('sname', p.sname, SNAME.size);
  let file = stringField('file', p.file, FILE.size);

  if (needed <= optionsCapacity) {
    // Everything fits the options field: written straight into the message (the common case, every OFFER and ACK),
    // values over 255 octets as consecutive instances (RFC 3396).
    const out = message(writeHeader, sname, file, needed);
    let o = OPTIONS_OFFSET;
    for (const c of codes) {
      const v = values.get(c)!;
      let off = 0;
      do {
        const n = Math.min(255, v.length - off);
        out[o++] = c;
        out[o++] = n;
        v.copy(out, o, off, off + n);
        o += n;
        off += n;
      } while (off < v.length);
    }
    out[o] = OptionCode.End;
    return checkedSize(out, limit);
  }

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
  const optionsArea = Buffer.concat([...head, ov, ...tail, Buffer.from([OptionCode.End])]);

  const out = message(writeHeader, sname, file, optionsArea.length);
  optionsArea.copy(out, OPTIONS_OFFSET);
  return checkedSize(out, limit);
}

function checkedSize(out: Buffer, limit: number): Buffer {
  if (out.length > limit)
    throw new EncodeFailure('TOO_LARGE', undefined, `message is ${out.length} octets, limit ${limit}`);
  return out;
}
