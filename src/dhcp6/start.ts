/**
 * DHCPv6 as the server runs it: the pool restored from the store (the same lease table as DHCPv4: the address as
 * `ip`, the DUID as `clientId`), the server DUID, the socket loop, Router Advertisements with M/O and the prefix, and
 * every exchange reported to the boot timeline and the metrics as DHCPv4's are.
 */
import { readFileSync } from 'node:fs';
import { DropLog } from '../dhcp/drop-log.ts';
import type { DhcpDeps } from '../dhcp/start.ts';
import { listenError } from '../errors.ts';
import { bigintToBytes, parsePrefix } from '../net/ipv6.ts';
import { answerRouterSolicitations, ipv6Obstacle, type RouterAdvertiser, routerAdvertisement } from '../net/ra.ts';
import { Lease6Pool } from './pool.ts';
import { startDhcp6Server } from './server.ts';

const DROP_LOG_WINDOW_MS = 10_000;

/**
 * RFC 8415 §11.4 DUID-LL: type 3, hardware type 1 (Ethernet), the link-layer address of the first served interface.
 * Stable across restarts as long as that interface keeps its address, which clients RENEWing with it rely on.
 */
export function serverDuid(iface: string, read = (p: string) => readFileSync(p, 'utf8')): Buffer {
  const mac = read(`/sys/class/net/${iface}/address`).trim();
  const bytes = Buffer.from(mac.replace(/:/g, ''), 'hex');
  return Buffer.concat([Buffer.from([0, 3, 0, 1]), bytes]);
}

/** `registryId`: this server's id in the server registry (main.ts), the claimant of its leases, as for startDhcp. Not
 * its DUID, which clients see. */
export async function startDhcp6(
  core: Pick<DhcpDeps, 'config' | 'store' | 'service' | 'metrics' | 'log'>,
  registryId: string,
): Promise<{ close(): Promise<void> }> {
  const { config, store, service, metrics, log } = core;
  const c = config.dhcp6;
  const pool = new Lease6Pool(c.subnets);
  pool.restore(await store.loadLeases());
  const drops = new DropLog(DROP_LOG_WINDOW_MS);
  const writeDrop = (line: { level: 'info' | 'warn'; message: string } | undefined) => {
    if (line) log[line.level](`DHCPv6: ${line.message}`);
  };
  const flusher = setInterval(() => {
    for (const line of drops.flush(Date.now())) writeDrop(line);
  }, DROP_LOG_WINDOW_MS);
  flusher.unref();
  let server: Awaited<ReturnType<typeof startDhcp6Server>>;
  try {
    server = await startDhcp6Server({
      interfaces: c.interfaces,
      port: c.port,
      pool,
      serverId: serverDuid(c.interfaces[0] as string),
      // Claimed as DHCPv4's are: several servers on one store never give one address to two clients.
      claimLeases: (changes) => store.claimLeases(changes, { server: registryId, now: Date.now() }),
      decide: (facts) => service.dhcp(facts),
      onExchange: (e) => {
        metrics.dhcpExchange({ message: `v6-${e.message}`, outcome: e.outcome });
        service.dhcpExchange(e);
      },
      onDrop: (reason, detail) => {
        metrics.dhcpDropped.inc({ reason: `v6-${reason}` });
        writeDrop(drops.note(reason, detail, Date.now()));
      },
      warn: (m) => log.warn(m),
    });
  } catch (err) {
    clearInterval(flusher);
    throw listenError(err, 'DHCPv6', '::', c.port);
  }
  const advertisers: RouterAdvertiser[] = [];
  const serving: string[] = [];
  for (const iface of c.interfaces) {
    // The multicast join succeeds even where IPv6 is off: say so rather than claim to serve that link.
    const obstacle = ipv6Obstacle(iface);
    if (obstacle) {
      log.warn(`DHCPv6: cannot serve ${iface}: ${obstacle}`);
      continue;
    }
    serving.push(iface);
    if (c.routerAdvertisements) {
      const subnet = pool.subnetFor(iface);
      const prefix = subnet ? parsePrefix(subnet.prefix) : undefined;
      const ra = routerAdvertisement({
        managed: true,
        other: true,
        ...(subnet && prefix
          ? {
              prefix: {
                bytes: bigintToBytes(prefix.network),
                length: prefix.length,
                autonomous: c.slaac,
                validSeconds: subnet.validSeconds,
                preferredSeconds: subnet.preferredSeconds,
              },
            }
          : {}),
      });
      try {
        advertisers.push(
          await answerRouterSolicitations(
            iface,
            () => metrics.dhcpPackets.inc({ kind: 'replied', reason: 'router-advertisement' }),
            ra,
          ),
        );
      } catch (err) {
        log.warn(`DHCPv6: not answering IPv6 router solicitations on ${iface}: ${(err as Error).message}`);
      }
    }
  }
  log.info(
    `DHCPv6 full mode on ${serving.join(', ') || 'no interface'} port ${c.port} (${c.subnets.map((s) => `${s.prefix} ${s.range.join('-')}`).join('; ')})${advertisers.length ? `, Router Advertisements M=1 O=1${c.slaac ? ' A=1' : ''}` : ''}`,
  );
  return {
    close: async () => {
      clearInterval(flusher);
      for (const a of advertisers) a.close();
      await server.close();
      for (const line of drops.flush(Number.POSITIVE_INFINITY)) writeDrop(line);
    },
  };
}
