/** The DHCP packets of the captured boots (test/fixtures/captures, see /work/shared/clients.md). */
import { join } from 'node:path';
import { readPcapFile, type UdpDatagram } from '../../lib/pcap.ts';

export const CAPTURES_DIR = join(import.meta.dirname, '..', '..', 'fixtures', 'captures');

export const CAPTURES = [
  'bios-ipxe-rom.pcap',
  'uefi-chainload.pcap',
  'uefi-chainload-e1000-menu.pcap',
  'bios-chainload-undionly.pcap',
  'sanboot-iso.pcap',
] as const;

export type Capture = (typeof CAPTURES)[number];

/** Client → server (68 → 67) and server → client (67 → 68) datagrams, in capture order. */
export function dhcpDatagrams(capture: Capture): UdpDatagram[] {
  return readPcapFile(join(CAPTURES_DIR, capture)).filter(
    (d) => (d.sport === 68 && d.dport === 67) || (d.sport === 67 && d.dport === 68),
  );
}

export function clientPackets(capture: Capture): Buffer[] {
  return dhcpDatagrams(capture)
    .filter((d) => d.sport === 68)
    .map((d) => d.payload);
}
