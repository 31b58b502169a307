/** The kernel's admission filter for new DHCPv4 exchanges (dhcp/admission.ts): which datagrams it lets through. */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { DiscoverAdmission, discoverFilter } from '../../../src/dhcp/admission.ts';
import { MessageType } from '../../../src/dhcp/option-types.ts';
import { runFilter } from '../../lib/cbpf.ts';
import { v4Datagram } from '../../lib/dhcp-datagram.ts';
import { readPcapFile } from '../../lib/pcap.ts';
import { CAPTURES_DIR } from './fixtures.ts';

const NONE = discoverFilter(0);
const passes = (payload: Buffer, program = NONE) => runFilter(program, payload) > 0;

/** Client messages of real firmware (SeaBIOS's iPXE ROM, OVMF, undionly, iPXE) from the captures. */
function captured(): { type: number; payload: Buffer }[] {
  const out: { type: number; payload: Buffer }[] = [];
  for (const f of ['bios-ipxe-rom', 'uefi-chainload', 'bios-chainload-undionly', 'uefi-chainload-e1000-menu']) {
    for (const d of readPcapFile(join(CAPTURES_DIR, `${f}.pcap`))) {
      if (d.dport !== 67 || d.payload[0] !== 1) continue;
      // Option 53's value, found the long way.
      for (let i = 240; i + 2 < d.payload.length && d.payload[i] !== 255; ) {
        if (d.payload[i] === 0) i++;
        else if (d.payload[i] === 53) {
          out.push({ type: d.payload[i + 2]!, payload: d.payload });
          break;
        } else i += 2 + d.payload[i + 1]!;
      }
    }
  }
  return out;
}

describe('DISCOVER admission filter', () => {
  it('holds back DISCOVERs of real firmware at 0 % and lets every other message of theirs through', () => {
    const msgs = captured();
    const discovers = msgs.filter((m) => m.type === MessageType.Discover);
    const others = msgs.filter((m) => m.type !== MessageType.Discover);
    assert.ok(discovers.length >= 4 && others.some((m) => m.type === MessageType.Request), 'captures hold both');
    for (const m of discovers) assert.equal(passes(m.payload), false);
    for (const m of others) assert.equal(passes(m.payload), true, `message type ${m.type}`);
    // Control: at 100 % the same DISCOVERs pass.
    for (const m of discovers) assert.equal(passes(m.payload, discoverFilter(1)), true);
  });

  it('finds option 53 behind pads and other options, and lets through what it cannot read', () => {
    const head = v4Datagram({ messageType: MessageType.Discover }).msg.subarray(0, 240);
    const pxe = Buffer.from('PXEClient');
    const late = Buffer.concat([head, Buffer.from([12, 1, 104, 60, pxe.length]), pxe, Buffer.from([53, 1, 1, 255])]);
    assert.equal(passes(late), false);
    const padded = Buffer.concat([head, Buffer.alloc(3), late.subarray(240)]);
    assert.equal(passes(padded), false);
    // Past the options it looks at, it lets the DISCOVER through rather than guess.
    const far = Buffer.concat([
      head,
      Buffer.from([12, 1, 104, 12, 1, 104, 12, 1, 104, 12, 1, 104, 12, 1, 104, 12, 1, 104, 53, 1, 1, 255]),
    ]);
    assert.equal(passes(far), true);
    const request = v4Datagram({ messageType: MessageType.Request }).msg;
    assert.equal(passes(request), true);
    // Malformed datagrams reach bootherd, which counts them: truncated ones, a bad cookie, a BOOTREPLY, none at all.
    const discover = v4Datagram({ messageType: MessageType.Discover }).msg;
    assert.equal(passes(discover), false);
    // (Cut after its option 53, a datagram is held back as the DISCOVER it says it is.)
    for (let n = 0; n < 243; n += 3) assert.equal(passes(discover.subarray(0, n)), true, `${n} octets`);
    const cookie = Buffer.from(discover);
    cookie[236] = 0;
    assert.equal(passes(cookie), true);
    const reply = Buffer.from(discover);
    reply[0] = 2;
    assert.equal(passes(reply), true);
    // An option running past the end is never read past it.
    const long = Buffer.concat([discover.subarray(0, 240), Buffer.from([12, 200, 1])]);
    assert.equal(passes(long), true);
  });

  it('admits about the fraction it is given', () => {
    const discover = v4Datagram({ messageType: MessageType.Discover }).msg;
    const program = discoverFilter(0.25);
    let seed = 7;
    const random = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    let passed = 0;
    for (let i = 0; i < 4000; i++) if (runFilter(program, discover, random) > 0) passed++;
    assert.ok(passed > 900 && passed < 1100, `${passed} of 4000`);
  });
});

describe('DISCOVER admission controller', () => {
  it('lets through what the server serves when it falls behind, climbs back when it keeps up', () => {
    const a = new DiscoverAdmission();
    assert.equal(a.step({ received: 1000, served: 1000, queued: 0, shed: 0 }), undefined, 'keeping up');
    assert.equal(a.step({ received: 1000, served: 990, queued: 10, shed: 0 }), undefined, 'a short queue is normal');
    // 4,000 arrive a tick, 400 are served: a tenth, a little less.
    assert.equal(a.step({ received: 4000, served: 400, queued: 2000, shed: 1600 }), 0.09);
    // The old queue still sheds after the cut, but what arrives now is what is served: no further cut.
    assert.equal(a.step({ received: 360, served: 400, queued: 1000, shed: 600 }), undefined);
    assert.equal(a.fraction, 0.09);
    // Kept up: up a quarter a step, to everything once near it.
    const path = [a.fraction];
    for (let i = 0; i < 20 && a.fraction < 1; i++)
      path.push(a.step({ received: 300, served: 300, queued: 0, shed: 0 }) ?? a.fraction);
    assert.equal(a.fraction, 1, `back to everything: ${path.join(' → ')}`);
    assert.ok(path.length <= 13, path.join(' → '));
    // Never below 1 %: a new client still gets in.
    for (let i = 0; i < 20; i++) a.step({ received: 100_000, served: 0, queued: 2048, shed: 100_000 });
    assert.equal(a.fraction, 0.01);
  });
});
