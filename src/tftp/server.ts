/**
 * The TFTP listener: decodes requests on the well-known port, starts one ReadTransfer per RRQ (each on its own
 * port), refuses writes, and applies limits with back-pressure: requests over a limit wait in a bounded queue.
 */
import { createSocket, type Socket } from 'node:dgram';
import { isIPv6 } from 'node:net';
import { bindThroughLibc, isBound, receiveBuffer } from '../net/udp-libc.ts';
import { FileStore, type GeneratedFiles, type TftpClient } from './files.ts';
import { decodePacket, encodeError, Opcode, type RequestPacket, TftpErrorCode } from './packet.ts';
import { ReadTransfer, type TransferOutcome } from './transfer.ts';

export interface TftpEvent {
  type: 'transfer-start' | 'transfer-done' | 'transfer-error';
  client: TftpClient;
  file: string;
  bytes: number;
  ms: number;
  retries: number;
  /** Set on transfer-error. */
  error?: string;
  /** Set on transfer-error when the client ended the transfer itself (e.g. OVMF's tsize probe). */
  aborted?: boolean;
}

/** Metric-friendly names of the RFC 1350 §5 error codes; 8 is RFC 2347's "terminate ... due to option negotiation". */
export const TFTP_ERROR_NAMES = {
  [TftpErrorCode.NotDefined]: 'not-defined',
  [TftpErrorCode.FileNotFound]: 'file-not-found',
  [TftpErrorCode.AccessViolation]: 'access-violation',
  [TftpErrorCode.DiskFull]: 'disk-full',
  [TftpErrorCode.IllegalOperation]: 'illegal-operation',
  [TftpErrorCode.UnknownTid]: 'unknown-tid',
  [TftpErrorCode.FileExists]: 'file-exists',
  [TftpErrorCode.NoSuchUser]: 'no-such-user',
  [TftpErrorCode.OptionNegotiation]: 'option-refused',
} as const satisfies Record<TftpErrorCode, string>;
export type TftpErrorName = (typeof TFTP_ERROR_NAMES)[TftpErrorCode];

/** An ERROR packet the server sent: a refusal, a timeout, a shutdown, or an answer to a stray sender. */
export interface TftpErrorSent {
  code: TftpErrorCode;
  name: TftpErrorName;
  client: TftpClient;
  /** The file asked for, when the error belongs to a request. */
  file?: string;
}

export interface TftpStats {
  /** Transfers started (requests taken off the queue and answered). */
  transfers: number;
  /** Transfers whose last block was acknowledged. */
  completed: number;
  /** File bytes acknowledged by clients. */
  bytes: number;
  /** Retransmissions after a timeout (blocks or OACK resent). */
  retries: number;
  /** Transfers refused or failed on the server side (not found, access violation, timeout, socket error). */
  errors: number;
  /** Transfers ended by the client with an ERROR packet. */
  aborted: number;
  /** Packets on the listening port that did not decode. */
  malformed: number;
  /** Requests dropped because the wait queue was full or they waited too long. */
  dropped: number;
  active: number;
  queued: number;
  cacheHits: number;
  cacheMisses: number;
  cachedBytes: number;
}

export interface TftpLogger {
  debug(...a: unknown[]): void;
  info(...a: unknown[]): void;
  warn(...a: unknown[]): void;
}

export interface TftpServerOptions {
  host: string;
  port: number;
  roots: string[];
  generated?: GeneratedFiles;
  /** Largest blksize granted. Default 1468: a 1500-byte MTU less IPv4 (20), UDP (8) and TFTP (4) headers. */
  maxBlksize?: number;
  /** Largest windowsize granted (RFC 7440). Default 64. */
  maxWindowsize?: number;
  /** Retransmission timeout when the client does not negotiate one. Default 1000 ms. */
  timeoutMs?: number;
  /** Retransmissions of one window before giving up. Default 5. */
  retries?: number;
  /** Concurrent transfers. Default 4096. */
  maxTransfers?: number;
  /** Concurrent transfers per client address. Default 16. */
  maxPerClient?: number;
  /** Requests waiting for a free slot. Default 4096. */
  maxQueue?: number;
  /** How long a request may wait for a slot before it is dropped (the client will retransmit it). Default 5000 ms. */
  queueMs?: number;
  /** Bytes of small-file contents kept in memory. Default 64 MiB. */
  cacheBytes?: number;
  onEvent?: (e: TftpEvent) => void;
  /** Every ERROR packet sent (for metrics by code); called after the packet is handed to the socket. */
  onErrorSent?: (e: TftpErrorSent) => void;
  log?: TftpLogger;
}

export interface TftpServer {
  port: number;
  close(): Promise<void>;
  stats(): TftpStats;
}

const LISTEN_BUFFER = 4 * 1024 * 1024;

const silent: TftpLogger = { debug() {}, info() {}, warn() {} };

interface Pending {
  client: TftpClient;
  key: string;
  request: RequestPacket;
  since: number;
}

export async function startTftpServer(opts: TftpServerOptions): Promise<TftpServer> {
  const log = opts.log ?? silent;
  const files = new FileStore({
    roots: opts.roots,
    ...(opts.generated ? { generated: opts.generated } : {}),
    ...(opts.cacheBytes !== undefined ? { cacheBytes: opts.cacheBytes } : {}),
  });
  const maxBlksize = opts.maxBlksize ?? 1468;
  const maxWindowsize = opts.maxWindowsize ?? 64;
  const timeoutMs = opts.timeoutMs ?? 1000;
  const retries = opts.retries ?? 5;
  const maxTransfers = opts.maxTransfers ?? 4096;
  const maxPerClient = opts.maxPerClient ?? 16;
  const maxQueue = opts.maxQueue ?? 4096;
  const queueMs = opts.queueMs ?? 5000;

  const counters = {
    transfers: 0,
    completed: 0,
    bytes: 0,
    retries: 0,
    errors: 0,
    aborted: 0,
    malformed: 0,
    dropped: 0,
  };
  /** Keyed by client address:port, the client's TID: a retransmitted RRQ must not start a second transfer. */
  const active = new Map<string, ReadTransfer>();
  const perClient = new Map<string, number>();
  const queue: Pending[] = [];
  const queuedKeys = new Set<string>();
  let closed = false;

  // Room for a burst of RRQs (a rack powering on): the default 208 KiB holds 256 of them (832 bytes of kernel memory
  // each on loopback); the rest were dropped and waited for the client's timeout. Linux caps SO_RCVBUF at
  // net.core.rmem_max (208 KiB by default): as root, SO_RCVBUFFORCE through libc passes it; else dgram asks what it
  // may (and a bind error is dgram's, with its usual code).
  const made = await bindThroughLibc(opts.host, opts.port, [receiveBuffer(LISTEN_BUFFER)]);
  const forced = isBound(made) ? made.socket : undefined;
  const socket: Socket =
    forced ?? createSocket({ type: isIPv6(opts.host) ? 'udp6' : 'udp4', recvBufferSize: LISTEN_BUFFER });
  if (!forced)
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind({ address: opts.host, port: opts.port }, () => {
        socket.off('error', reject);
        resolve();
      });
    });
  socket.on('error', (e) => log.warn({ err: e.message }, 'tftp: listener socket error'));

  const emit = (e: TftpEvent): void => {
    try {
      opts.onEvent?.(e);
    } catch (err) {
      log.warn({ err: (err as Error).message }, 'tftp: onEvent handler threw');
    }
  };

  const errorSent = (code: TftpErrorCode, client: TftpClient, file?: string): void => {
    try {
      opts.onErrorSent?.({ code, name: TFTP_ERROR_NAMES[code], client, ...(file !== undefined ? { file } : {}) });
    } catch (err) {
      log.warn({ err: (err as Error).message }, 'tftp: onErrorSent handler threw');
    }
  };

  const hasSlot = (address: string): boolean =>
    active.size < maxTransfers && (perClient.get(address) ?? 0) < maxPerClient;

  function start(p: Pending): void {
    const { client, key, request } = p;
    const t = new ReadTransfer({
      host: opts.host,
      client,
      request,
      files,
      maxBlksize,
      maxWindowsize,
      timeoutMs,
      retries,
      onErrorSent: (code, to) => errorSent(code, to, request.filename.replace(/^\/+/, '')),
    });
    active.set(key, t);
    perClient.set(client.address, (perClient.get(client.address) ?? 0) + 1);
    counters.transfers++;
    const t0 = performance.now();
    emit({ type: 'transfer-start', client, file: request.filename, bytes: 0, ms: 0, retries: 0 });
    log.debug({ client, file: request.filename, options: Object.fromEntries(request.options) }, 'tftp: RRQ');
    void t.start().then((o: TransferOutcome) => {
      active.delete(key);
      const n = (perClient.get(client.address) ?? 1) - 1;
      if (n > 0) perClient.set(client.address, n);
      else perClient.delete(client.address);
      const ms = Math.round(performance.now() - t0);
      counters.bytes += o.bytes;
      counters.retries += o.retries;
      // The name the client asked for: events and logs must not reveal where the roots are on this host.
      const base = { client, file: request.filename.replace(/^\/+/, ''), bytes: o.bytes, ms, retries: o.retries };
      if (o.kind === 'done') {
        counters.completed++;
        emit({ type: 'transfer-done', ...base });
        log.debug({ ...base }, 'tftp: sent');
      } else if (o.kind === 'aborted') {
        counters.aborted++;
        emit({ type: 'transfer-error', ...base, error: o.error, aborted: true });
        log.debug({ ...base, error: o.error }, 'tftp: client ended transfer');
      } else {
        counters.errors++;
        emit({ type: 'transfer-error', ...base, error: o.error });
        if (o.refused) log.info({ ...base, error: o.error }, 'tftp: refused');
        else log.warn({ ...base, error: o.error }, 'tftp: transfer failed');
      }
      drain();
    });
  }

  /** Starts queued requests that now fit; drops those that waited too long. */
  function drain(): void {
    if (closed) return;
    const now = performance.now();
    for (let i = 0; i < queue.length; ) {
      const p = queue[i]!;
      if (now - p.since > queueMs) {
        queue.splice(i, 1);
        queuedKeys.delete(p.key);
        counters.dropped++;
        continue;
      }
      if (hasSlot(p.client.address)) {
        queue.splice(i, 1);
        queuedKeys.delete(p.key);
        start(p);
        continue;
      }
      i++;
    }
  }
  const sweeper = setInterval(drain, Math.max(100, Math.min(1000, queueMs / 4)));
  sweeper.unref();

  socket.on('message', (msg, rinfo) => {
    const client: TftpClient = { address: rinfo.address, port: rinfo.port };
    const r = decodePacket(msg);
    if (!r.ok) {
      counters.malformed++;
      log.debug({ client, error: r.error }, 'tftp: malformed packet dropped');
      return;
    }
    const p = r.packet;
    if (p.op === Opcode.WRQ) {
      socket.send(encodeError(TftpErrorCode.AccessViolation, 'read-only server'), client.port, client.address);
      counters.errors++;
      errorSent(TftpErrorCode.AccessViolation, client, p.filename.replace(/^\/+/, ''));
      log.info({ client, file: p.filename }, 'tftp: write request refused');
      return;
    }
    if (p.op !== Opcode.RRQ) {
      // DATA/ACK/ERROR/OACK belong on a transfer port; on the listening port they are stray.
      log.debug({ client, op: p.op }, 'tftp: non-request on listening port dropped');
      return;
    }
    const key = `${client.address}:${client.port}`;
    if (active.has(key) || queuedKeys.has(key)) {
      log.debug({ client, file: p.filename }, 'tftp: retransmitted RRQ ignored');
      return;
    }
    const pending: Pending = { client, key, request: p, since: performance.now() };
    if (hasSlot(client.address)) return start(pending);
    if (queue.length >= maxQueue) {
      counters.dropped++;
      log.warn({ client, file: p.filename }, 'tftp: queue full, request dropped');
      return;
    }
    queue.push(pending);
    queuedKeys.add(key);
    log.debug({ client, file: p.filename, queued: queue.length }, 'tftp: request queued');
  });

  const address = socket.address();
  log.info({ host: opts.host, port: address.port, roots: opts.roots }, 'tftp: listening');

  return {
    port: address.port,
    stats: () => ({ ...counters, active: active.size, queued: queue.length, ...files.stats() }),
    async close() {
      if (closed) return;
      closed = true;
      clearInterval(sweeper);
      queue.length = 0;
      queuedKeys.clear();
      const running = [...active.values()];
      for (const t of running) t.abort('server shutting down');
      await Promise.all(running.map((t) => t.done));
      await new Promise<void>((resolve) => socket.close(() => resolve()));
    },
  };
}
