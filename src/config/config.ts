/**
 * bootherd's configuration: one YAML file, then environment variables, then command-line `--set` flags, each
 * overriding the last. Every leaf has a dotted path (`http.port`), an environment name (`BOOTHERD_HTTP_PORT`) and a
 * flag (`--set http.port=8081`).
 */
import { readFileSync } from 'node:fs';
import { isIPv4 } from 'node:net';
import { dirname, isAbsolute, resolve } from 'node:path';
import { parseDocument } from 'yaml';
import type { BootPolicyConfig } from '../boot/decide.ts';
import { BootherdError } from '../errors.ts';
import type { SubnetConfig } from './dhcp-subnets.ts';
import { type Dhcp6Config, parseDhcp6 } from './dhcp6.ts';
import { type Value, YamlDoc, YamlError } from './reader.ts';

export interface Config {
  /** Folder for the SQLite database and the signing key; relative paths in the file resolve from the file's folder. */
  dataDir: string;
  /** `sqlite:<path>` (default `sqlite:<dataDir>/bootherd.db`). */
  store: string;
  /** Inventory file applied at start (optional). */
  inventory?: string;
  /** `keepEvents`/`keepDays`: boot log retention, the newest events kept and the age past which they go. */
  log: { level: 'debug' | 'info' | 'warn' | 'error'; keepEvents: number; keepDays: number };
  http: {
    enabled: boolean;
    listen: string;
    port: number;
    assets: string;
    ipxeDir: string;
    trustProxy: boolean;
    /**
     * The API and the web UI, over HTTPS on their own port (boot routes stay on plain `port`: Debian's iPXE has no
     * HTTPS). Without cert/key a self-signed certificate is generated in data_dir on first start.
     */
    tls: { enabled: boolean; port: number; cert?: string; key?: string };
  };
  tftp: { enabled: boolean; listen: string; port: number; roots: string[]; maxBlksize: number };
  dhcp: {
    mode: 'off' | 'full' | 'proxy';
    /** Interfaces to serve, one socket each (SO_BINDTODEVICE); empty: one socket on 0.0.0.0. */
    interfaces: string[];
    /** Our address as clients see it, when it cannot be read from the interface. */
    serverIp?: string;
    port: number;
    proxyPort: number;
    subnets: SubnetConfig[];
    /** Answer IPv6 Router Solicitations with a bare RA so iPXE stops waiting for a router (see net/ra.ts). */
    routerAdvertisements: boolean;
    /** Full mode, several servers on one store: split the clients between the live servers (dhcp/balance.ts). */
    loadBalance: boolean;
    /** Answer a client of another server once its `secs` field reaches this (its server is not answering). */
    loadBalanceSecs: number;
  };
  /** DHCPv6 (RFC 8415) with the boot file URL, and Router Advertisements with the M/O flags (dhcp6.ts). */
  dhcp6: Dhcp6Config;
  /** Secret for signed URLs; read from `secretFile`, or generated once into the data folder. */
  secretFile: string;
  boot: BootPolicyConfig;
}

const TOP = ['data_dir', 'store', 'inventory', 'log', 'http', 'tftp', 'dhcp', 'dhcp6', 'boot', 'secret_file'] as const;

/** Every overridable leaf, for env and `--set`. */
export const LEAVES = [
  'data_dir',
  'store',
  'inventory',
  'secret_file',
  'log.level',
  'log.keep_events',
  'log.keep_days',
  'http.enabled',
  'http.listen',
  'http.port',
  'http.advertise',
  'http.assets',
  'http.ipxe_dir',
  'http.trust_proxy',
  'http.tls.enabled',
  'http.tls.port',
  'http.tls.cert',
  'http.tls.key',
  'tftp.enabled',
  'tftp.listen',
  'tftp.port',
  'tftp.roots',
  'tftp.grub_dir',
  'tftp.max_blksize',
  'dhcp.mode',
  'dhcp.interfaces',
  'dhcp.server_ip',
  'dhcp.port',
  'dhcp.proxy_port',
  'dhcp.router_advertisements',
  'dhcp.load_balance',
  'dhcp.load_balance_secs',
  'dhcp6.mode',
  'dhcp6.interfaces',
  'dhcp6.port',
  'dhcp6.router_advertisements',
  'dhcp6.slaac',
  'boot.user_class',
  'boot.required_features',
  'boot.loop_guard',
  'boot.secure_boot',
  'boot.shim',
  'boot.shim_grub',
  'boot.boot_loader',
  'boot.pxelinux',
  'boot.pxelinux_modules',
  'boot.unknown',
  'boot.menu.timeout',
  'boot.menu.default',
] as const;

export function envName(leaf: string): string {
  return `BOOTHERD_${leaf.replace(/\./g, '_').toUpperCase()}`;
}

/**
 * Load and validate. Each override is applied to the YAML tree and validated on its own, so a bad one is reported
 * with its source (`env BOOTHERD_HTTP_PORT`, `--set http.port`) where a file error names its line and column.
 */
export function loadConfig(
  file: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
  sets: string[] = [],
): Config {
  const text = file ? readText(file) : '';
  const base = file ? dirname(resolve(file)) : process.cwd();
  let config = parse(new YamlDoc(text, file ?? '<defaults>').root, base);
  const doc = parseDocument(text);
  for (const o of overrides(env, sets)) {
    doc.setIn(o.leaf.split('.'), o.value);
    try {
      config = parse(new YamlDoc(String(doc), o.source).root, base);
    } catch (err) {
      if (err instanceof YamlError)
        throw new BootherdError('CONFIG_INVALID', `${o.source}: ${err.field}: ${err.reason}`);
      throw err;
    }
  }
  return config;
}

function overrides(env: NodeJS.ProcessEnv, sets: string[]): { leaf: string; value: string; source: string }[] {
  const out: { leaf: string; value: string; source: string }[] = LEAVES.flatMap((leaf) => {
    const value = env[envName(leaf)];
    return value === undefined ? [] : [{ leaf, value, source: `env ${envName(leaf)}` }];
  });
  for (const s of sets) {
    const eq = s.indexOf('=');
    const leaf = s.slice(0, eq);
    if (eq < 0 || !(LEAVES as readonly string[]).includes(leaf)) {
      throw new BootherdError('CONFIG_INVALID', `--set ${s}: expected KEY=VALUE with KEY one of: ${LEAVES.join(', ')}`);
    }
    out.push({ leaf, value: s.slice(eq + 1), source: `--set ${leaf}` });
  }
  return out;
}

function readText(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    throw new BootherdError('CONFIG_INVALID', `cannot read config file ${file}: ${(err as Error).message}`);
  }
}

const UNKNOWN_ACTIONS = ['menu', 'local', 'ignore'] as const;

function parseUnknown(v: string): BootPolicyConfig['unknown'] | undefined {
  if (v.startsWith('profile:') && v.length > 8) return { action: 'profile', profile: v.slice(8) };
  return (UNKNOWN_ACTIONS as readonly string[]).includes(v)
    ? { action: v as (typeof UNKNOWN_ACTIONS)[number] }
    : undefined;
}

function ipv4(v: Value): string {
  const s = v.string();
  if (!isIPv4(s)) v.fail(`"${s}" is not an IPv4 address`);
  return s;
}

function parseDhcp(dhcp: Value, sharedStore: boolean): Config['dhcp'] {
  const mode = dhcp.get('mode').oneOf(['off', 'full', 'proxy'] as const, 'off');
  const subnetsValue = dhcp.get('subnets');
  // A relay (giaddr) outside every subnet picks its subnet by this list (Kea's relay.ip-addresses): one subnet each.
  const relayOwner = new Map<string, string>();
  const relayAddresses = (v: Value): string[] =>
    v.items().map((item) => {
      const ip = ipv4(item);
      const owner = relayOwner.get(ip);
      if (owner) item.fail(`${ip} is already a relay address of ${owner}`);
      relayOwner.set(ip, v.path);
      return ip;
    });
  const subnets = subnetsValue.items().map((s): SubnetConfig => {
    s.keys(['subnet', 'range', 'lease_time', 'routers', 'dns', 'domain', 'ntp', 'mtu', 'exclude', 'relay_addresses']);
    const subnet = s.get('subnet').string();
    if (!/^\d+\.\d+\.\d+\.\d+\/\d{1,2}$/.test(subnet) || !isIPv4(subnet.split('/')[0] ?? '')) {
      s.get('subnet').fail(`"${subnet}" is not a subnet like 192.0.2.0/24`);
    }
    const range = s.get('range').items().map(ipv4);
    if (range.length !== 2) s.get('range').fail('must be [first, last]');
    const list = (key: string) => s.get(key).items().map(ipv4);
    const options: SubnetConfig['options'] = {};
    if (s.get('routers').present) options.routers = list('routers');
    if (s.get('dns').present) options.dnsServers = list('dns');
    if (s.get('ntp').present) options.ntpServers = list('ntp');
    const domain = s.get('domain').optString();
    if (domain !== undefined) options.domainName = domain;
    if (s.get('mtu').present) options.mtu = s.get('mtu').int(1500, 576, 65535);
    return {
      subnet,
      range: [range[0] as string, range[1] as string],
      options,
      leaseSeconds: s.get('lease_time').int(3600, 60, 365 * 24 * 3600),
      ...(s.get('exclude').present ? { exclude: list('exclude') } : {}),
      ...(s.get('relay_addresses').present ? { relayAddresses: relayAddresses(s.get('relay_addresses')) } : {}),
    };
  });
  if (mode === 'full' && subnets.length === 0) subnetsValue.fail('full mode needs at least one subnet with a range');
  const serverIp = dhcp.get('server_ip').present ? ipv4(dhcp.get('server_ip')) : undefined;
  return {
    mode,
    interfaces: dhcp.get('interfaces').present ? dhcp.get('interfaces').strings() : [],
    ...(serverIp ? { serverIp } : {}),
    port: dhcp.get('port').int(67, 1, 65535),
    proxyPort: dhcp.get('proxy_port').int(4011, 1, 65535),
    subnets,
    // On where bootherd owns the segment (full mode); beside another DHCP server the network may have real routers.
    routerAdvertisements: dhcp.get('router_advertisements').bool(mode === 'full'),
    // On where several servers can share the store (PostgreSQL); alone, every client is this server's anyway.
    loadBalance: dhcp.get('load_balance').bool(sharedStore),
    loadBalanceSecs: dhcp.get('load_balance_secs').int(5, 1, 65535),
  };
}

function parse(root: Value, base: string): Config {
  root.keys(TOP);
  const path = (v: string) => (isAbsolute(v) ? v : resolve(base, v));
  const dataDir = path(root.get('data_dir').string('./data'));
  const log = root.get('log');
  log.keys(['level', 'keep_events', 'keep_days']);
  const http = root.get('http');
  http.keys(['enabled', 'listen', 'port', 'advertise', 'assets', 'ipxe_dir', 'trust_proxy', 'tls']);
  const tls = http.get('tls');
  tls.keys(['enabled', 'port', 'cert', 'key']);
  const tlsCert = tls.get('cert').optString();
  const tlsKey = tls.get('key').optString();
  if ((tlsCert === undefined) !== (tlsKey === undefined)) tls.fail('give both cert and key, or neither');
  const httpPort = http.get('port').int(8080, 1, 65535);
  const listen = http.get('listen').string('0.0.0.0');
  const advertiseValue = http.get('advertise');
  const advertise = advertiseValue.string(`http://${listen === '0.0.0.0' ? '127.0.0.1' : listen}:${httpPort}`);
  if (!/^https?:\/\/[^\s/?#]+$/.test(advertise)) {
    advertiseValue.fail('must be a base URL like http://192.0.2.1:8080 (scheme, host, optional port, no path)');
  }
  const tftp = root.get('tftp');
  tftp.keys(['enabled', 'listen', 'port', 'roots', 'grub_dir', 'max_blksize']);
  const ipxeDir = path(http.get('ipxe_dir').string('/usr/lib/ipxe'));
  const dhcp = root.get('dhcp');
  dhcp.keys([
    'mode',
    'interfaces',
    'server_ip',
    'port',
    'proxy_port',
    'subnets',
    'router_advertisements',
    'load_balance',
    'load_balance_secs',
  ]);
  const boot = root.get('boot');
  boot.keys([
    'user_class',
    'required_features',
    'loop_guard',
    'files',
    'unknown',
    'menu',
    'secure_boot',
    'shim',
    'shim_grub',
    'boot_loader',
    'pxelinux',
    'pxelinux_modules',
  ]);
  const files = boot.get('files');
  files.keys(['bios', 'ia32-uefi', 'x64-uefi', 'arm32-uefi', 'arm64-uefi']);
  const unknownValue = boot.get('unknown');
  const unknown = unknownValue.string('menu');
  const unknownAction =
    parseUnknown(unknown) ?? unknownValue.fail(`must be menu, local, ignore or profile:<name>, got "${unknown}"`);
  const menu = boot.get('menu');
  menu.keys(['timeout', 'default']);
  const userClass = boot.get('user_class').optString();
  const store = root.get('store').string(`sqlite:${resolve(dataDir, 'bootherd.db')}`);
  const inventory = root.get('inventory').optString();
  return {
    dataDir,
    store:
      store.startsWith('sqlite:') && !isAbsolute(store.slice(7)) && store !== 'sqlite::memory:'
        ? `sqlite:${path(store.slice(7))}`
        : store,
    inventory: inventory === undefined ? undefined : path(inventory),
    log: {
      level: log.get('level').oneOf(['debug', 'info', 'warn', 'error'] as const, 'info'),
      keepEvents: log.get('keep_events').int(1_000_000, 1000, 1_000_000_000),
      keepDays: log.get('keep_days').int(90, 1, 36_500),
    },
    http: {
      enabled: http.get('enabled').bool(true),
      listen,
      port: httpPort,
      assets: path(http.get('assets').string('./assets')),
      ipxeDir,
      trustProxy: http.get('trust_proxy').bool(false),
      tls: {
        enabled: tls.get('enabled').bool(true),
        port: tls.get('port').int(8443, 0, 65535),
        ...(tlsCert !== undefined && tlsKey !== undefined ? { cert: path(tlsCert), key: path(tlsKey) } : {}),
      },
    },
    tftp: {
      enabled: tftp.get('enabled').bool(false),
      listen: tftp.get('listen').string('0.0.0.0'),
      port: tftp.get('port').int(69, 1, 65535),
      // Debian's signed GRUB network image (grubnetx64.efi.signed) sits beside the iPXE binaries by default.
      roots: tftp.get('roots').present
        ? tftp.get('roots').strings().map(path)
        : [ipxeDir, path(tftp.get('grub_dir').string('/usr/lib/grub/x86_64-efi-signed'))],
      maxBlksize: tftp.get('max_blksize').int(1468, 512, 65464),
    },
    dhcp: parseDhcp(dhcp, /^postgres(ql)?:\/\//.test(store)),
    dhcp6: parseDhcp6(root.get('dhcp6'), dhcp.get('interfaces').present ? dhcp.get('interfaces').strings() : []),
    secretFile: path(root.get('secret_file').string(resolve(dataDir, 'secret.key'))),
    boot: {
      baseUrl: advertise,
      userClass,
      requiredFeatures: boot.get('required_features').present ? boot.get('required_features').strings() : ['http'],
      loopGuard: boot.get('loop_guard').bool(true),
      bootFiles: {
        bios: files.get('bios').string('undionly.kpxe'),
        'x64-uefi': files.get('x64-uefi').string('snponly.efi'),
        'arm64-uefi': files.get('arm64-uefi').string('ipxe-arm64.efi'),
        ...(files.get('ia32-uefi').present ? { 'ia32-uefi': files.get('ia32-uefi').string() } : {}),
        ...(files.get('arm32-uefi').present ? { 'arm32-uefi': files.get('arm32-uefi').string() } : {}),
      },
      secureBoot: boot.get('secure_boot').bool(false),
      // Debian's signed chain: shim-signed's shim, and grub-efi-amd64-signed's network GRUB that shim loads.
      secureBootFiles: {
        shim: path(boot.get('shim').string('/usr/lib/shim/shimx64.efi.signed')),
        grub: path(boot.get('shim_grub').string('/usr/lib/grub/x86_64-efi-signed/grubnetx64.efi.signed')),
      },
      bootLoader: boot.get('boot_loader').oneOf(['ipxe', 'pxelinux'] as const, 'ipxe'),
      // Debian's PXELINUX for HTTP (package pxelinux) and the COM32 modules it loads (syslinux-common).
      pxelinuxFiles: {
        loader: path(boot.get('pxelinux').string('/usr/lib/PXELINUX/lpxelinux.0')),
        modules: path(boot.get('pxelinux_modules').string('/usr/lib/syslinux/modules/bios')),
      },
      unknown: unknownAction,
      menu: { timeout: menu.get('timeout').int(10, 0, 3600), default: menu.get('default').string('local') },
    },
  };
}
