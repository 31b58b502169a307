/**
 * The one boot policy on DHCPv6 facts (as dhcp6/facts.ts makes them from the captured messages): the firmware gets
 * the binary, iPXE the script; iPXE sends no option 175 over DHCPv6, so only default features can be assumed.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { type BootPolicyConfig, decideDhcp, type InventoryView } from '../../../src/boot/decide.ts';
import { factsFromMessage } from '../../../src/dhcp6/facts.ts';
import { decodeMessage, Msg } from '../../../src/dhcp6/packet.ts';
import { CAPTURES_DIR } from '../dhcp/fixtures.ts';
import { readPcap6 } from './pcap6.ts';

const config: BootPolicyConfig = {
  baseUrl: 'http://[2001:db8::1]:8080',
  requiredFeatures: ['http'],
  bootFiles: { bios: 'undionly.kpxe', 'x64-uefi': 'snponly.efi' },
  unknown: { action: 'menu' },
  menu: { timeout: 10, default: 'local' },
};
const inv: InventoryView = { groups: [], profiles: new Map() };

function solicitFacts(file: string) {
  const d = readPcap6(join(CAPTURES_DIR, file)).find((x) => x.payload[0] === Msg.Solicit)!;
  const r = decodeMessage(d.payload);
  assert.ok(r.ok);
  return factsFromMessage(r.message, '52:54:00:e2:e6:01', 'br0');
}

describe('decideDhcp on DHCPv6 facts', () => {
  it('OVMF PXEv6 (arch 7): the x64 UEFI binary over TFTP', () => {
    const d = decideDhcp(solicitFacts('dhcpv6-ovmf-pxe-solicit.pcap'), inv, config);
    assert.deepEqual(d, { kind: 'ipxe-binary', file: 'snponly.efi', transport: 'tftp', reason: 'firmware PXE' });
  });

  it('OVMF HTTPv6 (arch 16): the binary by URL under the bracketed base URL', () => {
    const d = decideDhcp(solicitFacts('dhcpv6-ovmf-http.pcap'), inv, config);
    assert.equal(d.kind === 'ipxe-binary' && d.file, 'http://[2001:db8::1]:8080/ipxe-bin/snponly.efi');
  });

  it('iPXE over DHCPv6: the script when only default features are required, else the binary again', () => {
    const facts = solicitFacts('dhcpv6-ipxe.pcap');
    assert.equal(facts.ipxeFeatures, undefined);
    assert.deepEqual(decideDhcp(facts, inv, config), {
      kind: 'script',
      url: 'http://[2001:db8::1]:8080/boot.ipxe',
      reason: 'capable iPXE',
    });
    const strict = decideDhcp(facts, inv, { ...config, requiredFeatures: ['http', 'https'], loopGuard: false });
    assert.equal(strict.kind, 'ipxe-binary');
  });
});
