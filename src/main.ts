/**
 * The composition root: config → store → core → services, one AbortController-style shutdown for all.
 * Nothing else in the tree constructs a store, a server socket or a signer.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import type { Config } from './config/config.ts';
import { parseInventory } from './config/inventory-file.ts';
import { Metrics } from './core/metrics.ts';
import { BootService } from './core/service.ts';
import { loadOrCreateKey, Signer } from './core/signing.ts';
import { LeasePool } from './dhcp/pool.ts';
import { answerRouterSolicitations, type RouterAdvertiser } from './dhcp/ra.ts';
import { startDhcpServer } from './dhcp/server.ts';
import { listenError } from './errors.ts';
import { EventBus } from './events/bus.ts';
import { buildApp, privateAssetsOf } from './http/app.ts';
import { openStore } from './store/index.ts';
import type { Store } from './store/types.ts';
import { startTftpServer, type TftpServer } from './tftp/server.ts';

export interface Logger {
  info(msg: string): void;
  warn(msg: string): void;
  error(msg: string): void;
}

export interface Core {
  config: Config;
  store: Store;
  signer: Signer;
  metrics: Metrics;
  events: EventBus;
  service: BootService;
}

/** Everything but the sockets: what the CLI and the server share. */
export async function openCore(config: Config, log: Logger): Promise<Core> {
  mkdirSync(config.dataDir, { recursive: true });
  const store = await openStore(config.store);
  const signer = new Signer(loadOrCreateKey(config.secretFile));
  const metrics = new Metrics();
  const events = new EventBus(store, (err) => log.warn(`could not record a boot event: ${(err as Error).message}`));
  const service = new BootService({ store, boot: config.boot, signer, events, metrics });
  return { config, store, signer, metrics, events, service };
}

export interface Running {
  core: Core;
  http?: { url: string; port: number };
  close(): Promise<void>;
}

/** Start every service the config enables; returns once all listen. */
export async function startServer(config: Config, log: Logger): Promise<Running> {
  const core = await openCore(config, log);
  const closers: (() => Promise<void>)[] = [() => core.store.close(), () => core.service.flush()];
  const close = async () => {
    for (const c of closers.reverse()) await c().catch((err: Error) => log.error(`shutdown: ${err.message}`));
  };
  try {
    if (config.inventory) {
      const inv = parseInventory(readFileSync(config.inventory, 'utf8'), config.inventory);
      const r = await core.service.apply(inv, false);
      log.info(
        `inventory ${config.inventory}: ${r.created.length} created, ${r.updated.length} updated, ${r.unchanged.length} unchanged`,
      );
    }
    const running: Running = { core, close };
    if (config.http.enabled) {
      const app = await buildApp({
        service: core.service,
        metrics: core.metrics,
        signer: core.signer,
        assetsDir: config.http.assets,
        ipxeDir: config.http.ipxeDir,
        privateAssets: async () => privateAssetsOf(await core.store.listProfiles()),
        logLevel: config.log.level,
        trustProxy: config.http.trustProxy,
      });
      closers.push(() => app.close());
      try {
        await app.listen({ host: config.http.listen, port: config.http.port });
      } catch (err) {
        throw listenError(err, 'HTTP', config.http.listen, config.http.port);
      }
      const port = (app.server.address() as { port: number }).port;
      running.http = { url: `http://${config.http.listen}:${port}`, port };
      log.info(
        `HTTP  listening on ${config.http.listen}:${port} (clients use ${config.boot.baseUrl}; assets from ${config.http.assets})`,
      );
    }
    if (config.tftp.enabled) {
      const { metrics, service } = core;
      let tftp: TftpServer;
      try {
        tftp = await startTftpServer({
          host: config.tftp.listen,
          port: config.tftp.port,
          roots: config.tftp.roots,
          maxBlksize: config.tftp.maxBlksize,
          generated: { get: (path, client) => service.tftpFile(path, client.address) },
          onEvent: (e) => {
            if (e.type === 'transfer-start') return;
            const outcome = e.type === 'transfer-done' ? 'done' : e.aborted ? 'aborted' : 'error';
            metrics.tftpTransfers.inc({ outcome });
            metrics.tftpBytes.inc(e.bytes);
            metrics.tftpRetries.inc(e.retries);
            service.tftpTransfer(e.client.address, e.file, {
              outcome,
              bytes: e.bytes,
              ms: e.ms,
              retries: e.retries,
              ...(e.error ? { error: e.error } : {}),
            });
          },
        });
      } catch (err) {
        throw listenError(err, 'TFTP', config.tftp.listen, config.tftp.port);
      }
      closers.push(() => tftp.close());
      log.info(
        `TFTP  listening on ${config.tftp.listen}:${tftp.port} (read-only; roots ${config.tftp.roots.join(', ')})`,
      );
    }
    if (config.dhcp.mode === 'off') {
      log.info(
        'DHCP  off: point your DHCP server at bootherd (`bootherd dhcp-config --for dnsmasq|isc-dhcpd|kea` prints it)',
      );
    } else {
      const dhcp = await startDhcp(config, core, log);
      closers.push(() => dhcp.close());
    }
    log.info(`store ${config.store.replace(/\/\/[^@/]*@/, '//***@')}`);
    return running;
  } catch (err) {
    await close();
    throw err;
  }
}

async function startDhcp(config: Config, core: Core, log: Logger) {
  const { store, service, metrics } = core;
  let pool: LeasePool | undefined;
  if (config.dhcp.mode === 'full') {
    // Reservations come from the inventory: a machine with an `ip` keeps it, for its first MAC.
    const reservations = (await store.listMachines()).flatMap((m) =>
      m.ip && m.macs[0] ? [{ mac: m.macs[0], ip: m.ip, ...(m.hostname ? { hostname: m.hostname } : {}) }] : [],
    );
    pool = new LeasePool({ subnets: config.dhcp.subnets, reservations });
    pool.restore(await store.loadLeases());
  }
  let server: Awaited<ReturnType<typeof startDhcpServer>>;
  try {
    server = await startDhcpServer({
      mode: config.dhcp.mode === 'full' ? 'full' : 'proxy',
      interfaces: config.dhcp.interfaces,
      ...(config.dhcp.serverIp ? { serverIp: config.dhcp.serverIp } : {}),
      port: config.dhcp.port,
      proxyPort: config.dhcp.proxyPort,
      ...(pool ? { pool } : {}),
      commitLeases: (changes) => store.commitLeases(changes),
      decide: (facts) => service.dhcp(facts),
      onPacket: (kind, reason) => metrics.dhcpPackets.inc({ kind, reason: reason ?? '' }),
      warn: (m) => log.warn(m),
    });
  } catch (err) {
    throw listenError(err, 'DHCP', '0.0.0.0', config.dhcp.port);
  }
  const advertisers: RouterAdvertiser[] = [];
  if (config.dhcp.routerAdvertisements) {
    if (!config.dhcp.interfaces.length) log.warn('DHCP: router_advertisements needs dhcp.interfaces; not answering RS');
    for (const iface of config.dhcp.interfaces) {
      try {
        advertisers.push(
          await answerRouterSolicitations(iface, () =>
            metrics.dhcpPackets.inc({ kind: 'replied', reason: 'router-advertisement' }),
          ),
        );
      } catch (err) {
        log.warn(`DHCP: not answering IPv6 router solicitations on ${iface}: ${(err as Error).message}`);
      }
    }
  }
  const where = config.dhcp.interfaces.length ? config.dhcp.interfaces.join(', ') : 'all interfaces';
  log.info(
    config.dhcp.mode === 'full'
      ? `DHCP  full mode on ${where}${advertisers.length ? ', answering IPv6 router solicitations' : ''} (${config.dhcp.subnets.map((s) => `${s.subnet} ${s.range.join('-')}`).join('; ')})`
      : `DHCP  proxy mode on ${where}, ports ${config.dhcp.port} and ${config.dhcp.proxyPort} (boot clients only)`,
  );
  return {
    close: async () => {
      for (const a of advertisers) a.close();
      await server.close();
    },
  };
}
