/**
 * ReadTransfer's hot path on real loopback sockets, driven packet by packet by a raw client: the ACK fast path, block
 * reads across chunks, duplicate ACKs (Sorcerer's Apprentice), RFC 7440 partial-window ACKs, block-number rollover,
 * segmented window sends and the refreshed retransmission timer. No timing is asserted: a test waits for packets.
 */
import assert from 'node:assert/strict';
import { randomFillSync } from 'node:crypto';
import { createSocket, type Socket } from 'node:dgram';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { BlockReader } from '../../../src/tftp/blocks.ts';
import { FileStore } from '../../../src/tftp/files.ts';
import { ackBlock, decodePacket, encodeAck, encodeRequest, Opcode } from '../../../src/tftp/packet.ts';
import { startTftpServer, type TftpServer } from '../../../src/tftp/server.ts';

const HOST = '127.0.0.1';
let dir: string;
/** Retransmits after 50 ms, 3 times: for the timeout test. */
let fast: TftpServer;
/** Retransmits only after 5 s: tests that assert the next packet must not see a timeout's resend first. */
let patient: TftpServer;
const small = randomFillSync(Buffer.alloc(5 * 512 + 100));
/** Past 65535 blocks of 512 and past the 8 MiB cache limit: read through the file handle, block numbers wrap. */
const big = randomFillSync(Buffer.alloc(65_600 * 512 + 7));

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'bh-tftp-transfer-'));
  writeFileSync(join(dir, 'small.bin'), small);
  writeFileSync(join(dir, 'big.bin'), big);
  fast = await startTftpServer({ host: HOST, port: 0, roots: [dir], timeoutMs: 50, retries: 3 });
  patient = await startTftpServer({ host: HOST, port: 0, roots: [dir], timeoutMs: 5000 });
});
after(async () => {
  await fast?.close();
  await patient?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** A raw client: sends what the test says, hands out datagrams in arrival order. */
class Client {
  readonly sock: Socket = createSocket({ type: 'udp4', recvBufferSize: 4 << 20 });
  readonly #server: TftpServer;
  readonly #queue: Buffer[] = [];
  #waiter: ((b: Buffer) => void) | undefined;
  port = 0;

  constructor(server: TftpServer) {
    this.#server = server;
  }

  async open(file: string, options: Record<string, string> = {}): Promise<void> {
    this.sock.on('message', (m, r) => {
      this.port = r.port;
      const w = this.#waiter;
      this.#waiter = undefined;
      if (w) w(m);
      else this.#queue.push(m);
    });
    await new Promise<void>((r) => this.sock.bind(0, HOST, r));
    this.sock.send(
      encodeRequest({ op: Opcode.RRQ, filename: file, mode: 'octet', options: new Map(Object.entries(options)) }),
      this.#server.port,
      HOST,
    );
  }
  next(): Promise<Buffer> {
    const m = this.#queue.shift();
    return m ? Promise.resolve(m) : new Promise((r) => (this.#waiter = r));
  }
  /** The next datagram, which must be DATA: its block number and payload. */
  async data(): Promise<{ block: number; data: Buffer }> {
    const r = decodePacket(await this.next());
    assert.ok(r.ok && r.packet.op === Opcode.DATA, `expected DATA, got ${JSON.stringify(r)}`);
    return { block: r.packet.block, data: r.packet.data };
  }
  ack(block: number): void {
    this.sock.send(encodeAck(block), this.port, HOST);
  }
  close(): void {
    this.sock.close();
  }
}

describe('ACK fast path', () => {
  test('ackBlock agrees with decodePacket on golden bytes', () => {
    const golden = [
      [0, 4, 0, 0],
      [0, 4, 0, 1],
      [0, 4, 0xff, 0xff],
      [0, 4, 0x12, 0x34, 0, 0, 0, 0], // link-layer padding after the block number
      [0, 4, 0],
      [0, 3, 0, 1, 9],
      [0, 5, 0, 1, 0x61, 0],
      [1, 4, 0, 1],
      [0, 1, 0x61, 0, 0x6f, 0x63, 0x74, 0x65, 0x74, 0],
      [],
    ];
    for (const bytes of golden) {
      const r = decodePacket(Buffer.from(bytes));
      const want = r.ok && r.packet.op === Opcode.ACK ? r.packet.block : -1;
      assert.equal(ackBlock(Buffer.from(bytes)), want, JSON.stringify(bytes));
    }
  });
});

describe('BlockReader', () => {
  test('copies every block through chunk changes, prefetched or loaded, byte-exact', async () => {
    const store = new FileStore({ roots: [dir] });
    const opened = await store.open('big.bin', { address: HOST, port: 1 });
    assert.ok(opened.ok && opened.file.data === undefined, 'big.bin must be read through its handle');
    const bs = 1468;
    const reader = new BlockReader(opened.file, bs, 4);
    const out = Buffer.alloc(big.length);
    const blocks = Math.floor(big.length / bs) + 1;
    let loads = 0;
    for (let b = 1; b <= blocks; b++) {
      let n = reader.copy(b, out, (b - 1) * bs);
      if (n < 0) {
        loads++;
        await reader.load(b);
        n = reader.copy(b, out, (b - 1) * bs);
      }
      assert.equal(n, Math.min(bs, big.length - (b - 1) * bs), `block ${b}`);
      // Give a read ahead the chance to land, as the ACK round trip does.
      if (b % 50 === 0) await new Promise((r) => setImmediate(r));
    }
    assert.ok(out.equals(big));
    assert.ok(loads < blocks / 50, `${loads} loads: reading ahead should serve most chunks`);
    await opened.file.close();
  });
});

describe('transfer', () => {
  test('a duplicate ACK sends nothing; the next ACK gets the next block', async () => {
    const c = new Client(patient);
    await c.open('small.bin');
    assert.equal((await c.data()).block, 1);
    c.ack(1);
    assert.equal((await c.data()).block, 2);
    c.ack(1); // a delayed duplicate: Sorcerer's Apprentice must not resend block 2
    c.ack(2);
    assert.equal((await c.data()).block, 3, 'the duplicate ACK caused a resend');
    c.close();
  });

  test('no ACK: the same block comes again after each timeout, window after window, then ERROR', async () => {
    const c = new Client(fast);
    await c.open('small.bin');
    assert.equal((await c.data()).block, 1);
    assert.equal((await c.data()).block, 1, 'block 1 retransmitted');
    c.ack(1);
    let d = await c.data();
    while (d.block === 1) d = await c.data(); // retransmissions that crossed the ACK
    assert.equal(d.block, 2);
    assert.equal((await c.data()).block, 2, 'the refreshed timer retransmits block 2');
    let m = await c.next();
    while (m[1] === Opcode.DATA) m = await c.next();
    const r = decodePacket(m);
    assert.ok(r.ok && r.packet.op === Opcode.ERROR, 'the transfer ends with ERROR after its retries');
    c.close();
  });

  test('RFC 7440: an ACK inside the window resends from the block after it', async () => {
    const c = new Client(patient);
    await c.open('small.bin', { windowsize: '4' });
    const oack = decodePacket(await c.next());
    assert.ok(oack.ok && oack.packet.op === Opcode.OACK);
    c.ack(0);
    assert.deepEqual(
      [(await c.data()).block, (await c.data()).block, (await c.data()).block, (await c.data()).block],
      [1, 2, 3, 4],
    );
    c.ack(2);
    assert.deepEqual([(await c.data()).block, (await c.data()).block], [3, 4]);
    c.close();
  });

  test('windowsize 16 past block 65535: segmented windows, rollover to 0, byte-exact', async () => {
    const c = new Client(patient);
    await c.open('big.bin', { windowsize: '16', blksize: '512' });
    const oack = decodePacket(await c.next());
    assert.ok(oack.ok && oack.packet.op === Opcode.OACK);
    c.ack(0);
    const parts: Buffer[] = [];
    let expected = 1;
    for (;;) {
      const d = await c.data();
      if (d.block !== (expected & 0xffff)) {
        // A lost datagram (the socket buffer overflowed): ask for the rest from the last good block.
        c.ack((expected - 1) & 0xffff);
        continue;
      }
      parts.push(d.data);
      expected++;
      if (d.data.length < 512) {
        c.ack(d.block);
        break;
      }
      if ((expected - 1) % 16 === 0) c.ack(d.block);
    }
    assert.ok(expected - 1 > 0xffff, 'the block number wrapped');
    assert.ok(Buffer.concat(parts).equals(big));
    c.close();
  });
});
