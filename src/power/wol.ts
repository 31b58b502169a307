/**
 * Wake-on-LAN: the AMD "Magic Packet" (6 bytes of 0xFF, then the target MAC 16 times) as a UDP broadcast to port 9
 * (discard), sent out of the named interface. The socket is bound to the device (SO_BINDTODEVICE, as the DHCP
 * sockets are) so the broadcast leaves there even on a host with no address or route on that segment.
 * It can only switch a machine on: no state can be read, nothing switched off.
 */
import { createSocket } from 'node:dgram';
import { existsSync } from 'node:fs';
import { BootherdError } from '../errors.ts';
import { loadLibc, SO_BINDTODEVICE, SOL_SOCKET } from '../net/libc.ts';
import type { PowerAction, PowerDriver } from './types.ts';

const AF_INET = 2;
const SOCK_DGRAM = 2;
const SO_BROADCAST = 6;
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
  const c = await loadLibc();
  if (!c) throw new BootherdError('POWER_FAILED', 'Wake-on-LAN needs libc through koffi (Linux) to bind to a device');
  const fd = c.socket(AF_INET, SOCK_DGRAM, 0);
  if (fd < 0) throw new BootherdError('POWER_FAILED', `Wake-on-LAN: socket(): errno ${c.errno()}`);
  const one = Buffer.alloc(4);
  one.writeInt32LE(1);
  const dev = Buffer.from(`${iface}\0`);
  for (const [what, step] of [
    ['SO_BROADCAST', () => c.setsockopt(fd, SOL_SOCKET, SO_BROADCAST, one, 4)],
    ['SO_BINDTODEVICE', () => c.setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, dev, dev.length)],
  ] as const) {
    if (step() !== 0) {
      const errno = c.errno();
      c.close(fd);
      // EPERM: binding to a device needs CAP_NET_RAW.
      throw new BootherdError('POWER_FAILED', `Wake-on-LAN: ${what} on ${iface}: errno ${errno}`);
    }
  }
  const socket = createSocket('udp4');
  try {
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind({ fd }, () => resolve());
    });
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
