/**
 * A DHCP relay agent with many clients behind it, for crash tests: it runs DORA for `count` MACs (a few at a time),
 * retrying each step, and prints `ACK <mac> <ip>` for every DHCPACK it receives; each worker pauses `pauseMs` after
 * a DORA, so the run outlasts a crash the test causes midway however fast the machine is. Run inside a client
 * namespace:
 *   node --import tsx relay-client.ts <giaddr> <server> <count> <macPrefix> [pauseMs]
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { RelayedDhcp } from '../../lib/relayed-dhcp.ts';

const [giaddr = '', server = '', countArg = '100', prefix = '02:10:00', pauseArg = '0'] = process.argv.slice(2);
const count = Number(countArg);
const pauseMs = Number(pauseArg);
const relay = await RelayedDhcp.open(giaddr, server);

let next = 0;
async function worker(): Promise<void> {
  while (next < count) {
    const n = next++;
    const mac = `${prefix}:${((n >> 16) & 255).toString(16).padStart(2, '0')}:${((n >> 8) & 255).toString(16).padStart(2, '0')}:${(n & 255).toString(16).padStart(2, '0')}`;
    const { ack } = await relay.dora(mac, (0x5000_0000 + n) >>> 0, { attempts: 20, timeoutMs: 500 });
    if (ack) process.stdout.write(`ACK ${mac} ${ack.yiaddr}\n`);
    if (pauseMs) await sleep(pauseMs);
  }
}
await Promise.all(Array.from({ length: 8 }, worker));
process.stdout.write('DONE\n');
relay.close();
