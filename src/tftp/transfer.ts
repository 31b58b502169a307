/**
 * One read transfer on its own UDP socket: RFC 1350 "each end of a connection chooses a TID for itself", so the
 * server answers from a fresh ephemeral port. Handles option negotiation (OACK), windowsize (RFC 7440), timeouts
 * and retries, block-number rollover and the Sorcerer's Apprentice rule (duplicate ACKs never trigger a resend).
 */
import { createSocket, type Socket } from 'node:dgram';
import { isIPv6 } from 'node:net';
import { BlockReader } from './blocks.ts';
import type { FileSource, FileStore, TftpClient } from './files.ts';
import { GSO_MAX_BYTES, type GsoSocket, openGsoSocket } from './gso.ts';
import {
  ackBlock,
  decodePacket,
  encodeError,
  encodeOack,
  negotiateReadOptions,
  Opcode,
  type RequestPacket,
  TftpErrorCode,
  writeDataHeader,
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

/**
 * The client's address is always an IP literal of the socket's family: answer the lookup at once. Node's default goes
 * through dns.lookup and a process.nextTick for every datagram sent.
 */
type Literal = (address: string, _o: unknown, cb: (err: null, address: string, family: number) => void) => void;
const literal4: Literal = (address, _o, cb) => cb(null, address, 4);
const literal6: Literal = (address, _o, cb) => cb(null, address, 6);

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
  #blocks: BlockReader | undefined;
  /** Set while a window goes out as segmented sends (gso.ts). */
  #gso: GsoSocket | undefined;
  /** A window's datagrams laid out back to back (header, block, header, block …), reused while none is queued. */
  #packets: Buffer | undefined;
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
    // Only a client that asks for a window gets a socket that can send one in a single syscall.
    const wantsWindow = this.#o.maxWindowsize > 1 && Number(request.options.get('windowsize')) > 1;
    const v6 = isIPv6(host);
    const lookup = v6 ? literal6 : literal4;
    const gso = wantsWindow ? await openGsoSocket(host, lookup) : undefined;
    const socket = gso?.socket ?? createSocket({ type: v6 ? 'udp6' : 'udp4', lookup });
    this.#socket = socket;
    socket.on('error', (e) => this.#finish({ kind: 'error', error: `socket: ${e.message}`, refused: false }));
    socket.on('message', (msg, rinfo) => this.#onMessage(msg, rinfo.address, rinfo.port));
    if (this.#finished) return this.#closeSocket();
    if (!gso)
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
    this.#blocks = new BlockReader(opened.file, this.#blksize, this.#windowsize);
    // Short ERROR and OACK packets stay single datagrams: segmentation only cuts what is longer than one block.
    if (gso && this.#windowsize > 1 && this.#blksize >= 512 && gso.segment(this.#blksize + 4)) this.#gso = gso;

    if (n.oack.size > 0) {
      // RFC 2347: the client acknowledges the OACK with ACK 0; data starts after it.
      const oack = encodeOack(n.oack);
      this.#base = 0;
      this.#sendOack = () => this.#send(oack);
      this.#sendOack();
      this.#arm();
    } else {
      this.#base = 1;
      this.#sendWindow();
    }
  }

  #sendOack: (() => void) | undefined;

  #refuse(code: TftpErrorCode, message: string): void {
    this.#sendError(code, message);
    this.#finish({ kind: 'error', error: message, refused: true });
  }

  /** ERROR datagrams handed to the socket but not yet sent: closing before they leave would drop them. */
  #inFlight = 0;
  #closeWhenSent = false;

  /**
   * Sends without a completion callback: Node sends at once when the socket buffer has room and would otherwise only
   * add a callback tick per datagram. DATA and OACK are resent on timeout anyway; ERRORs go through #sendError.
   */
  #send(buf: Buffer): void {
    const { client } = this.#o;
    this.#socket?.send(buf, client.port, client.address);
  }

  #closeSocket(): void {
    try {
      this.#socket?.close();
    } catch {
      // Already closed.
    }
  }

  #sendError(code: TftpErrorCode, message: string): void {
    const socket = this.#socket;
    if (!socket) return;
    const { client } = this.#o;
    try {
      this.#inFlight++;
      socket.send(encodeError(code, message), client.port, client.address, () => {
        if (--this.#inFlight === 0 && this.#closeWhenSent) this.#closeSocket();
      });
    } catch {
      // The socket may already be closed; an error reply is best effort.
      this.#inFlight--;
      return;
    }
    this.#o.onErrorSent?.(code, client);
  }

  /** (Re)starts the retransmission timer; one timer per transfer, refreshed instead of replaced for every window. */
  #arm(): void {
    if (this.#timer) this.#timer.refresh();
    else this.#timer = setTimeout(() => this.#onTimeout(), this.#timeoutMs);
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
      this.#sendWindow();
    }
  }

  /**
   * Sends blocks base .. base+windowsize-1 (at most up to the last), then waits for the ACK of the last one. Runs
   * synchronously when the blocks are in memory; otherwise reads them first and starts over.
   */
  #sendWindow(): void {
    const gen = ++this.#gen;
    const blocks = this.#blocks!;
    const first = this.#base;
    const last = Math.min(first + this.#windowsize - 1, this.#totalBlocks);
    const stride = this.#blksize + 4;
    const socket = this.#socket!;
    // A datagram Node could not send at once waits in its queue holding our buffer: then take a fresh one.
    if (!this.#packets || socket.getSendQueueCount() > 0)
      // Windows only shrink as base moves on: the first one's size fits all later ones.
      this.#packets = Buffer.allocUnsafe(stride * (last - first + 1));
    const pkts = this.#packets;
    const segmented = this.#gso !== undefined && last > first;
    let end = 0;
    for (let b = first; b <= last; b++) {
      const at = end;
      const n = blocks.copy(b, pkts, at + 4);
      if (n < 0) {
        // The timer stays armed while reading: a read that never ends still ends the transfer after its retries.
        this.#arm();
        this.#loadThenSend(b, gen);
        return;
      }
      writeDataHeader(pkts, at, b % BLOCK_WRAP);
      end = at + 4 + n;
      if (!segmented) this.#send(at === 0 && end === pkts.length ? pkts : pkts.subarray(at, end));
    }
    if (segmented) {
      // Every segment but the last must be exactly one full block: true inside a window, whose last block alone may
      // be short. At most 64 segments a send (the kernel's UDP_MAX_SEGMENTS on older kernels).
      const per = Math.min(64, Math.floor(GSO_MAX_BYTES / stride)) * stride;
      for (let at = 0; at < end; at += per) this.#sendSegmented(pkts.subarray(at, Math.min(at + per, end)), gen);
    }
    this.#sentUpTo = last;
    this.#arm();
  }

  /** A window in one send; if the kernel refuses it (a device without checksum offload: EIO), fall back for good. */
  #sendSegmented(buf: Buffer, gen: number): void {
    const { client } = this.#o;
    this.#socket?.send(buf, client.port, client.address, (err) => {
      if (!err || this.#finished || !this.#gso) return;
      this.#gso.segment(0);
      this.#gso = undefined;
      if (gen === this.#gen) this.#sendWindow();
    });
  }

  #loadThenSend(b: number, gen: number): void {
    this.#blocks!.load(b).then(
      () => {
        if (gen === this.#gen && !this.#finished) this.#sendWindow();
      },
      (e: Error) => this.#finish({ kind: 'error', error: `read: ${e.message}`, refused: false }),
    );
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
    const block = ackBlock(msg);
    if (block < 0) {
      const r = decodePacket(msg);
      if (r.ok && r.packet.op === Opcode.ERROR)
        this.#finish({ kind: 'aborted', error: `client ERROR ${r.packet.code}: ${r.packet.message}` });
      return;
    }
    if (this.#base > this.#totalBlocks) return;
    const acked = this.#unwrap(block);
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
    this.#sendWindow();
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
