/**
 * One read transfer on its own UDP socket: RFC 1350 "each end of a connection chooses a TID for itself", so the
 * server answers from a fresh ephemeral port. Handles option negotiation (OACK), windowsize (RFC 7440), timeouts
 * and retries, block-number rollover and the Sorcerer's Apprentice rule (duplicate ACKs never trigger a resend).
 */
import { createSocket, type Socket } from 'node:dgram';
import { isIPv6 } from 'node:net';
import type { FileSource, FileStore, TftpClient } from './files.ts';
import {
  decodePacket,
  encodeDataHeader,
  encodeError,
  encodeOack,
  negotiateReadOptions,
  Opcode,
  type RequestPacket,
  TftpErrorCode,
} from './packet.ts';

export interface TransferOptions {
  /** Local address to bind the transfer socket to (the address the request came in on, ideally). */
  host: string;
  client: TftpClient;
  request: RequestPacket;
  files: FileStore;
  maxBlksize: number;
  maxWindowsize: number;
  timeoutMs: number;
  retries: number;
  /** Every ERROR packet this transfer sends, by code (to the client, or to a stray sender: unknown TID). */
  onErrorSent?(code: TftpErrorCode, to: TftpClient): void;
}

export type TransferOutcome =
  /** The last block was acknowledged. */
  | { kind: 'done'; bytes: number; retries: number; file: string }
  /** The client sent an ERROR (e.g. OVMF's size probe: ERROR 8 right after the OACK). Not a server fault. */
  | { kind: 'aborted'; bytes: number; retries: number; file: string; error: string }
  /** Refused (no such file, access violation, bad mode) or failed (timeout, socket error). */
  | { kind: 'error'; bytes: number; retries: number; file: string; error: string; refused: boolean };

const BLOCK_WRAP = 0x10000;

export class ReadTransfer {
  readonly #o: TransferOptions;
  #socket: Socket | undefined;
  #source: FileSource | undefined;
  #file: string;
  #blksize = 512;
  #windowsize = 1;
  #timeoutMs: number;
  /** Blocks are counted from 1 without wrapping; the wire carries the low 16 bits ("rollover to 0"). */
  #totalBlocks = 0;
  /** Lowest block not yet acknowledged; 0 while waiting for the ACK of the OACK. */
  #base = 0;
  /** Highest block sent in the current window. */
  #sentUpTo = 0;
  #retries = 0;
  #attempts = 0;
  #bytes = 0;
  #timer: NodeJS.Timeout | undefined;
  #window: { first: number; data: Buffer } | undefined;
  /** Bumped on every state change so a window read that finishes late is discarded. */
  #gen = 0;
  #finished = false;
  #resolve!: (o: TransferOutcome) => void;
  readonly done: Promise<TransferOutcome>;

  constructor(o: TransferOptions) {
    this.#o = o;
    this.#file = o.request.filename;
    this.#timeoutMs = o.timeoutMs;
    this.done = new Promise((r) => {
      this.#resolve = r;
    });
  }

  get file(): string {
    return this.#file;
  }

  /** Opens the socket and the file, then answers with OACK, DATA 1 or ERROR. Never rejects: see `done`. */
  async start(): Promise<TransferOutcome> {
    try {
      await this.#start();
    } catch (e) {
      this.#finish({ kind: 'error', error: (e as Error).message, refused: false });
    }
    return this.done;
  }

  abort(reason: string): void {
    if (this.#finished) return;
    this.#sendError(TftpErrorCode.NotDefined, reason);
    this.#finish({ kind: 'error', error: reason, refused: false });
  }

  async #start(): Promise<void> {
    const { host, request } = this.#o;
    const socket = createSocket({ type: isIPv6(host) ? 'udp6' : 'udp4' });
    this.#socket = socket;
    socket.on('error', (e) => this.#finish({ kind: 'error', error: `socket: ${e.message}`, refused: false }));
    socket.on('message', (msg, rinfo) => this.#onMessage(msg, rinfo.address, rinfo.port));
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind({ address: host, port: 0 }, () => {
        socket.off('error', reject);
        resolve();
      });
    });
    if (this.#finished) return;

    if (request.mode === 'netascii' || request.mode === 'mail') {
      // Boot files are binary; converting line ends would also make tsize ambiguous, so only octet is served.
      return this.#refuse(TftpErrorCode.NotDefined, `${request.mode} mode is not supported, use octet`);
    }
    if (request.mode !== 'octet') return this.#refuse(TftpErrorCode.IllegalOperation, 'unknown transfer mode');

    const opened = await this.#o.files.open(request.filename, this.#o.client);
    if (this.#finished) {
      if (opened.ok) await opened.file.close();
      return;
    }
    if (!opened.ok) return this.#refuse(opened.code, opened.message);
    this.#file = opened.path;
    this.#source = opened.file;

    const n = negotiateReadOptions(request.options, opened.file.size, {
      maxBlksize: this.#o.maxBlksize,
      maxWindowsize: this.#o.maxWindowsize,
    });
    this.#blksize = n.blksize;
    this.#windowsize = n.windowsize;
    if (n.timeoutMs !== undefined) this.#timeoutMs = n.timeoutMs;
    // "The last data packet is the first one with less than blksize bytes", so a multiple of blksize ends with
    // an empty block.
    this.#totalBlocks = Math.floor(opened.file.size / this.#blksize) + 1;

    if (n.oack.size > 0) {
      // RFC 2347: the client acknowledges the OACK with ACK 0; data starts after it.
      const oack = encodeOack(n.oack);
      this.#base = 0;
      this.#sendOack = () => this.#send(oack);
      this.#sendOack();
      this.#arm();
    } else {
      this.#base = 1;
      await this.#sendWindow();
    }
  }

  #sendOack: (() => void) | undefined;

  #refuse(code: TftpErrorCode, message: string): void {
    this.#sendError(code, message);
    this.#finish({ kind: 'error', error: message, refused: true });
  }

  /** Datagrams handed to the socket but not yet sent: closing before they leave would drop them (an ERROR, say). */
  #inFlight = 0;
  #closeWhenSent = false;

  #send(buf: Buffer | Buffer[]): void {
    const { client } = this.#o;
    const socket = this.#socket;
    if (!socket) return;
    this.#inFlight++;
    socket.send(buf, client.port, client.address, () => {
      if (--this.#inFlight === 0 && this.#closeWhenSent) this.#closeSocket();
    });
  }

  #closeSocket(): void {
    try {
      this.#socket?.close();
    } catch {
      // Already closed.
    }
  }

  #sendError(code: TftpErrorCode, message: string): void {
    if (!this.#socket) return;
    try {
      this.#send(encodeError(code, message));
    } catch {
      // The socket may already be closed; an error reply is best effort.
      return;
    }
    this.#o.onErrorSent?.(code, this.#o.client);
  }

  #arm(): void {
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => this.#onTimeout(), this.#timeoutMs);
  }

  #onTimeout(): void {
    if (this.#finished) return;
    if (this.#attempts >= this.#o.retries) {
      this.#sendError(TftpErrorCode.NotDefined, 'timeout');
      this.#finish({ kind: 'error', error: `timeout after ${this.#attempts} retries`, refused: false });
      return;
    }
    this.#attempts++;
    this.#retries++;
    if (this.#base === 0) {
      this.#sendOack?.();
      this.#arm();
    } else {
      void this.#sendWindow();
    }
  }

  /** Sends blocks base .. base+windowsize-1 (at most up to the last), then waits for the ACK of the last one. */
  async #sendWindow(): Promise<void> {
    const source = this.#source!;
    const gen = ++this.#gen;
    const first = this.#base;
    const last = Math.min(first + this.#windowsize - 1, this.#totalBlocks);
    const bs = this.#blksize;
    let data = source.data;
    let dataOffset = 0;
    if (!data) {
      const w = this.#window;
      const start = (first - 1) * bs;
      const end = Math.min(last * bs, source.size);
      if (w && w.first <= first && (w.first - 1) * bs + w.data.length >= end) {
        data = w.data;
        dataOffset = (w.first - 1) * bs;
      } else {
        // Read ahead a few windows at once: fewer syscalls for lock-step clients.
        const ahead = Math.max(end - start, Math.min(bs * 64, 256 * 1024));
        const buf = await source.read(start, ahead);
        if (gen !== this.#gen || this.#finished) return;
        this.#window = { first, data: buf };
        data = buf;
        dataOffset = start;
      }
    }
    for (let b = first; b <= last; b++) {
      const from = (b - 1) * bs - dataOffset;
      const chunk = data.subarray(from, Math.min(from + bs, data.length));
      this.#send([encodeDataHeader(b % BLOCK_WRAP), chunk]);
    }
    this.#sentUpTo = last;
    this.#arm();
  }

  #onMessage(msg: Buffer, address: string, port: number): void {
    if (this.#finished) return;
    const { client } = this.#o;
    if (address !== client.address || port !== client.port) {
      // RFC 1350: "If a source TID does not match, the packet should be discarded as erroneously sent from
      // somewhere else. An error packet should be sent to the source of the incorrect packet, while not
      // disturbing the transfer."
      this.#socket?.send(encodeError(TftpErrorCode.UnknownTid, 'unknown transfer ID'), port, address);
      this.#o.onErrorSent?.(TftpErrorCode.UnknownTid, { address, port });
      return;
    }
    const r = decodePacket(msg);
    if (!r.ok) return;
    const p = r.packet;
    if (p.op === Opcode.ERROR) {
      this.#finish({ kind: 'aborted', error: `client ERROR ${p.code}: ${p.message}` });
      return;
    }
    if (p.op !== Opcode.ACK || this.#base > this.#totalBlocks) return;
    const acked = this.#unwrap(p.block);
    // Only an ACK inside the outstanding window moves us; an ACK of an already acknowledged block (a duplicate)
    // is ignored, so a delayed duplicate never doubles the traffic (Sorcerer's Apprentice, RFC 1123 §4.2.3.1).
    if (acked === undefined) return;
    this.#attempts = 0;
    this.#bytes = Math.min(acked * this.#blksize, this.#source!.size);
    this.#base = acked + 1;
    if (acked === this.#totalBlocks) {
      this.#finish({ kind: 'done' });
      return;
    }
    // RFC 7440: an ACK of a block before the window's end means the rest was lost: "the sender ... MUST
    // retransmit the window starting at the first unacknowledged block".
    void this.#sendWindow();
  }

  /** Maps a 16-bit ACK to the absolute block in [base-?, sentUpTo]; undefined if it acknowledges nothing new. */
  #unwrap(block: number): number | undefined {
    if (this.#base === 0) return block === 0 ? 0 : undefined;
    const lo = this.#base;
    const hi = this.#sentUpTo;
    if (hi < lo) return undefined;
    const offset = (block - (lo % BLOCK_WRAP) + BLOCK_WRAP) % BLOCK_WRAP;
    const abs = lo + offset;
    return abs <= hi ? abs : undefined;
  }

  #finish(
    o: { kind: 'done' } | { kind: 'aborted'; error: string } | { kind: 'error'; error: string; refused: boolean },
  ): void {
    if (this.#finished) return;
    this.#finished = true;
    this.#gen++;
    clearTimeout(this.#timer);
    const socket = this.#socket;
    if (socket) {
      socket.removeAllListeners('message');
      socket.on('error', () => {});
      if (this.#inFlight === 0) this.#closeSocket();
      else this.#closeWhenSent = true;
    }
    void this.#source?.close();
    const base = {
      bytes: o.kind === 'done' ? (this.#source?.size ?? 0) : this.#bytes,
      retries: this.#retries,
      file: this.#file,
    };
    this.#resolve({ ...base, ...o });
  }
}
