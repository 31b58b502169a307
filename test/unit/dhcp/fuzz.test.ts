/**
 * Random and mutated packets: decodePacket never throws, a decoded packet re-encodes (or gives a typed error) and
 * decodes back to itself, and memory stays bounded. FUZZ_COUNT (default 100000) and FUZZ_SEED choose the run.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { encodePacket } from '../../../src/dhcp/encode.ts';
import { type DhcpPacket, decodePacket } from '../../../src/dhcp/packet.ts';
import { seededRandom } from '../../lib/random.ts';
import { CAPTURES, dhcpDatagrams } from './fixtures.ts';

const COUNT = Number(process.env.FUZZ_COUNT ?? 100_000);
const SEED = Number(process.env.FUZZ_SEED ?? 0xb007);

const SEEDS: Buffer[] = CAPTURES.flatMap((c) => dhcpDatagrams(c).map((d) => d.payload));

function mutate(rand: () => number): Buffer {
  const int = (n: number): number => Math.floor(rand() * n);
  const byte = (): number => int(256);
  const base = SEEDS[int(SEEDS.length)]!;
  let b = Buffer.from(base);
  const rounds = 1 + int(4);
  for (let r = 0; r < rounds; r++) {
    switch (int(8)) {
      case 0: // flip bytes anywhere
        for (let k = 1 + int(8); k > 0; k--) b[int(b.length)] = byte();
        break;
      case 1: {
        // flip bytes in the options
        if (b.length > 240) for (let k = 1 + int(4); k > 0; k--) b[240 + int(b.length - 240)] = byte();
        break;
      }
      case 2: {
        // rewrite one option's length octet
        let i = 240;
        const target = int(12);
        for (let n = 0; i + 1 < b.length && b[i] !== 255 && n < target; n++) i += b[i] === 0 ? 1 : 2 + b[i + 1]!;
        if (i + 1 < b.length) b[i + 1] = int(3) === 0 ? 0 : byte();
        break;
      }
      case 3: // truncate
        b = b.subarray(0, int(b.length + 1));
        break;
      case 4: // append random octets
        b = Buffer.concat([b, Buffer.from(Array.from({ length: int(300) }, byte))]);
        break;
      case 5: {
        // overload: 52 at the start of the options, junk or options in file/sname
        if (b.length >= 240) {
          b = Buffer.concat([b.subarray(0, 240), Buffer.from([52, 1, int(5)]), b.subarray(240)]);
          for (let k = int(40); k > 0; k--) b[44 + int(192)] = byte();
        }
        break;
      }
      case 6: {
        // duplicate a slice of the options (repeated instances, RFC 3396 concatenation)
        if (b.length > 250) {
          const from = 240 + int(b.length - 240);
          const slice = b.subarray(from, from + int(40));
          const at = 240 + int(b.length - 240);
          b = Buffer.concat([b.subarray(0, at), slice, b.subarray(at)]);
        }
        break;
      }
      default: {
        // an encapsulated option with random content
        const code = [43, 82, 175, 119, 77, 97, 55][int(7)]!;
        const data = Array.from({ length: int(40) }, byte);
        if (b.length >= 240)
          b = Buffer.concat([b.subarray(0, 240), Buffer.from([code, data.length, ...data]), b.subarray(240)]);
      }
    }
  }
  return b;
}

function random(rand: () => number): Buffer {
  const len = Math.floor(rand() * 700);
  const b = Buffer.from(Array.from({ length: len }, () => Math.floor(rand() * 256)));
  // Half of them get a plausible header so the option parser sees them.
  if (rand() < 0.5 && len >= 240) {
    b[0] = 1 + Math.floor(rand() * 2);
    b[2] = 6;
    b.writeUInt32BE(0x63825363, 236);
  }
  return b;
}

/** What survives re-encoding: not the overload layout (the encoder redoes it) nor where 52 sat. */
function comparable(p: DhcpPacket): unknown {
  const { overload: _, ...options } = p.options;
  return { ...p, options, optionOrder: p.optionOrder?.filter((c) => c !== 52) };
}

test(`fuzz: ${COUNT} random and mutated packets (seed ${SEED})`, (t) => {
  const rand = seededRandom(SEED);
  const outcomes = new Map<string, number>();
  let heapAtTenth = 0;
  for (let n = 0; n < COUNT; n++) {
    const input = n % 4 === 0 ? random(rand) : mutate(rand);
    let r: ReturnType<typeof decodePacket>;
    try {
      r = decodePacket(input);
    } catch (e) {
      assert.fail(`decodePacket threw on ${input.toString('hex')}: ${(e as Error).stack}`);
    }
    const key = r.ok ? 'ok' : r.error.code;
    outcomes.set(key, (outcomes.get(key) ?? 0) + 1);
    if (r.ok) {
      const e = encodePacket(r.packet, { maxMessageSize: 1500 });
      const encKey = e.ok ? 're-encoded' : `encode ${e.error.code}`;
      outcomes.set(encKey, (outcomes.get(encKey) ?? 0) + 1);
      if (e.ok) {
        const again = decodePacket(e.buffer);
        assert.ok(again.ok, `re-encoded packet does not decode: ${input.toString('hex')}`);
        assert.deepEqual(comparable(again.packet), comparable(r.packet), `round trip of ${input.toString('hex')}`);
      }
    }
    if (n === Math.floor(COUNT / 10)) heapAtTenth = process.memoryUsage().heapUsed;
  }
  t.diagnostic(JSON.stringify(Object.fromEntries(outcomes)));
  // Nothing is retained between packets: heap growth after the first tenth stays small.
  const growth = process.memoryUsage().heapUsed - heapAtTenth;
  assert.ok(growth < 64 * 1024 * 1024, `heap grew by ${growth} octets`);
  // The mutations must reach deep: many packets decode, and several distinct errors are hit.
  assert.ok((outcomes.get('re-encoded') ?? 0) > COUNT / 20, JSON.stringify([...outcomes]));
  for (const code of ['TRUNCATED_HEADER', 'BAD_COOKIE', 'OPTION_OVERRUN', 'BAD_LENGTH', 'BAD_OVERLOAD']) {
    assert.ok(outcomes.has(code), `no input hit ${code}: ${JSON.stringify([...outcomes])}`);
  }
});

test('a 64 KiB datagram of option instances decodes quickly', () => {
  const b = Buffer.alloc(65507);
  Buffer.from([1, 1, 6]).copy(b);
  b.writeUInt32BE(0x63825363, 236);
  // 254-octet instances of one unknown option: RFC 3396 concatenation over ~250 pieces.
  for (let i = 240; i + 256 <= b.length; i += 256) {
    b[i] = 224;
    b[i + 1] = 254;
  }
  const t0 = performance.now();
  const r = decodePacket(b);
  assert.ok(performance.now() - t0 < 200);
  assert.ok(r.ok);
  assert.equal(r.ok && r.packet.options.raw?.get(224)?.length, 254 * Math.floor((b.length - 240) / 256));
});
