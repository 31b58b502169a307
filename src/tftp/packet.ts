/**
 * TFTP wire codec (RFC 1350) with option extension (RFC 2347), blksize (RFC 2348), timeout/tsize (RFC 2349) and
 * windowsize (RFC 7440). Pure: no sockets, no clocks. Decoding never throws; it returns a typed result.
 */

export const Opcode = { RRQ: 1, WRQ: 2, DATA: 3, ACK: 4, ERROR: 5, OACK: 6 } as const;
export type Opcode = (typeof Opcode)[keyof typeof Opcode];

/** RFC 1350 §5 error codes, plus RFC 2347's 8 "terminate transfer due to option negotiation". */
export const TftpErrorCode = {
  NotDefined: 0,
  FileNotFound: 1,
  AccessViolation: 2,
  DiskFull: 3,
  IllegalOperation: 4,
  UnknownTid: 5,
  FileExists: 6,
  NoSuchUser: 7,
  OptionNegotiation: 8,
} as const;
export type TftpErrorCode = (typeof TftpErrorCode)[keyof typeof TftpErrorCode];

/** Option names are case-insensitive (RFC 2347): keys are lower-cased, values kept as sent, order kept. */
export type TftpOptions = ReadonlyMap<string, string>;

export interface RequestPacket {
  op: typeof Opcode.RRQ | typeof Opcode.WRQ;
  filename: string;
  /** Lower-cased: "netascii", "octet" or "mail" ("The mode field contains the string ... in any combination of upper and lower case"). */
  mode: string;
  options: TftpOptions;
}
export interface DataPacket {
  op: typeof Opcode.DATA;
  block: number;
  data: Buffer;
}
export interface AckPacket {
  op: typeof Opcode.ACK;
  block: number;
}
export interface ErrorPacket {
  op: typeof Opcode.ERROR;
  code: number;
  message: string;
}
export interface OackPacket {
  op: typeof Opcode.OACK;
  options: TftpOptions;
}
export type TftpPacket = RequestPacket | DataPacket | AckPacket | ErrorPacket | OackPacket;

export type DecodeErrorCode = 'TOO_SHORT' | 'BAD_OPCODE' | 'UNTERMINATED' | 'BAD_OPTIONS' | 'BAD_STRING';
export type DecodeResult =
  | { ok: true; packet: TftpPacket }
  | { ok: false; error: { code: DecodeErrorCode; message: string } };

/** RFC 2348: "Valid values range between 8 and 65464 octets, inclusive." */
export const BLKSIZE_MIN = 8;
export const BLKSIZE_MAX = 65464;
/** RFC 1350 block size, used when no blksize is negotiated. */
export const DEFAULT_BLKSIZE = 512;
/** RFC 2349: "Valid values range between 1 and 255 seconds, inclusive." */
export const TIMEOUT_MIN_S = 1;
export const TIMEOUT_MAX_S = 255;
/** RFC 7440: "Valid values range between 1 and 65535 blocks, inclusive." */
export const WINDOWSIZE_MIN = 1;
export const WINDOWSIZE_MAX = 65535;

function fail(code: DecodeErrorCode, message: string): DecodeResult {
  return { ok: false, error: { code, message } };
}

/**
 * Reads NUL-terminated strings from `buf` starting at `off`. Returns undefined if the last one is unterminated.
 * Strings are decoded as latin1 so every byte maps to one char and nothing is lost or replaced.
 */
function readStrings(buf: Buffer, off: number): string[] | undefined {
  const out: string[] = [];
  while (off < buf.length) {
    const end = buf.indexOf(0, off);
    if (end < 0) return undefined;
    out.push(buf.toString('latin1', off, end));
    off = end + 1;
  }
  return out;
}

/**
 * Option pairs after the request or in an OACK. Trailing NUL padding (sent by some PXE ROMs) is tolerated:
 * an empty option name ends the list when only NULs follow.
 */
function parseOptions(strings: string[]): Map<string, string> | string {
  const options = new Map<string, string>();
  for (let i = 0; i < strings.length; i += 2) {
    const name = strings[i]!;
    if (name === '' && strings.slice(i).every((s) => s === '')) break;
    const value = strings[i + 1];
    if (value === undefined) return `option "${name}" has no value`;
    if (name === '') return 'empty option name';
    const key = name.toLowerCase();
    if (options.has(key)) return `option "${key}" given twice`;
    options.set(key, value);
  }
  return options;
}

export function decodePacket(buf: Uint8Array): DecodeResult {
  const b = Buffer.isBuffer(buf) ? buf : Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  if (b.length < 2) return fail('TOO_SHORT', `packet of ${b.length} bytes has no opcode`);
  const op = b.readUInt16BE(0);
  switch (op) {
    case Opcode.RRQ:
    case Opcode.WRQ: {
      const strings = readStrings(b, 2);
      if (!strings) return fail('UNTERMINATED', 'request string is not NUL-terminated');
      if (strings.length < 2) return fail('TOO_SHORT', 'request lacks filename or mode');
      const [filename, mode] = strings as [string, string];
      if (filename === '') return fail('BAD_STRING', 'empty filename');
      const options = parseOptions(strings.slice(2));
      if (typeof options === 'string') return fail('BAD_OPTIONS', options);
      return { ok: true, packet: { op, filename, mode: mode.toLowerCase(), options } };
    }
    case Opcode.DATA:
      if (b.length < 4) return fail('TOO_SHORT', 'DATA without block number');
      return { ok: true, packet: { op, block: b.readUInt16BE(2), data: b.subarray(4) } };
    case Opcode.ACK:
      // Bytes after the block number (link-layer padding from some stacks) are ignored.
      if (b.length < 4) return fail('TOO_SHORT', 'ACK without block number');
      return { ok: true, packet: { op, block: b.readUInt16BE(2) } };
    case Opcode.ERROR: {
      if (b.length < 4) return fail('TOO_SHORT', 'ERROR without error code');
      // An unterminated message is accepted as-is: an ERROR ends the transfer either way.
      const end = b.indexOf(0, 4);
      const message = b.toString('latin1', 4, end < 0 ? b.length : end);
      return { ok: true, packet: { op, code: b.readUInt16BE(2), message } };
    }
    case Opcode.OACK: {
      const strings = readStrings(b, 2);
      if (!strings) return fail('UNTERMINATED', 'OACK string is not NUL-terminated');
      const options = parseOptions(strings);
      if (typeof options === 'string') return fail('BAD_OPTIONS', options);
      return { ok: true, packet: { op, options } };
    }
    default:
      return fail('BAD_OPCODE', `unknown opcode ${op}`);
  }
}

function encodeStrings(op: number, strings: string[]): Buffer {
  let len = 2;
  for (const s of strings) len += Buffer.byteLength(s, 'latin1') + 1;
  const out = Buffer.alloc(len);
  out.writeUInt16BE(op, 0);
  let off = 2;
  for (const s of strings) {
    off += out.write(s, off, 'latin1');
    out[off++] = 0;
  }
  return out;
}

function optionStrings(options: TftpOptions): string[] {
  const out: string[] = [];
  for (const [k, v] of options) out.push(k, v);
  return out;
}

export function encodeRequest(p: Omit<RequestPacket, 'options'> & { options?: TftpOptions }): Buffer {
  return encodeStrings(p.op, [p.filename, p.mode, ...optionStrings(p.options ?? new Map())]);
}

/** Writes the 4-byte DATA header at `at`, in front of the block's bytes: one contiguous datagram, no copy later. */
export function writeDataHeader(buf: Buffer, at: number, block: number): void {
  buf[at] = 0;
  buf[at + 1] = Opcode.DATA;
  buf[at + 2] = (block >> 8) & 0xff;
  buf[at + 3] = block & 0xff;
}

export function encodeData(block: number, data: Uint8Array): Buffer {
  const b = Buffer.allocUnsafe(4 + data.length);
  writeDataHeader(b, 0, block);
  b.set(data, 4);
  return b;
}

/**
 * The block number of an ACK, or -1 for any other packet: the datagram nearly every one a transfer receives is,
 * decoded without allocating. Same rule as `decodePacket`: bytes after the block number are ignored.
 */
export function ackBlock(b: Uint8Array): number {
  return b.length >= 4 && b[0] === 0 && b[1] === Opcode.ACK ? (b[2]! << 8) | b[3]! : -1;
}

export function encodeAck(block: number): Buffer {
  const b = Buffer.allocUnsafe(4);
  b.writeUInt16BE(Opcode.ACK, 0);
  b.writeUInt16BE(block & 0xffff, 2);
  return b;
}

export function encodeError(code: number, message: string): Buffer {
  const m = Buffer.from(message, 'latin1');
  const b = Buffer.alloc(5 + m.length);
  b.writeUInt16BE(Opcode.ERROR, 0);
  b.writeUInt16BE(code & 0xffff, 2);
  m.copy(b, 4);
  return b;
}

export function encodeOack(options: TftpOptions): Buffer {
  return encodeStrings(Opcode.OACK, optionStrings(options));
}

export function encodePacket(p: TftpPacket): Buffer {
  switch (p.op) {
    case Opcode.RRQ:
    case Opcode.WRQ:
      return encodeRequest(p);
    case Opcode.DATA:
      return encodeData(p.block, p.data);
    case Opcode.ACK:
      return encodeAck(p.block);
    case Opcode.ERROR:
      return encodeError(p.code, p.message);
    case Opcode.OACK:
      return encodeOack(p.options);
  }
}

export interface NegotiationLimits {
  /** Largest blksize the server grants; requests above it are lowered to it (RFC 2348 allows a smaller reply). */
  maxBlksize: number;
  /** Largest windowsize the server grants (RFC 7440: the server "MAY" answer a smaller one). */
  maxWindowsize: number;
}

export interface Negotiated {
  blksize: number;
  windowsize: number;
  /** Retransmission timeout the client asked for, in ms, if accepted. */
  timeoutMs: number | undefined;
  /** Options to put in the OACK, in the order the client sent them; empty means no OACK (plain RFC 1350). */
  oack: Map<string, string>;
}

/** Strict decimal: no sign, no spaces, no exponent; at most 10 digits so it stays an exact number. */
function parseDecimal(v: string): number | undefined {
  return /^[0-9]{1,10}$/.test(v) ? Number(v) : undefined;
}

/**
 * Server-side option negotiation for a read request. Unknown or invalid options are left out of the OACK
 * (RFC 2347: "the server should simply omit the option from the OACK"). `tsize` is answered with the file size
 * when the size is known (RFC 2349: "the server ... includes the size of the file in the OACK").
 */
export function negotiateReadOptions(
  requested: TftpOptions,
  fileSize: number | undefined,
  limits: NegotiationLimits,
): Negotiated {
  const out: Negotiated = { blksize: DEFAULT_BLKSIZE, windowsize: 1, timeoutMs: undefined, oack: new Map() };
  for (const [name, value] of requested) {
    const n = parseDecimal(value);
    switch (name) {
      case 'blksize':
        if (n !== undefined && n >= BLKSIZE_MIN) {
          out.blksize = Math.min(n, BLKSIZE_MAX, Math.max(BLKSIZE_MIN, limits.maxBlksize));
          out.oack.set('blksize', String(out.blksize));
        }
        break;
      case 'timeout':
        // RFC 2349: the server "MUST" echo the same value if it accepts it, so only in-range values are taken.
        if (n !== undefined && n >= TIMEOUT_MIN_S && n <= TIMEOUT_MAX_S) {
          out.timeoutMs = n * 1000;
          out.oack.set('timeout', String(n));
        }
        break;
      case 'tsize':
        if (n !== undefined && fileSize !== undefined) out.oack.set('tsize', String(fileSize));
        break;
      case 'windowsize':
        if (n !== undefined && n >= WINDOWSIZE_MIN && n <= WINDOWSIZE_MAX) {
          out.windowsize = Math.min(n, Math.max(1, limits.maxWindowsize));
          out.oack.set('windowsize', String(out.windowsize));
        }
        break;
    }
  }
  return out;
}
