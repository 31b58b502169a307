/**
 * The wire primitives every option codec shares: IPv4 addresses, NVT ASCII text (RFC 2132), unsigned integers,
 * GUID ↔ UUID (RFC 4578 §2.3), and the decode/encode error types the codecs throw and packet.ts turns into results.
 * Apart because packet.ts and the lease math use them without the option table.
 */

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

/** A failure inside the codec, thrown where it is found and returned by decodePacket (packet.ts) or encodePacket
 * (encode.ts) as their typed error. */
class CodecFailure<C extends string> extends Error {
  constructor(
    readonly code: C,
    readonly option: number | undefined,
    message: string,
  ) {
    super(message);
  }

  /** The error result: the code, the message, and the option at fault when there is one. */
  get error(): { code: C; message: string; option?: number } {
    return this.option === undefined
      ? { code: this.code, message: this.message }
      : { code: this.code, message: this.message, option: this.option };
  }
}

export class DecodeFailure extends CodecFailure<DhcpDecodeErrorCode> {}
export class EncodeFailure extends CodecFailure<DhcpEncodeErrorCode> {}

export function fail(code: DhcpDecodeErrorCode, option: number | undefined, message: string): never {
  throw new DecodeFailure(code, option, message);
}

export function invalid(option: number | undefined, message: string): never {
  throw new EncodeFailure('BAD_VALUE', option, message);
}

// Primitive values

export function ipv4ToString(b: Buffer, off = 0): string {
  return `${b[off]}.${b[off + 1]}.${b[off + 2]}.${b[off + 3]}`;
}

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

/** An address option's value: the dotted quad's 4 octets, or BAD_VALUE. */
export function ipv4Out(code: number | undefined, s: string): Buffer {
  const n = ipv4ToNumber(s);
  if (n === undefined) invalid(code, `not an IPv4 address: ${JSON.stringify(s)}`);
  const b = Buffer.allocUnsafe(4);
  b.writeUInt32BE(n, 0);
  return b;
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

export function uintOut(code: number | undefined, v: number, bytes: 1 | 2 | 4): Buffer {
  const max = 2 ** (8 * bytes) - 1;
  if (!Number.isInteger(v) || v < 0 || v > max) invalid(code, `${v} is not an unsigned ${8 * bytes}-bit integer`);
  // Every octet is written: from the pool, not a zeroed ArrayBuffer of its own.
  const b = Buffer.allocUnsafe(bytes);
  b.writeUIntBE(v, 0, bytes);
  return b;
}

/** Type 0 GUID → UUID string: the first three fields are little-endian on the wire (SMBIOS byte order). */
export function guidToUuid(g: Buffer): string {
  // From one hex string: a field is its slice, octets reversed for the little-endian ones (a fifth of a client
  // packet's decoding went to building a Buffer per field).
  const hex = g.toString('hex');
  const h = (i: number, n: number, le: boolean): string => {
    if (!le) return hex.slice(2 * i, 2 * (i + n));
    let s = '';
    for (let k = Math.min(i + n, g.length) - 1; k >= i; k--) s += hex.slice(2 * k, 2 * k + 2);
    return s;
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
