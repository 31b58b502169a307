/**
 * A TFTP read client on node:dgram for the bench: one RRQ with blksize/tsize (and windowsize when asked for more than
 * 1), OACK handling, ACK of the last block of each window (or of the last in-order block on a gap), block-number
 * rollover, and a retransmission after 1 s ±25 % jitter, giving up after CLIENT_RETRIES timeouts in a row without
 * progress. Used where no C client fits: 1,000 fetches at once from one process, and the windowed rows' cross-check.
 */
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';

export const HOST = '127.0.0.1';
export const CLIENT_TIMEOUT_MS = 1000;
const CLIENT_RETRIES = 5;

export interface FetchOptions {
  /** The server; default 127.0.0.1. */
  host?: string;
  /** The client's own address to send from; default the server's route. */
  localAddress?: string;
  port: number;
  file: string;
  size: number;
  blksize: number;
  windowsize: number;
  deadlineMs: number;
  recvBuffer?: number;
}

export interface FetchResult {
  ok: boolean;
  bytes: number;
  ms: number;
  blksize: number;
  windowsize: number;
  retries: number;
  error?: string;
}

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
    const sock: Socket = createSocket({ type: 'udp4', ...(o.recvBuffer ? { recvBufferSize: o.recvBuffer } : {}) });
    const options: [string, string][] = [
      ['blksize', String(o.blksize)],
      ['tsize', '0'],
    ];
    if (o.windowsize > 1) options.push(['windowsize', String(o.windowsize)]);
    const request = rrq(o.file, options);
    let serverPort = 0;
    let blksize = 512;
    let windowsize = 1;
    let tsize: number | undefined;
    /** Next block wanted, counted from 1 without wrapping; the wire carries the low 16 bits. */
    let expected = 1;
    let inWindow = 0;
    let bytes = 0;
    let retries = 0;
    /** Timeouts in a row without progress; a transfer fails after CLIENT_RETRIES of them. */
    let stalls = 0;
    let lastSent: Buffer = request;
    let lastAckAt = 0;
    let finished = false;
    let timer: NodeJS.Timeout | undefined;

    const finish = (ok: boolean, error?: string) => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      clearTimeout(deadline);
      sock.removeAllListeners('message');
      sock.on('error', () => {});
      try {
        sock.close();
      } catch {}
      done({
        ok,
        bytes,
        ms: performance.now() - t0,
        blksize,
        windowsize,
        retries,
        ...(error ? { error } : {}),
      });
    };
    const send = (b: Buffer, port: number) => {
      lastSent = b;
      sock.send(b, port, host);
    };
    // ±25% jitter, as a fleet of real clients has: 1000 fetches started together must not retransmit in lockstep.
    const arm = () => {
      clearTimeout(timer);
      timer = setTimeout(
        () => {
          if (finished) return;
          if (++stalls > CLIENT_RETRIES) return finish(false, 'timeout');
          retries++;
          sock.send(lastSent, serverPort || o.port, host);
          arm();
        },
        CLIENT_TIMEOUT_MS * (0.75 + Math.random() * 0.5),
      );
    };
    const deadline = setTimeout(() => finish(false, 'deadline'), o.deadlineMs);
    const sendAck = (block: number) => {
      lastAckAt = performance.now();
      send(ack(block), serverPort);
    };

    sock.on('error', (e) => finish(false, `socket: ${e.message}`));
    sock.on('message', (msg: Buffer, r: RemoteInfo) => {
      if (finished || msg.length < 4) return;
      if (serverPort === 0) serverPort = r.port;
      else if (r.port !== serverPort) {
        sock.send(errorPacket(5, 'unknown transfer ID'), r.port, host);
        return;
      }
      const op = msg.readUInt16BE(0);
      if (op === 5) return finish(false, `ERROR ${msg.readUInt16BE(2)}: ${msg.subarray(4).toString('latin1')}`);
      if (op === 6) {
        if (expected !== 1 || bytes > 0) return; // a late duplicate OACK
        const oack = parseOack(msg);
        blksize = Number(oack.get('blksize') ?? 512);
        windowsize = Number(oack.get('windowsize') ?? 1);
        const ts = oack.get('tsize');
        if (ts !== undefined) tsize = Number(ts);
        stalls = 0;
        sendAck(0);
        arm();
        return;
      }
      if (op !== 3) return;
      const block = msg.readUInt16BE(2);
      if (block !== (expected & 0xffff)) {
        // A gap or a duplicate: ACK the last in-order block so the server resends from there (RFC 7440), but not for
        // every packet of a resent window.
        if (performance.now() - lastAckAt > CLIENT_TIMEOUT_MS / 4) {
          inWindow = 0;
          sendAck(expected - 1);
        }
        return;
      }
      const len = msg.length - 4;
      stalls = 0;
      bytes += len;
      expected++;
      if (len < blksize) {
        sendAck(expected - 1);
        const want = tsize ?? o.size;
        return bytes === want && bytes === o.size ? finish(true) : finish(false, `got ${bytes} bytes, want ${o.size}`);
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
