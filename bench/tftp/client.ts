/**
 * A TFTP read client on node:dgram for the bench: one RRQ with blksize/tsize (and windowsize when asked for more than
 * 1), OACK handling, ACK of the last block of each window (or of the last in-order block on a gap), block-number
 * rollover, and RFC 1350 retransmission of the last packet sent (RRQ or ACK) on timeout. Used where no C client fits:
 * 1,000 fetches at once, and the windowed rows' cross-check.
 *
 * Timeouts are those of real PXE clients rather than a tight bench loop: the first retransmission after 1 s, then
 * doubling up to 4 s (iPXE's retry timer backs off from 1/4 s to 10 s; EDK2's MTFTP waits 4 s, 6 tries), giving up
 * after CLIENT_GIVE_UP_MS without progress (tftp-hpa's client gives up after 25 s). The bench used to give up after
 * 5–7 s, shorter than any of these, so a stall of the shared machine counted as a failed fetch.
 */
import { createHash, type Hash } from 'node:crypto';
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';

export const HOST = '127.0.0.1';
export const CLIENT_TIMEOUT_MS = 1000;
const CLIENT_MAX_TIMEOUT_MS = 4000;
const CLIENT_GIVE_UP_MS = 20_000;

export interface FetchOptions {
  /** The server's IPv4 address (a literal, not a name); default 127.0.0.1. */
  host?: string;
  /** The client's own address to send from; default the server's route. */
  localAddress?: string;
  port: number;
  file: string;
  size: number;
  /** The file's SHA-256 (hex): when given, the received bytes must hash to it. */
  sha256?: string;
  blksize: number;
  windowsize: number;
  deadlineMs: number;
  recvBuffer?: number;
}

/**
 * Why a fetch failed: `no-reply` (no packet from the server before the client gave up), `stalled` (the server went
 * quiet mid-transfer), `server-error` (an ERROR packet: see `error`), `deadline`, `size` (the last block came with
 * the wrong total), `content` (the bytes do not hash to `sha256`), `socket`.
 */
export type FailureReason = 'no-reply' | 'stalled' | 'server-error' | 'deadline' | 'size' | 'content' | 'socket';

export interface FetchResult {
  ok: boolean;
  bytes: number;
  ms: number;
  blksize: number;
  windowsize: number;
  /** Packets the client retransmitted (RRQ or ACK) after a timeout. */
  retries: number;
  /** Out-of-order or repeated DATA/OACK received: the server's retransmissions, as the client saw them. */
  resends: number;
  reason?: FailureReason;
  error?: string;
}

/** The server is always an IP literal: answer dgram's address lookup at once instead of through dns.lookup. */
const literal4 = (address: string, _o: unknown, cb: (err: null, address: string, family: number) => void) =>
  cb(null, address, 4);

function rrq(file: string, opts: [string, string][]): Buffer {
  const parts: Buffer[] = [Buffer.from([0, 1]), Buffer.from(`${file}\0octet\0`)];
  for (const [k, v] of opts) parts.push(Buffer.from(`${k}\0${v}\0`));
  return Buffer.concat(parts);
}

function ack(block: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt16BE(4, 0);
  b.writeUInt16BE(block & 0xffff, 2);
  return b;
}

function errorPacket(code: number, msg: string): Buffer {
  const b = Buffer.alloc(5 + msg.length);
  b.writeUInt16BE(5, 0);
  b.writeUInt16BE(code, 2);
  b.write(msg, 4, 'latin1');
  return b;
}

function parseOack(msg: Buffer): Map<string, string> {
  const fields = msg.subarray(2).toString('latin1').split('\0');
  const out = new Map<string, string>();
  for (let i = 0; i + 1 < fields.length; i += 2) {
    const k = fields[i];
    const v = fields[i + 1];
    if (k && v !== undefined) out.set(k.toLowerCase(), v);
  }
  return out;
}

/**
 * One RRQ: options blksize/tsize (and windowsize when asked for more than 1), OACK handling, ACK of the last block of
 * each window (or of the last in-order block on a gap), block-number rollover, timeout and retry. Never rejects.
 */
export function fetchTftp(o: FetchOptions): Promise<FetchResult> {
  return new Promise((done) => {
    const t0 = performance.now();
    const host = o.host ?? HOST;
    const sock: Socket = createSocket({
      type: 'udp4',
      lookup: literal4,
      ...(o.recvBuffer ? { recvBufferSize: o.recvBuffer } : {}),
    });
    const options: [string, string][] = [
      ['blksize', String(o.blksize)],
      ['tsize', '0'],
    ];
    if (o.windowsize > 1) options.push(['windowsize', String(o.windowsize)]);
    const request = rrq(o.file, options);
    const hash: Hash | undefined = o.sha256 ? createHash('sha256') : undefined;
    let serverPort = 0;
    let blksize = 512;
    let windowsize = 1;
    let tsize: number | undefined;
    /** Next block wanted, counted from 1 without wrapping; the wire carries the low 16 bits. */
    let expected = 1;
    let inWindow = 0;
    let bytes = 0;
    let retries = 0;
    let resends = 0;
    /** The current retransmission timeout: doubles on each timeout in a row, back to the start on progress. */
    let timeoutMs = CLIENT_TIMEOUT_MS;
    let lastProgress = t0;
    let lastSent: Buffer = request;
    let lastAckAt = 0;
    let finished = false;
    let timer: NodeJS.Timeout | undefined;
    /** The timeout `timer` was set for: while it stays the same, the timer is refreshed instead of replaced. */
    let armedFor = 0;

    const finish = (reason?: FailureReason, error?: string) => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      clearTimeout(deadline);
      sock.removeAllListeners('message');
      sock.on('error', () => {});
      // Giving up mid-transfer: tell the server (RFC 1350 §7 ERROR), so it does not retransmit into a closed port.
      if ((reason === 'stalled' || reason === 'deadline') && serverPort !== 0)
        sock.send(errorPacket(0, 'client gave up'), serverPort, host, () => sock.close());
      else sock.close();
      done({
        ok: reason === undefined,
        bytes,
        ms: performance.now() - t0,
        blksize,
        windowsize,
        retries,
        resends,
        ...(reason ? { reason } : {}),
        ...(error ? { error } : {}),
      });
    };
    const send = (b: Buffer, port: number) => {
      lastSent = b;
      sock.send(b, port, host);
    };
    const progress = () => {
      lastProgress = performance.now();
      timeoutMs = CLIENT_TIMEOUT_MS;
    };
    const onTimeout = () => {
      if (finished) return;
      if (performance.now() - lastProgress >= CLIENT_GIVE_UP_MS)
        return finish(serverPort === 0 ? 'no-reply' : 'stalled', `no progress for ${CLIENT_GIVE_UP_MS} ms`);
      retries++;
      sock.send(lastSent, serverPort || o.port, host);
      timeoutMs = Math.min(timeoutMs * 2, CLIENT_MAX_TIMEOUT_MS);
      arm();
    };
    // ±25% jitter, as a fleet of real clients has: 1000 fetches started together must not retransmit in lockstep.
    const arm = () => {
      if (timer && armedFor === timeoutMs) {
        timer.refresh();
        return;
      }
      clearTimeout(timer);
      armedFor = timeoutMs;
      timer = setTimeout(onTimeout, timeoutMs * (0.75 + Math.random() * 0.5));
    };
    const deadline = setTimeout(() => finish('deadline', `deadline ${o.deadlineMs} ms`), o.deadlineMs);
    const sendAck = (block: number) => {
      lastAckAt = performance.now();
      send(ack(block), serverPort);
    };

    sock.on('error', (e) => finish('socket', e.message));
    sock.on('message', (msg: Buffer, r: RemoteInfo) => {
      if (finished || msg.length < 4) return;
      if (serverPort === 0) serverPort = r.port;
      else if (r.port !== serverPort) {
        sock.send(errorPacket(5, 'unknown transfer ID'), r.port, host);
        return;
      }
      const op = msg.readUInt16BE(0);
      if (op === 5)
        return finish('server-error', `ERROR ${msg.readUInt16BE(2)} "${msg.subarray(4).toString('latin1')}"`);
      if (op === 6) {
        if (expected !== 1 || bytes > 0) {
          resends++; // a late repeated OACK
          return;
        }
        const oack = parseOack(msg);
        blksize = Number(oack.get('blksize') ?? 512);
        windowsize = Number(oack.get('windowsize') ?? 1);
        const ts = oack.get('tsize');
        if (ts !== undefined) tsize = Number(ts);
        progress();
        sendAck(0);
        arm();
        return;
      }
      if (op !== 3) return;
      const block = msg.readUInt16BE(2);
      if (block !== (expected & 0xffff)) {
        resends++;
        // A gap or a repeated block: ACK the last in-order block so the server resends from there (RFC 7440), but
        // not for every packet of a resent window.
        if (performance.now() - lastAckAt > CLIENT_TIMEOUT_MS / 4) {
          inWindow = 0;
          sendAck(expected - 1);
        }
        return;
      }
      const len = msg.length - 4;
      progress();
      bytes += len;
      hash?.update(msg.subarray(4));
      expected++;
      if (len < blksize) {
        sendAck(expected - 1);
        const want = tsize ?? o.size;
        if (bytes !== want || bytes !== o.size) return finish('size', `got ${bytes} bytes, want ${o.size}`);
        if (hash && hash.digest('hex') !== o.sha256) return finish('content', 'SHA-256 differs');
        return finish();
      }
      if (++inWindow >= windowsize) {
        inWindow = 0;
        sendAck(expected - 1);
      }
      arm();
    });
    sock.bind(0, o.localAddress ?? (host === HOST ? HOST : '0.0.0.0'), () => {
      send(request, o.port);
      arm();
    });
  });
}
