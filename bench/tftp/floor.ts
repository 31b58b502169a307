/**
 * BENCH_FLOOR=1: two bare lock-step TFTP servers beside the real ones, to show where the lock-step rows' ceiling is
 * for a design, not for bootherd's code. Both serve one transfer at a time from a file read whole into memory, answer
 * blksize and tsize with an OACK, and do nothing else (no timeouts, retries, stray-sender ERRORs, windows).
 * - `node-loop`: Node's dgram on the event loop, as bootherd's transfers run (a fresh socket, the reply sent from the
 *   'message' callback).
 * - `node-blocking`: the same protocol through blocking libc calls (koffi): recvfrom(2) with a receive timeout and
 *   sendto(2), the shape of a forked C server's loop, with no event loop in between.
 */
import { createSocket } from 'node:dgram';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadUdpLibc } from './libc-udp.ts';

interface Request {
  file: string;
  blksize: number;
  options: string[];
}

/** An RRQ's file name and the options this floor answers (RFC 2348 blksize, RFC 2349 tsize). */
function parseRrq(msg: Buffer): Request | undefined {
  if (msg.readUInt16BE(0) !== 1) return undefined;
  const parts = msg.subarray(2).toString('latin1').split('\0');
  const file = parts[0] ?? '';
  let blksize = 512;
  const options: string[] = [];
  for (let i = 2; i + 1 < parts.length; i += 2) {
    const name = (parts[i] ?? '').toLowerCase();
    if (name === 'blksize') {
      blksize = Math.min(65464, Number(parts[i + 1]));
      options.push('blksize', String(blksize));
    } else if (name === 'tsize') options.push('tsize', '');
  }
  return { file, blksize, options };
}

function oack(options: string[], size: number): Buffer {
  const fields = options.map((v, i) => (options[i - 1] === 'tsize' ? String(size) : v));
  return Buffer.concat([Buffer.from([0, 6]), Buffer.from(`${fields.join('\0')}\0`, 'latin1')]);
}

/** DATA `n` (counted from 1, the wire carries the low 16 bits) into `out`; returns its length. */
function data(out: Buffer, file: Buffer, blksize: number, n: number): number {
  const off = (n - 1) * blksize;
  const end = Math.min(off + blksize, file.length);
  out.writeUInt16BE(3, 0);
  out.writeUInt16BE(n & 0xffff, 2);
  file.copy(out, 4, off, end);
  return 4 + end - off;
}

const isAck = (m: Buffer, n: number) => m.length >= 4 && m.readUInt16BE(0) === 4 && m.readUInt16BE(2) === (n & 0xffff);

function loopServer(port: number, root: string): void {
  const listener = createSocket('udp4');
  listener.on('message', (msg, rinfo) => {
    const rq = parseRrq(msg);
    if (!rq) return;
    const file = readFileSync(join(root, rq.file));
    const blocks = Math.floor(file.length / rq.blksize) + 1;
    const out = Buffer.alloc(4 + rq.blksize);
    const s = createSocket({ type: 'udp4', lookup: (a, _o, cb) => cb(null, a, 4) });
    let n = rq.options.length ? 0 : 1;
    const sendCurrent = () =>
      s.send(
        n === 0 ? oack(rq.options, file.length) : out.subarray(0, data(out, file, rq.blksize, n)),
        rinfo.port,
        rinfo.address,
      );
    s.on('message', (m) => {
      if (!isAck(m, n)) return;
      if (n === blocks) return s.close();
      n++;
      sendCurrent();
    });
    s.bind(0, '127.0.0.1', sendCurrent);
  });
  listener.bind(port, '127.0.0.1');
}

async function blockingServer(port: number, root: string): Promise<void> {
  const { recvfrom, sendto, close, open } = await loadUdpLibc();
  const buf = Buffer.alloc(65536);
  const from = Buffer.alloc(16);
  const fromLen = Buffer.alloc(4);
  const receive = (fd: number) => {
    fromLen.writeUInt32LE(16);
    return recvfrom(fd, buf, buf.length, 0, from, fromLen) as number;
  };
  // A receive blocks until a datagram comes or 5 s pass (the client is gone).
  const listener = open(port, 5);
  for (;;) {
    const k = receive(listener);
    const rq = k > 0 ? parseRrq(buf.subarray(0, k)) : undefined;
    if (!rq) continue;
    const peer = Buffer.from(from);
    const file = readFileSync(join(root, rq.file));
    const blocks = Math.floor(file.length / rq.blksize) + 1;
    const out = Buffer.alloc(4 + rq.blksize);
    const s = open(0, 5);
    const first = rq.options.length ? 0 : 1;
    for (let n = first; n <= blocks; n++) {
      const o = n === 0 ? oack(rq.options, file.length) : out;
      sendto(s, o, n === 0 ? o.length : data(out, file, rq.blksize, n), 0, peer, 16);
      let got = receive(s);
      while (got > 0 && !isAck(buf.subarray(0, got), n)) got = receive(s);
      if (got <= 0) break; // the client went away: this floor does not retransmit
    }
    close(s);
  }
}

export function floorChild(mode: string, port: number, root: string): void {
  if (mode === 'node-loop') loopServer(port, root);
  else
    blockingServer(port, root).catch((err: Error) => {
      console.error(`floor: ${err.message}`);
      process.exit(1);
    });
}
