/**
 * A classic BPF interpreter for the socket filters bootherd builds, as Linux runs them on a UDP socket: the packet
 * starts at the UDP header, an out-of-bounds load ends the program with 0 (drop), `ld [SKF_AD_OFF+SKF_AD_RANDOM]`
 * reads a random number. Only the instructions the filters use; anything else throws, so a new one is noticed.
 */
import type { BpfInsn } from '../../src/net/libc.ts';

const RANDOM = 0xfffff000 + 56;

/** What the filter returns for a UDP payload: the bytes kept (0 = dropped). */
export function runFilter(program: readonly BpfInsn[], payload: Buffer, random: () => number = Math.random): number {
  const pkt = Buffer.concat([Buffer.alloc(8), payload]); // the UDP header
  let a = 0;
  let x = 0;
  const load = (at: number, size: 1 | 4): number | undefined =>
    at < 0 || at + size > pkt.length ? undefined : size === 1 ? pkt[at]! : pkt.readUInt32BE(at);
  for (let pc = 0, steps = 0; pc < program.length && steps < 4096; steps++) {
    const { code, jt, jf, k } = program[pc]!;
    pc++;
    const jump = (cond: boolean) => {
      pc += cond ? jt : jf;
    };
    switch (code) {
      case 0x20: {
        if (k === RANDOM) a = Math.floor(random() * 2 ** 32) >>> 0;
        else {
          const v = load(k, 4);
          if (v === undefined) return 0;
          a = v;
        }
        break;
      }
      case 0x30:
      case 0x50: {
        const v = load(code === 0x50 ? x + k : k, 1);
        if (v === undefined) return 0;
        a = v;
        break;
      }
      case 0x80:
        a = pkt.length;
        break;
      case 0x01:
        x = k;
        break;
      case 0x04:
        a = (a + k) >>> 0;
        break;
      case 0x0c:
        a = (a + x) >>> 0;
        break;
      case 0x14:
        a = (a - k) >>> 0;
        break;
      case 0x05:
        pc += k;
        break;
      case 0x15:
        jump(a === k);
        break;
      case 0x35:
        jump(a >= k);
        break;
      case 0x3d:
        jump(a >= x);
        break;
      case 0x07:
        x = a;
        break;
      case 0x87:
        a = x;
        break;
      case 0x06:
        return k;
      default:
        throw new Error(`cBPF opcode 0x${code.toString(16)} not interpreted`);
    }
  }
  throw new Error('cBPF: ran off the end of the program');
}
