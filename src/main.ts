/**
 * The composition root: config → logger → store → core → services, one shutdown for all. Nothing else in the tree
 * constructs a store, a server socket, a logger or a signer.
 */
import { randomUUID } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import pino, { type Logger } from 'pino';
import type { Config } from './config/config.ts';
import { parseInventory } from './config/inventory-file.ts';
import { AttemptLimiter } from './core/attempts.ts';
import type { Change } from './core/change.ts';
import { instrumentStore } from './core/instrument.ts';
import { InventoryService } from './core/inventory.ts';
import { Metrics } from './core/metrics.ts';
import { PowerService } from './core/power.ts';
import { checkPxelinuxAtStart } from './core/pxelinux.ts';
import { checkSecureBootAtStart } from './core/secure-boot.ts';
import { startHeartbeat } from './core/servers.ts';
import { BootService } from './core/service.ts';
import { loadOrCreateKey, Signer } from './core/signing.ts';
import { TokenService } from './core/tokens.ts';
import { startDhcp } from './dhcp/start.ts';
import { startDhcp6 } from './dhcp6/start.ts';
import { listenError } from './errors.ts';
import { EventBus } from './events/bus.ts';
import { buildApp } from './http/app.ts';
import type { ServerStatus } from './http/ops.ts';
import { loadOrCreateTls } from './http/tls.ts';
import { machineMedia } from './media/machine-media.ts';
import { uefiIpxeCacheDir } from './media/uefi-ipxe.ts';
import { openStore } from './store/index.ts';
import type { Store } from './store/types.ts';
import { startTftpServer, type TftpServer } from './tftp/server.ts';

export type { Logger };

export const VERSION = '0.1.0';
/** The built web UI, beside src/ and dist/ alike. */
const UI_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '../web/dist');

/**
 * One logger for every part, on stderr: JSON lines for the journal and log shippers, or, at a terminal, one readable
 * line per record (`12:00:01 WARN tftp: transfer failed client=… file=…`). Secrets are never given to it.
 */
export function createLogger(level: Config['log']['level'] | 'silent', text = process.stderr.isTTY): Logger {
  const options = { level, base: null, timestamp: pino.stdTimeFunctions.isoTime };
  return text
    ? pino(options, { write: (line: string) => process.stderr.write(readable(line)) })
    : pino(options, pino.destination(2));
}

const LEVELS: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };

function readable(line: string): string {
  const { time, level, msg, service, err, ...rest } = JSON.parse(line) as Record<string, unknown>;
  const fields = Object.entries(rest)
    .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
    .join(' ');
  const error = err && typeof err === 'object' && 'message' in err ? ` (${String(err.message)})` : '';
  const at = typeof time === 'string' ? time.slice(11, 19) : '';
  return `${at} ${LEVELS[level as number] ?? level} ${service ? `${service}: ` : ''}${msg ?? ''}${error}${fields ? ` ${fields}` : ''}\n`;
}

export interface Core {
  config: Config;
  log: Logger;
  store: Store;
  signer: Signer;
  metrics: Metrics;
  events: EventBus;
  service: BootService;
  inventory: InventoryService;
  tokens: TokenService;
  power: PowerService;
  close(): Promise<void>;
}

/** Everything but the sockets: what the CLI and the server share. `serverId`: a server's, in the change feed. */
export async function openCore(config: Config, log: Logger, serverId?: string): Promise<Core> {
  mkdirSync(config.dataDir, { recursive: true });
  const metrics = new Metrics();
  // PostgreSQL: the first connect is retried (up to 30 s); a pooled connection lost later is logged, not fatal.
  const store = instrumentStore(
    await openStore(config.store, { onError: (err) => log.error(err.message), ...(serverId ? { serverId } : {}) }),
    metrics,
  );
  const signer = new Signer(loadOrCreateKey(config.secretFile));
  const events = new EventBus(store, (err) => log.warn({ err }, 'could not record a boot event'));
  const service = new BootService({
    store,
    boot: config.boot,
    signer,
    events,
    metrics,
    assetsDir: config.http.assets,
    warn: (message) => log.warn(message),
  });
  const inventory = new InventoryService(store, service);
  const tokens = new TokenService(store, { onError: (err) => log.warn({ err }, 'could not record a token use') });
  const power = new PowerService({ inventory, events, secretsDir: resolve(config.dataDir, 'bmc-secrets') });
  return {
    config,
    log,
    store,
    signer,
    metrics,
    events,
    service,
    inventory,
    tokens,
    power,
    close: async () => {
      await service.flush();
      await store.close();
    },
  };
}

export interface Running {
  core: Core;
  http?: { url: string; port: number };
  https?: { url: string; port: number; fingerprint256: string };
  status: ServerStatus;
  close(): Promise<void>;
}

/**
 * Apply the `inventory:` file. A bad file must not stop the fleet: the error (file:line:col) is logged and kept in
 * the status (/healthz, the API and the UI show it), nothing of the file is applied, and the store keeps serving.
 */
async function applyInventoryFile(core: Core, path: string, status: ServerStatus): Promise<void> {
  try {
    const inv = parseInventory(readFileSync(path, 'utf8'), path);
    const r = await core.inventory.apply(inv, false);
    status.inventoryFile = { path, appliedAt: new Date().toISOString() };
    core.log.info(
      `inventory ${path}: ${r.created.length} created, ${r.updated.length} updated, ${r.unchanged.length} unchanged`,
    );
  } catch (err) {
    const message = (err as Error).message;
    status.inventoryFile = { path, error: message };
    core.log.error(`inventory file not applied, serving what the store holds: ${message}`);
  }
}

/**
 * Boot log retention (log.keep_events, log.keep_days): a minute after start, then every 5 minutes, so a boot storm
 * overshoots the limit by minutes of events, not hours; a run with nothing to delete is two index probes.
 */
function keepBootLogTrimmed(core: Core): () => Promise<void> {
  const { keepEvents, keepDays } = core.config.log;
  let running: Promise<void> | undefined;
  const prune = () => {
    running ??= core.inventory
      .pruneBootLog({ keepEvents, keepDays })
      .then(
        (n) => {
          if (n) core.log.info(`boot log: ${n} events past retention deleted (keep ${keepEvents}, ${keepDays} days)`);
        },
        (err: Error) => core.log.warn(`boot log retention: ${err.message}`),
      )
      .finally(() => {
        running = undefined;
      });
  };
  const first = setTimeout(prune, 60_000);
  const every = setInterval(prune, 300_000);
  first.unref();
  every.unref();
  return async () => {
    clearTimeout(first);
    clearInterval(every);
    await running;
  };
}

/** This server's id in the registry, kept in the data directory so a restart is the same server again. */
function serverId(dataDir: string): string {
  const file = resolve(dataDir, 'server-id');
  try {
    const id = readFileSync(file, 'utf8').trim();
    if (id) return id;
  } catch {}
  const id = randomUUID();
  mkdirSync(dataDir, { recursive: true });
  writeFileSync(file, `${id}\n`);
  return id;
}

/**
 * Join the servers sharing the store: hear their writes (every cache follows them as it follows ours) and beat
 * in the registry. Returns the closer, which marks this server stopped.
 */
async function joinFleet(core: Core, id: string, running: Running): Promise<() => Promise<void>> {
  const { log } = core;
  const onChange = (c: Change) => {
    if (!c.remote) return;
    if (c.server) log.debug(`change from server ${c.server}: ${c.kind}${c.id ? `/${c.id}` : ''} ${c.op}`);
    else log.debug('change feed listening: every cache reloads');
  };
  core.inventory.changes.on('change', onChange);
  const unfollow = core.inventory.follow();
  const urls = [core.config.boot.baseUrl, ...(running.https ? [running.https.url] : [])];
  // Full-mode DHCP with load balancing: the other servers count this one when they split the clients.
  const dhcpShare = core.config.dhcp.mode === 'full' && core.config.dhcp.loadBalance;
  const me = { id, name: hostname(), version: VERSION, urls, ...(dhcpShare ? { dhcpShare } : {}) };
  const stopBeating = await startHeartbeat(core.store, me, (err) =>
    log.warn(`server registry heartbeat failed: ${err.message}`),
  );
  return async () => {
    unfollow();
    core.inventory.changes.off('change', onChange);
    await stopBeating();
  };
}

/** Start every service the config enables; returns once all listen. */
export async function startServer(config: Config, log: Logger): Promise<Running> {
  const id = serverId(config.dataDir);
  const core = await openCore(config, log, id);
  const closers: (() => Promise<void>)[] = [() => core.close()];
  const close = async () => {
    for (const c of closers.reverse()) await c().catch((err: Error) => log.error(`shutdown: ${err.message}`));
  };
  const status: ServerStatus = {
    version: VERSION,
    services: { http: config.http.enabled, tftp: config.tftp.enabled, dhcp: config.dhcp.mode },
  };
  try {
    if (config.inventory) await applyInventoryFile(core, config.inventory, status);
    await checkSecureBootAtStart(config.boot, core.store);
    await checkPxelinuxAtStart(config.boot, core.store);
    const running: Running = { core, status, close };
    if (config.http.enabled) await startHttp(core, status, running, closers);
    if (config.tftp.enabled) closers.push(await startTftp(core));
    if (config.dhcp.mode === 'off') {
      log.info(
        'DHCP  off: point your DHCP server at bootherd (`bootherd dhcp-config --for dnsmasq|isc-dhcpd|kea` prints it)',
      );
    } else {
      const dhcp = await startDhcp(core, id);
      closers.push(() => dhcp.close());
    }
    if (config.dhcp6.mode === 'full') {
      const dhcp6 = await startDhcp6(core, id);
      closers.push(() => dhcp6.close());
    }
    closers.push(keepBootLogTrimmed(core));
    closers.push(await joinFleet(core, id, running));
    log.info(`server ${id}; store ${config.store.replace(/\/\/[^@/]*@/, '//***@')}`);
    return running;
  } catch (err) {
    await close();
    throw err;
  }
}

async function startHttp(
  core: Core,
  status: ServerStatus,
  running: Running,
  closers: (() => Promise<void>)[],
): Promise<void> {
  const { config, log } = core;
  const tlsConf = config.http.tls;
  const shared = {
    service: core.service,
    metrics: core.metrics,
    signer: core.signer,
    assetsDir: config.http.assets,
    ipxeDir: config.http.ipxeDir,
    privateAssets: () => core.service.privateAssets(),
    logger: log,
    logLevel: config.log.level,
    trustProxy: config.http.trustProxy,
    status: () => status,
  };
  const listen = async (app: Awaited<ReturnType<typeof buildApp>>, port: number, what: string) => {
    closers.push(() => app.close());
    try {
      await app.listen({ host: config.http.listen, port });
    } catch (err) {
      throw listenError(err, what, config.http.listen, port);
    }
    return (app.server.address() as { port: number }).port;
  };
  const host = config.http.listen === '0.0.0.0' ? new URL(config.boot.baseUrl).hostname : config.http.listen;
  const httpsUrl = (port: number) => `https://${host}:${port}/`;

  if (tlsConf.enabled) {
    const tls = await loadOrCreateTls({
      dataDir: config.dataDir,
      ...(tlsConf.cert && tlsConf.key ? { certFile: tlsConf.cert, keyFile: tlsConf.key } : {}),
      // An IPv6 literal's URL hostname keeps its brackets; the certificate's SAN takes the bare address.
      hostnames: [new URL(config.boot.baseUrl).hostname.replace(/^\[(.*)\]$/, '$1')],
    });
    const app = await buildApp({
      ...shared,
      inventory: core.inventory,
      tokens: core.tokens,
      events: core.events,
      power: core.power,
      attempts: new AttemptLimiter(),
      media: machineMedia({
        bootUrl: `${config.boot.baseUrl}/boot.ipxe`,
        uefiCacheDir: uefiIpxeCacheDir(config.dataDir),
      }),
      uiDir: UI_DIR,
      https: { key: tls.key, cert: tls.cert },
    });
    const port = await listen(app, tlsConf.port, 'HTTPS');
    running.https = { url: httpsUrl(port), port, fingerprint256: tls.fingerprint256 };
    log.info(
      `HTTPS listening on ${config.http.listen}:${port}: API and web UI at ${httpsUrl(port)} ` +
        `(${tls.generated ? 'new self-signed' : 'certificate'} ${tls.certFile}, SHA-256 ${tls.fingerprint256})`,
    );
  }
  const plain = await buildApp({
    ...shared,
    parts: { boot: true, api: false, ui: false },
    ...(running.https ? { apiElsewhere: running.https.url } : {}),
  });
  const port = await listen(plain, config.http.port, 'HTTP');
  running.http = { url: `http://${config.http.listen}:${port}`, port };
  log.info(
    `HTTP  listening on ${config.http.listen}:${port} (clients use ${config.boot.baseUrl}; assets from ${config.http.assets})`,
  );
}

async function startTftp(core: Core): Promise<() => Promise<void>> {
  const { config, metrics, service, log } = core;
  let tftp: TftpServer;
  try {
    tftp = await startTftpServer({
      host: config.tftp.listen,
      port: config.tftp.port,
      roots: config.tftp.roots,
      maxBlksize: config.tftp.maxBlksize,
      log: log.child({ service: 'tftp' }),
      generated: { get: (path, client) => service.tftpFile(path, client.address) },
      onErrorSent: (e) => metrics.tftpErrors.inc({ code: e.name }),
      onEvent: (e) => {
        if (e.type === 'transfer-start') return;
        const outcome = e.type === 'transfer-done' ? 'done' : e.aborted ? 'aborted' : 'error';
        metrics.tftpTransfers.inc({ outcome });
        metrics.tftpBytes.inc(e.bytes);
        metrics.tftpRetransmissions.inc(e.retries);
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
  log.info(`TFTP  listening on ${config.tftp.listen}:${tftp.port} (read-only; roots ${config.tftp.roots.join(', ')})`);
  return () => tftp.close();
}
