/**
 * A private test network: a namespace with a bridge (the "switch") holding the server address, and tap devices for
 * VMs to plug into. Only documentation addresses, only inside the namespace; `destroy()` removes all of it.
 */
import { execFileSync } from 'node:child_process';

export interface TestNet {
  ns: string;
  bridge: string;
  serverIp: string;
  /** A tap device on the bridge for one VM. */
  addTap(name: string, opts?: { bridged?: boolean }): string;
  /**
   * A client host: its own namespace, joined to the bridge by a veth pair, with `eth0` up and no address.
   * Returns the argv prefix that runs a command there.
   */
  addClient(name: string, mac: string): string[];
  /**
   * A router/relay host: a client with the given addresses (CIDR) on its eth0, the first on the server's network, and
   * a route from the server's namespace to `behind` through it. Returns the argv prefix that runs a command there.
   */
  addRelay(name: string, mac: string, addresses: string[], behind: string): string[];
  /** argv prefix that runs a command inside the namespace. */
  exec: string[];
  destroy(): void;
}

const ip = (...args: string[]) => execFileSync('ip', args, { stdio: ['ignore', 'pipe', 'pipe'] }).toString();

export function createTestNet(opts: { serverIp?: string; prefix?: number } = {}): TestNet {
  if (process.getuid?.() !== 0) throw new Error('the end-to-end tests need root (network namespaces, tap devices)');
  const ns = `bh-e2e-${process.pid}-${Math.floor(Math.random() * 1e6)}`;
  const serverIp = opts.serverIp ?? '192.0.2.1';
  const inNs = (...args: string[]) => ip('-n', ns, ...args);
  const clients: string[] = [];
  ip('netns', 'add', ns);
  try {
    inNs('link', 'set', 'lo', 'up');
    inNs('link', 'add', 'br0', 'type', 'bridge');
    inNs('addr', 'add', `${serverIp}/${opts.prefix ?? 24}`, 'dev', 'br0');
    inNs('link', 'set', 'br0', 'up');
  } catch (err) {
    ip('netns', 'del', ns);
    throw err;
  }
  return {
    ns,
    bridge: 'br0',
    serverIp,
    exec: ['ip', 'netns', 'exec', ns],
    addTap(name: string, opts: { bridged?: boolean } = {}) {
      inNs('tuntap', 'add', 'dev', name, 'mode', 'tap');
      // An unbridged tap is a dead network: whatever the VM sends there reaches nobody.
      if (opts.bridged !== false) inNs('link', 'set', name, 'master', 'br0');
      inNs('link', 'set', name, 'up');
      return name;
    },
    addClient(name: string, mac: string) {
      const cns = `${ns}-${name}`;
      ip('netns', 'add', cns);
      clients.push(cns);
      inNs('link', 'add', `v-${name}`, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', cns);
      inNs('link', 'set', `v-${name}`, 'master', 'br0');
      inNs('link', 'set', `v-${name}`, 'up');
      ip('-n', cns, 'link', 'set', 'lo', 'up');
      ip('-n', cns, 'link', 'set', 'eth0', 'address', mac);
      ip('-n', cns, 'link', 'set', 'eth0', 'up');
      return ['ip', 'netns', 'exec', cns];
    },
    addRelay(name: string, mac: string, addresses: string[], behind: string) {
      const exec = this.addClient(name, mac);
      for (const a of addresses)
        execFileSync(exec[0] as string, [...exec.slice(1), 'ip', 'addr', 'add', a, 'dev', 'eth0']);
      inNs('route', 'add', behind, 'via', (addresses[0] ?? '').split('/')[0] as string);
      return exec;
    },
    destroy() {
      for (const n of [...clients, ns]) {
        try {
          ip('netns', 'del', n);
        } catch {
          // already gone
        }
      }
    },
  };
}
