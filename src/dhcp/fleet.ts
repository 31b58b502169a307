/**
 * DHCP load balancing as the server runs it: the registry (the small table every server beats in, core/servers.ts)
 * read at the heartbeat pace, its live set handed to the balance (balance.ts), and after a takeover the leases the
 * other servers granted reloaded into the pool, so a client of the dead server that renews or reboots keeps its
 * address. Only the registry is polled; leases are read once a takeover, never on a timer.
 */
import { performance } from 'node:perf_hooks';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { HEARTBEAT_MS, liveDhcpServers } from '../core/servers.ts';
import type { Store } from '../store/types.ts';
import type { LoadBalance } from './balance.ts';
import type { Lease, LeasePool } from './pool.ts';
import { isActive } from './pool-state.ts';

const MERGE_SLICE = 5000;

export interface FleetDeps {
  store: Pick<Store, 'listServers' | 'loadLeases'>;
  pool: LeasePool;
  balance: LoadBalance;
  /** This server's registry id. */
  me: string;
  info(message: string): void;
  warn(message: string): void;
}

/** Reads the registry now and then every heartbeat; returns the stop. */
export async function followFleet(d: FleetDeps): Promise<() => Promise<void>> {
  let failing = false;
  const poll = async (): Promise<void> => {
    const change = d.balance.setServers(liveDhcpServers(await d.store.listServers(), new Date()));
    failing = false;
    if (!change.changed) return;
    const moved = [
      ...(change.gone.length ? [`took over from ${change.gone.join(', ')}`] : []),
      ...(change.joined.length ? [`joined: ${change.joined.join(', ')}`] : []),
    ];
    d.info(
      `DHCP load balance: ${d.balance.live.length} live servers, ${change.mine} of 256 client buckets here (${moved.join('; ')})`,
    );
    if (!change.gone.length) return;
    // Our own rows are already in the pool (and newer there while their claims are in flight), and so is what this
    // process handed out since the read: an address it holds for a client cannot have been claimed by another.
    const t0 = performance.now();
    const theirs = (await d.store.loadLeases()).filter((l) => l.server !== d.me);
    const stale = (l: Lease): boolean => {
      const here = d.pool.lease(l.ip);
      return here !== undefined && here.server === undefined && isActive(here, Date.now());
    };
    // In slices, so packets are answered meanwhile (at 100,000 leases the whole merge is ~0.5 s): a client whose lease
    // is not merged yet is offered an address the store then refuses, and learned from that.
    for (let i = 0; i < theirs.length; i += MERGE_SLICE) {
      d.pool.restore(theirs.slice(i, i + MERGE_SLICE).filter((l) => !stale(l)));
      await yieldToLoop();
    }
    d.info(`DHCP: ${theirs.length} leases of other servers reloaded in ${Math.round(performance.now() - t0)} ms`);
  };
  const report = (err: Error): void => {
    // Once per outage: the registry is read every second.
    if (!failing) d.warn(`DHCP load balance: the server registry could not be read: ${err.message}`);
    failing = true;
  };
  await poll().catch(report);
  let running: Promise<void> | undefined;
  const timer = setInterval(() => {
    running ??= poll()
      .catch(report)
      .finally(() => {
        running = undefined;
      });
  }, HEARTBEAT_MS);
  timer.unref();
  return async () => {
    clearInterval(timer);
    await running;
  };
}
