/**
 * Admission of new DHCPv4 exchanges under overload, in the kernel. Every datagram bootherd reads costs it a few
 * microseconds before it can even be shed (the read, a buffer, a callback, the drop's count): under a DISCOVER flood
 * that reading alone took the CPU the REQUESTs needed (bench/dhcp: 67,000 of 85,000 DISCOVERs shed in 5 s, the rate
 * 0.6-0.7 of the peak). So once the intake has to shed DISCOVERs, a classic BPF socket filter (socket(7)
 * SO_ATTACH_FILTER) lets only a fraction of new DISCOVERs through, chosen at random by the kernel, and the rest never
 * wake the server; every other datagram (REQUESTs, malformed ones, which bootherd counts) passes. The fraction
 * follows what the server managed to serve and is lifted again when the flood is over.
 */
import type { BpfInsn } from '../net/libc.ts';

// linux/filter.h and linux/bpf_common.h
const LD_W_ABS = 0x20;
const LD_B_ABS = 0x30;
const LD_B_IND = 0x50;
const LD_W_LEN = 0x80;
const LDX_IMM = 0x01;
const ADD_K = 0x04;
const ADD_X = 0x0c;
const SUB_K = 0x14;
const JA = 0x05;
const JEQ_K = 0x15;
const JGE_K = 0x35;
const JGE_X = 0x3d;
const RET_K = 0x06;
const TAX = 0x07;
const TXA = 0x87;
/** SKF_AD_OFF + SKF_AD_RANDOM: a load from here reads a random 32-bit number (prandom_u32). */
const RANDOM = 0xfffff000 + 56;

/** On a UDP socket the filter sees the datagram from its UDP header: the BOOTP message starts at 8. */
const BOOTP = 8;
/** RFC 2131 §3: the options field starts with the magic cookie 99.130.83.99, after the 236 fixed octets. */
const COOKIE = BOOTP + 236;
const OPTIONS = COOKIE + 4;
/** Options looked at before option 53 is given up on (clients put it first; RFC 2131 §4.1 does not require it). */
const OPTIONS_SCANNED = 6;

type Step = { op: number; k?: number; jt?: string; jf?: string; to?: string } | { label: string };

/** Resolves labels to the forward offsets cBPF jumps take (relative to the next instruction). */
function assemble(steps: Step[]): BpfInsn[] {
  const at = new Map<string, number>();
  let n = 0;
  for (const s of steps)
    if ('label' in s) at.set(s.label, n);
    else n++;
  const out: BpfInsn[] = [];
  const offset = (label: string | undefined): number => {
    if (label === undefined) return 0;
    const d = (at.get(label) ?? Number.NaN) - out.length - 1;
    if (!(d >= 0 && d <= 255)) throw new Error(`cBPF: jump to ${label} out of range`);
    return d;
  };
  for (const s of steps) {
    if ('label' in s) continue;
    const jt = offset(s.jt);
    const jf = offset(s.jf);
    out.push({ code: s.op, jt, jf, k: s.op === JA ? offset(s.to) : (s.k ?? 0) >>> 0 });
  }
  return out;
}

/**
 * The filter that lets `fraction` (0..1) of DHCPDISCOVERs through and every other datagram: anything too short, not
 * a BOOTREQUEST, without the magic cookie or whose option 53 is not among the first options passes, for the server
 * to answer or to count as malformed.
 */
export function discoverFilter(fraction: number): BpfInsn[] {
  const threshold = Math.min(2 ** 32 - 1, Math.max(0, Math.floor(fraction * 2 ** 32)));
  const steps: Step[] = [
    { op: LD_W_LEN },
    { op: JGE_K, k: OPTIONS + 3, jt: 'cookie', jf: 'accept' },
    { label: 'cookie' },
    { op: LD_W_ABS, k: COOKIE },
    { op: JEQ_K, k: 0x63825363, jt: 'op', jf: 'accept' },
    { label: 'op' },
    { op: LD_B_ABS, k: BOOTP },
    { op: JEQ_K, k: 1, jt: 'scan', jf: 'accept' },
    { label: 'scan' },
    { op: LDX_IMM, k: OPTIONS },
  ];
  // X is the offset of the option looked at; each one is read only when its code, length and first value octet
  // lie inside the datagram (an out-of-bounds load would make the kernel drop it uncounted).
  for (let i = 0; i < OPTIONS_SCANNED; i++) {
    const next = `option${i + 1}`;
    steps.push(
      { label: `option${i}` },
      { op: LD_W_LEN },
      { op: SUB_K, k: 3 },
      { op: JGE_X, jt: `read${i}`, jf: 'accept' },
      { label: `read${i}` },
      { op: LD_B_IND, k: 0 },
      { op: JEQ_K, k: 53, jt: 'found', jf: `notType${i}` },
      { label: `notType${i}` },
      // Pad (0) is one octet; End (255) ends the options.
      { op: JEQ_K, k: 0, jt: `pad${i}`, jf: `notPad${i}` },
      { label: `pad${i}` },
      { op: TXA },
      { op: ADD_K, k: 1 },
      { op: TAX },
      { op: JA, to: next },
      { label: `notPad${i}` },
      { op: JEQ_K, k: 255, jt: 'accept', jf: `skip${i}` },
      { label: `skip${i}` },
      { op: LD_B_IND, k: 1 },
      { op: ADD_X },
      { op: ADD_K, k: 2 },
      { op: TAX },
    );
  }
  steps.push(
    { label: `option${OPTIONS_SCANNED}` },
    { op: JA, to: 'accept' },
    { label: 'found' },
    { op: LD_B_IND, k: 2 },
    { op: JEQ_K, k: 1, jt: 'discover', jf: 'accept' },
    { label: 'discover' },
    { op: LD_W_ABS, k: RANDOM },
    { op: JGE_K, k: threshold, jt: 'drop', jf: 'accept' },
    { label: 'accept' },
    { op: RET_K, k: 0xffffffff },
    { label: 'drop' },
    { op: RET_K, k: 0 },
  );
  return assemble(steps);
}

/** Below this the filter admits no less: a new client must still get through, if slowly. */
const MIN_FRACTION = 0.01;

/** What the intake did with DISCOVERs since the last step. */
export interface DiscoverTick {
  /** Let through by the kernel and read. */
  received: number;
  /** Taken from the queue and handled. */
  served: number;
  /** Waiting at the end of the step. */
  queued: number;
  /** Shed by the intake (queue full, or waited too long). */
  shed: number;
}

/**
 * The admitted fraction, stepped every tick. Overloaded (the intake shed DISCOVERs, or more than half a tick's work is
 * waiting): the kernel should let through what the server served, a little less so the queue drains — the arrivals
 * are what it received over the fraction admitted. Otherwise up by a quarter a step, back to everything once near it.
 * Sheds are not the measure: the queue sheds what it held from before the cut for a while after it.
 */
export class DiscoverAdmission {
  fraction = 1;

  /** The new fraction, if it changed. */
  step(t: DiscoverTick): number | undefined {
    let next = this.fraction;
    const overloaded = t.shed > 0 || t.queued > t.served / 2 + 16;
    if (overloaded && t.received > 0) next = Math.max(MIN_FRACTION, ((this.fraction * t.served) / t.received) * 0.9);
    else if (!overloaded && this.fraction < 1) next = this.fraction * 1.25 >= 0.95 ? 1 : this.fraction * 1.25;
    next = Math.min(1, Math.round(next * 1000) / 1000);
    if (next === this.fraction) return undefined;
    this.fraction = next;
    return next;
  }
}
