/**
 * Wake-on-LAN: the AMD "Magic Packet" (6 bytes of 0xFF, then the target MAC 16 times) as a UDP broadcast to port 9
 * (discard), sent out of the named interface. The socket is bound to the device (SO_BINDTODEVICE, as the DHCP
 * sockets are) so the broadcast leaves there even on a host with no address or route on that segment.
 * It can only switch a machine on: no state can be read, nothing switched off.
 */
import { existsSync } from 'node:fs';
import { BootherdError } from '../errors.ts';
import { bindThroughLibc, bindToDevice, broadcast, isBound } from '../net/udp-libc.ts';
import type { PowerAction, PowerDriver } from './types.ts';

/** "The Magic Packet may be sent as a broadcast frame ... any protocol": UDP to the discard port is the custom. */
export const WOL_PORT = 9;

/** The magic packet for a MAC (`aa:bb:cc:dd:ee:ff`): 102 bytes. */
export function magicPacket(mac: string): Buffer {
  const bytes = Buffer.from(mac.replace(/[:-]/g, ''), 'hex');
  if (bytes.length !== 6) throw new BootherdError('BAD_MAC', `"${mac}" is not a MAC address`);
  return Buffer.concat([Buffer.alloc(6, 0xff), ...Array.from({ length: 16 }, () => bytes)]);
}

/** Send one magic packet out of `iface`. */
export async function sendMagicPacket(iface: string, mac: string): Promise<void> {
  if (!existsSync(`/sys/class/net/${iface}`))
    throw new BootherdError('POWER_UNREACHABLE', `Wake-on-LAN: no network interface "${iface}" on this host`);
  const packet = magicPacket(mac);
  const made = await bindThroughLibc('0.0.0.0', 0, [broadcast(), bindToDevice(iface)]);
  // EPERM: binding to a device needs CAP_NET_RAW.
  if (!isBound(made))
    throw new BootherdError(
      'POWER_FAILED',
      `Wake-on-LAN on ${iface}: ${made.failed} failed${made.errno ? ` (errno ${made.errno})` : ''}`,
    );
  const { socket } = made;
  try {
    await new Promise<void>((resolve, reject) =>
      socket.send(packet, WOL_PORT, '255.255.255.255', (err) => (err ? reject(err) : resolve())),
    );
  } catch (err) {
    throw new BootherdError('POWER_FAILED', `Wake-on-LAN on ${iface}: ${(err as Error).message}`);
  } finally {
    socket.close();
  }
}

const CANNOT: Record<Exclude<PowerAction, 'on'>, string> = {
  off: 'switch it off',
  cycle: 'power-cycle it (use on; a running machine must be rebooted from its own OS)',
  status: 'read its power state',
};

export function wolDriver(iface: string, mac: string): PowerDriver {
  const unsupported = (action: PowerAction) =>
    action === 'on' ? undefined : `Wake-on-LAN can only switch a machine on; it cannot ${CANNOT[action]}`;
  const refuse = (action: Exclude<PowerAction, 'on'>) => () =>
    Promise.reject(new BootherdError('POWER_UNSUPPORTED', unsupported(action)));
  return {
    method: 'wol',
    on: () => sendMagicPacket(iface, mac),
    off: refuse('off'),
    cycle: refuse('cycle'),
    status: refuse('status'),
    unsupported,
  };
}
