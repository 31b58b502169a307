/**
 * DHCP as the server runs it: the lease pool restored from the store, reservations that follow the inventory (a
 * machine given an `ip` through the API is served it from the next packet, no restart), the socket loop, IPv6 RA
 * answers, and the live leases offered to the API.
 */

import type { Logger } from 'pino';
import type { Config } from '../config/config.ts';
import type { InventoryService } from '../core/inventory.ts';
import type { Metrics } from '../core/metrics.ts';
import type { BootService } from '../core/service.ts';
import { listenError } from '../errors.ts';
import { answerRouterSolicitations, ipv6Obstacle, type RouterAdvertiser } from '../net/ra.ts';
import type { Store } from '../store/types.ts';
import { LoadBalance } from './balance.ts';
import { DropLog } from './drop-log.ts';
import { followFleet } from './fleet.ts';
import { type Lease, LeasePool, type Reservation } from './pool.ts';
import { startDhcpServer } from './server.ts';

/** At most one log line per drop reason in this time; the rest are counted into the next line. */
const DROP_LOG_WINDOW_MS = 10_000;

export interface DhcpDeps {
  config: Config;
  store: Store;
  service: BootService;
  metrics: Metrics;
  log: Logger;
  inventory: InventoryService;
}

/**
 * The machines' reservations the pool can take. One whose address is in no configured subnet, or is already reserved
 * for another machine, is skipped with a warning: one such record must stop neither DHCP nor the other reservations.
 */
async function reservationsOf(core: DhcpDeps): Promise<Reservation[]> {
  const probe = new LeasePool({ subnets: core.config.dhcp.subnets });
  const owners = new Map<string, string>();
  const usable: Reservation[] = [];
  for (const m of await core.store.listMachines()) {
    if (!m.ip || !m.macs[0]) continue;
    const r: Reservation = { mac: m.macs[0], ip: m.ip, ...(m.hostname ? { hostname: m.hostname } : {}) };
    const owner = owners.get(m.ip);
    try {
      if (owner) throw new Error(`${m.ip} is already reserved for machine "${owner}"`);
      probe.setReservations([r]);
    } catch (err) {
      core.log.warn(`DHCP: machine "${m.id}" not reserved: ${(err as Error).message}`);
      continue;
    }
    owners.set(m.ip, m.id);
    usable.push(r);
  }
  return usable;
}

/** `serverId`: this server's registry id, who claims the leases and who the load balance counts as this server. */
export async function startDhcp(core: DhcpDeps, serverId: string): Promise<{ close(): Promise<void> }> {
  const { config, store, service, metrics, log, inventory } = core;
  let pool: LeasePool | undefined;
  let stopFollowing = () => {};
  let stopBalancing = async () => {};
  let balance: LoadBalance | undefined;
  const commitLeases = (changes: Lease[]) => store.commitLeases(changes);
  // Every lease the DHCP server decides is claimed: the store writes it only if no other client holds the address.
  const claimLeases = (changes: Lease[]) => store.claimLeases(changes, { server: serverId, now: Date.now() });
  if (config.dhcp.mode === 'full') {
    await store.warmWriters?.();
    const p = new LeasePool({ subnets: config.dhcp.subnets, reservations: await reservationsOf(core) });
    p.restore(await store.loadLeases());
    pool = p;
    // Reloads can overlap: only the latest one's result is applied. An error is logged, never thrown at the process.
    let latest = 0;
    const reload = () => {
      const mine = ++latest;
      reservationsOf(core)
        .then((r) => {
          if (mine === latest) p.setReservations(r);
        })
        .catch((err: Error) => log.error(`DHCP: reservations not reloaded: ${err.message}`));
    };
    const onChange = (c: { kind: string }) => {
      if (c.kind === 'machine' || c.kind === 'inventory') reload();
    };
    inventory.changes.on('change', onChange);
    stopFollowing = () => inventory.changes.off('change', onChange);
    inventory.attachLeases({
      list: () => p.all(),
      release: async (ip) => {
        const changed = p.releaseAddress(ip, Date.now());
        if (changed.length) await commitLeases(changed);
        return changed.length > 0;
      },
    });
    metrics.watchPool(() => p.usage());
    if (config.dhcp.loadBalance) {
      const b = new LoadBalance(serverId, config.dhcp.loadBalanceSecs);
      balance = b;
      stopBalancing = await followFleet({
        store,
        pool: p,
        balance: b,
        me: serverId,
        info: (m) => log.info(m),
        warn: (m) => log.warn(m),
      });
    }
  }
  const drops = new DropLog(DROP_LOG_WINDOW_MS);
  const writeDrop = (line: { level: 'info' | 'warn'; message: string } | undefined) => {
    if (line) log[line.level](line.message);
  };
  const dropFlusher = setInterval(() => {
    for (const line of drops.flush(Date.now())) writeDrop(line);
  }, DROP_LOG_WINDOW_MS);
  dropFlusher.unref();
  const loopWarned = new Map<string, number>();
  let admitted = 1;
  metrics.dhcpAdmission.set(admitted);
  let server: Awaited<ReturnType<typeof startDhcpServer>>;
  try {
    server = await startDhcpServer({
      mode: config.dhcp.mode === 'full' ? 'full' : 'proxy',
      interfaces: config.dhcp.interfaces,
      ...(config.dhcp.serverIp ? { serverIp: config.dhcp.serverIp } : {}),
      port: config.dhcp.port,
      proxyPort: config.dhcp.proxyPort,
      ...(pool ? { pool } : {}),
      commitLeases,
      claimLeases,
      // Several servers answering from one store: an offer is claimed before it leaves, so no two offer one address.
      // Alone (the balance's live set is this server), an offer stays a promise to nobody, as on SQLite: the ACK's
      // claim still arbitrates if a server joins in between. Without the balance, any server may be answering too.
      storeOffers: sharing(balance, store),
      ...(balance ? { share: balance.answers.bind(balance) } : {}),
      decide: async (facts, receivedAt) => {
        const decision = await service.dhcp(facts, receivedAt);
        // Said once a machine and window: both the DISCOVER and the REQUEST of a boot take this turn.
        const t = Date.now();
        if (decision.reason.startsWith('loop guard') && t - (loopWarned.get(facts.mac) ?? 0) > 60_000) {
          loopWarned.set(facts.mac, t);
          if (loopWarned.size > 4096) loopWarned.delete(loopWarned.keys().next().value as string);
          log.warn(`DHCP ${facts.mac}: ${decision.reason} (boot.loop_guard; boot.required_features)`);
        }
        return decision;
      },
      onPacket: (kind, reason) => metrics.dhcpPacket(kind, reason),
      onDrop: (reason, detail) => {
        metrics.dhcpDropped.inc({ reason });
        writeDrop(drops.note(reason, detail, Date.now()));
      },
      onExchange: (e) => {
        metrics.dhcpExchange(e);
        service.dhcpExchange(e);
      },
      onAdmission: (fraction) => {
        const pct = `${(fraction * 100).toFixed(1)} %`;
        // Said when overload starts and ends; the steps between are in the gauge (and at debug).
        if (admitted >= 1 && fraction < 1)
          log.warn(`DHCP: overloaded: the kernel now lets ${pct} of new DISCOVERs through (every REQUEST)`);
        else if (fraction >= 1) log.info('DHCP: no longer overloaded: every DISCOVER is let through again');
        else log.debug(`DHCP: ${pct} of new DISCOVERs let through`);
        admitted = fraction;
        metrics.dhcpAdmission.set(fraction);
      },
      warn: (m) => log.warn(m),
      debug: (m) => log.debug(m),
    });
  } catch (err) {
    stopFollowing();
    await stopBalancing();
    clearInterval(dropFlusher);
    throw listenError(err, 'DHCP', '0.0.0.0', config.dhcp.port);
  }
  const advertisers: RouterAdvertiser[] = [];
  const answering: string[] = [];
  if (config.dhcp.routerAdvertisements) {
    if (!config.dhcp.interfaces.length) log.warn('DHCP: router_advertisements needs dhcp.interfaces; not answering RS');
    for (const iface of config.dhcp.interfaces) {
      // DHCPv6 sends its own RAs there (M/O and the prefix, dhcp6/start.ts): two answers would contradict each other.
      if (config.dhcp6.mode === 'full' && config.dhcp6.routerAdvertisements && config.dhcp6.interfaces.includes(iface))
        continue;
      const obstacle = ipv6Obstacle(iface);
      if (obstacle) {
        log.warn(
          `DHCP: cannot answer IPv6 router solicitations on ${iface}, so iPXE waits ~13 s for a router after each DHCP: ${obstacle} (or set dhcp.router_advertisements: false)`,
        );
        continue;
      }
      try {
        advertisers.push(
          await answerRouterSolicitations(iface, () =>
            metrics.dhcpPackets.inc({ kind: 'replied', reason: 'router-advertisement' }),
          ),
        );
        answering.push(iface);
      } catch (err) {
        log.warn(`DHCP: not answering IPv6 router solicitations on ${iface}: ${(err as Error).message}`);
      }
    }
  }
  const where = config.dhcp.interfaces.length ? config.dhcp.interfaces.join(', ') : 'all interfaces';
  log.info(
    config.dhcp.mode === 'full'
      ? `DHCP  full mode on ${where}${answering.length ? `, answering IPv6 router solicitations on ${answering.join(', ')}` : ''} (${config.dhcp.subnets.map((s) => `${s.subnet} ${s.range.join('-')}`).join('; ')})`
      : `DHCP  proxy mode on ${where}, ports ${config.dhcp.port} and ${config.dhcp.proxyPort} (boot clients only)`,
  );
  return {
    close: async () => {
      stopFollowing();
      await stopBalancing();
      clearInterval(dropFlusher);
      for (const a of advertisers) a.close();
      await server.close();
      // The drops counted since the last line are said before going.
      for (const line of drops.flush(Number.POSITIVE_INFINITY)) writeDrop(line);
    },
  };
}

/** Whether offers are claimed in the store before they leave (DhcpServerOptions.storeOffers). */
function sharing(balance: LoadBalance | undefined, store: Store): () => boolean {
  return balance ? () => balance.live.length > 1 : () => store.changeFeed;
}
