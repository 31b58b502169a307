/**
 * BOOTP/DHCPv4 message codec (RFC 951, RFC 2131 §2, RFC 2132, RFC 3396 long options). Pure: bytes ↔ DhcpPacket.
 * This file: the message, its layout and decodePacket, which never throws; encode.ts: encodePacket, which returns a
 * typed error when the reply cannot be built or cannot fit.
 */

import { macFromBytes } from '../model/identity.ts';
import { type DhcpOptions, OptionCode } from './option-types.ts';
import { decodeOptions } from './options.ts';
import { DecodeFailure, type DhcpDecodeError, decodeText, ipv4ToString } from './wire.ts';

export type { DhcpDecodeError, DhcpDecodeErrorCode, DhcpEncodeError, DhcpEncodeErrorCode } from './wire.ts';

export const BOOTREQUEST = 1;
export const BOOTREPLY = 2;
/** RFC 2131 §2: the leftmost bit of `flags`, "BROADCAST (B) flag". */
export const BROADCAST_FLAG = 0x8000;
/** RFC 2131 §3: "the first four octets of the 'options' field ... 99, 130, 83, 99". */
export const MAGIC_COOKIE = 0x63825363;
/** RFC 951's 64-octet vend field: a BOOTP message is at least 236 + 64 octets; relays and old clients drop less. */
export const BOOTP_MIN_SIZE = 300;

export const HEADER_SIZE = 236;
export const OPTIONS_OFFSET = 240;
export const SNAME = { offset: 44, size: 64 } as const;
export const FILE = { offset: 108, size: 128 } as const;

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
    if (e instanceof DecodeFailure) return { ok: false, error: e.error };
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
  if (htype === 1 && hlen === 6) packet.mac = macFromBytes(chaddr.subarray(0, 6));
  return { ok: true, packet };
}
