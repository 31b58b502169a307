/**
 * The one validator of inventory records. The API (after its schema check), the CLI and the inventory-file reader
 * all pass records through here before anything is stored, so a machine is judged by the same rules whichever door
 * it came in by. Each check names the field it rejects (`macs/1`, `boot/kernel`) so the caller can point at it: the
 * API as `field`, the YAML reader as file:line:column.
 */
import { isIPv4 } from 'node:net';
import { BootherdError } from '../errors.ts';
import { normalizeHostname, normalizeMac, normalizeSerial, normalizeUuid } from './identity.ts';
import { NAME_PATTERN } from './schemas.ts';
import type {
  BootLoader,
  Group,
  IpmiPower,
  Machine,
  MenuSettings,
  NextAction,
  PowerSpec,
  Profile,
  RedfishPower,
  SecretRef,
  WolPower,
} from './types.ts';

const NAME_RE = new RegExp(NAME_PATTERN);
const SELECTOR_KEYS = [
  'mac',
  'uuid',
  'serial',
  'hostname',
  'arch',
  'platform',
  'buildarch',
  'vendor_class',
  'user_class',
];

/** A rejected field: `field` is a slash path from the record's root. */
export function fieldError(field: string, reason: string): BootherdError {
  return new BootherdError('VALIDATION', `${field}: ${reason}`, { field, reason });
}

function checkName(field: string, value: string): string {
  if (!NAME_RE.test(value))
    throw fieldError(field, 'must be 1-63 letters, digits, ".", "_" or "-", starting with a letter or digit');
  return value;
}

/** Values end up in iPXE scripts and kernel command lines: no control characters, ever. */
function checkText(field: string, value: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: that is the point
  if (/[\u0000-\u0008\u000a-\u001f\u007f]/.test(value)) throw fieldError(field, 'control characters are not allowed');
  return value;
}

function checkMap(field: string, map: Record<string, string> | undefined): Record<string, string> | undefined {
  if (map === undefined) return undefined;
  for (const [k, v] of Object.entries(map)) {
    if (!/^[A-Za-z0-9_.-]{1,64}$/.test(k)) throw fieldError(`${field}/${k}`, 'keys are letters, digits, ".", "_", "-"');
    if (typeof v !== 'string') throw fieldError(`${field}/${k}`, 'must be a string');
    checkText(`${field}/${k}`, v);
  }
  return map;
}

/** Boot kinds only iPXE runs: a Secure Boot machine boots through shim and GRUB instead. */
export const IPXE_ONLY: ReadonlySet<string> = new Set(['sanboot', 'chain', 'template']);

function checkBool(field: string, v: unknown): boolean {
  if (typeof v !== 'boolean') throw fieldError(field, 'expected true or false');
  return v;
}

const BOOT_LOADERS: readonly BootLoader[] = ['ipxe', 'pxelinux'];

function checkBootLoader(field: string, v: unknown): BootLoader {
  if (!BOOT_LOADERS.includes(v as BootLoader))
    throw fieldError(field, `must be ${BOOT_LOADERS.join(' or ')}, got ${JSON.stringify(v)}`);
  return v as BootLoader;
}

function checkMenu(field: string, menu: MenuSettings | undefined): MenuSettings | undefined {
  if (menu === undefined) return undefined;
  if (menu.timeout !== undefined && (!Number.isInteger(menu.timeout) || menu.timeout < 0 || menu.timeout > 3600))
    throw fieldError(`${field}/timeout`, 'must be a whole number of seconds from 0 to 3600');
  if (menu.default !== undefined) checkText(`${field}/default`, menu.default);
  return menu;
}

export function checkNextAction(field: string, next: NextAction): NextAction {
  if ('profile' in next && next.profile !== undefined) checkName(`${field}/profile`, next.profile);
  return next;
}

/** Normalise and check one machine; returns the stored form (lower-case colon MACs, canonical UUID). */
export function checkMachine(input: Machine): Machine {
  const id = checkName('id', input.id);
  const seen = new Set<string>();
  const macs = input.macs.map((raw, i) => {
    const mac = normalizeMac(raw);
    if (!mac) throw fieldError(`macs/${i}`, `"${raw}" is not a MAC address`);
    if (seen.has(mac)) throw fieldError(`macs/${i}`, `${mac} is listed twice`);
    seen.add(mac);
    return mac;
  });
  const m: Machine = { id, macs, labels: checkMap('labels', input.labels ?? {}) ?? {} };
  if (input.uuid !== undefined) {
    m.uuid = normalizeUuid(input.uuid);
    if (!m.uuid) throw fieldError('uuid', 'not a UUID, or a placeholder that identifies nothing');
  }
  if (input.serial !== undefined) {
    m.serial = normalizeSerial(checkText('serial', input.serial));
    if (!m.serial) throw fieldError('serial', 'a placeholder serial identifies nothing');
  }
  if (input.hostname !== undefined) {
    const h = normalizeHostname(checkText('hostname', input.hostname));
    if (h !== undefined) m.hostname = h;
  }
  if (input.ip !== undefined) {
    if (!isIPv4(input.ip)) throw fieldError('ip', `"${input.ip}" is not an IPv4 address`);
    if (!macs.length) throw fieldError('ip', "a DHCP reservation needs the machine's MAC (macs)");
    m.ip = input.ip;
  }
  // A static address for boot media: the address is `ip`, these complete it.
  if (input.prefix !== undefined) {
    if (!Number.isInteger(input.prefix) || input.prefix < 1 || input.prefix > 32)
      throw fieldError('prefix', 'must be a prefix length from 1 to 32');
    if (input.ip === undefined) throw fieldError('prefix', 'is the prefix length of ip: give ip too');
    m.prefix = input.prefix;
  }
  for (const key of ['gateway', 'dns'] as const) {
    const v = input[key];
    if (v === undefined) continue;
    if (!isIPv4(v)) throw fieldError(key, `"${v}" is not an IPv4 address`);
    m[key] = v;
  }
  if (input.profile !== undefined) m.profile = checkName('profile', input.profile);
  if (input.group !== undefined) m.group = checkName('group', input.group);
  const menu = checkMenu('menu', input.menu);
  if (menu) m.menu = menu;
  const variables = checkMap('variables', input.variables);
  if (variables) m.variables = variables;
  if (input.nextAction) m.nextAction = checkNextAction('nextAction', input.nextAction);
  if (input.secureBoot !== undefined) m.secureBoot = checkBool('secureBoot', input.secureBoot);
  if (input.bootLoader !== undefined) m.bootLoader = checkBootLoader('bootLoader', input.bootLoader);
  if (input.power !== undefined) {
    m.power = checkPower('power', input.power as unknown);
    if ('wol' in m.power && !m.power.wol.mac && !macs.length)
      throw fieldError('power/wol/mac', 'the machine has no MAC to wake: give one here or in macs');
  }
  if (!macs.length && !m.uuid && !m.serial && !m.hostname)
    throw fieldError('macs', 'a machine needs at least one of macs, uuid, serial or hostname to be recognised');
  return m;
}

export function checkProfile(input: Profile): Profile {
  checkName('name', input.name);
  const b = input.boot;
  const text = (f: string, v: string) => {
    if (v.trim() === '') throw fieldError(f, 'must not be empty');
    return checkText(f, v);
  };
  switch (b.kind) {
    case 'kernel':
      text('boot/kernel', b.kernel);
      b.initrds.forEach((x, i) => {
        text(`boot/initrds/${i}`, x);
      });
      if (b.cmdline !== undefined) checkText('boot/cmdline', b.cmdline);
      break;
    case 'sanboot':
    case 'chain':
      text('boot/url', b.url);
      break;
    case 'menu':
      b.items?.forEach((x, i) => {
        checkName(`boot/items/${i}`, x);
      });
      if (b.title !== undefined) checkText('boot/title', b.title);
      break;
    case 'template':
      text('boot/template', b.template);
      break;
    case 'local':
      break;
  }
  checkMap('variables', input.variables);
  if (input.secureBoot !== undefined) checkBool('secureBoot', input.secureBoot);
  if (input.secureBoot && IPXE_ONLY.has(b.kind))
    throw fieldError(
      'secureBoot',
      `a ${b.kind} profile needs iPXE, which Secure Boot refuses (Debian does not sign it)`,
    );
  if (input.bootLoader !== undefined) checkBootLoader('bootLoader', input.bootLoader);
  if (input.bootLoader === 'pxelinux' && IPXE_ONLY.has(b.kind))
    throw fieldError('bootLoader', `a ${b.kind} profile is an iPXE profile: PXELINUX cannot boot it`);
  input.private?.forEach((p, i) => {
    if (p.split('/').includes('..')) throw fieldError(`private/${i}`, 'must not contain ".."');
  });
  return input;
}

export function checkGroup(input: Group): Group {
  checkName('name', input.name);
  const selectors: Record<string, string> = {};
  for (const [k, v] of Object.entries(input.selectors)) {
    const field = `selectors/${k}`;
    // Any other key is a label (`role` and `label.role` both match a machine's label role).
    if (!/^[A-Za-z0-9_.-]{1,70}$/.test(k))
      throw fieldError(field, `selector keys are ${SELECTOR_KEYS.join(', ')}, or a label name`);
    if (k === 'mac') {
      const mac = normalizeMac(v);
      if (!mac) throw fieldError(field, `"${v}" is not a MAC address`);
      selectors[k] = mac;
    } else selectors[k] = checkText(field, v);
  }
  const g: Group = { ...input, selectors };
  if (input.profile !== undefined) checkName('profile', input.profile);
  checkMenu('menu', input.menu);
  checkMap('variables', input.variables);
  if (input.secureBoot !== undefined) checkBool('secureBoot', input.secureBoot);
  if (input.bootLoader !== undefined) checkBootLoader('bootLoader', input.bootLoader);
  return g;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The fields of an object, refusing unknown ones (a typo must not silently drop, say, `insecure: false`). */
function fieldsOf(field: string, v: unknown, allowed: string[]): Record<string, unknown> {
  if (!isObject(v)) throw fieldError(field, 'expected a mapping');
  for (const k of Object.keys(v))
    if (!allowed.includes(k))
      throw fieldError(`${field}/${k}`, `unknown field (expected one of: ${allowed.join(', ')})`);
  return v;
}

function needString(field: string, v: unknown, max: number): string {
  if (typeof v !== 'string' || v.trim() === '') throw fieldError(field, 'expected a non-empty string');
  if (v.length > max) throw fieldError(field, `at most ${max} characters`);
  return checkText(field, v);
}

/**
 * A password reference. The value itself is never echoed in an error: if someone pasted a password here, the
 * message must not carry it into a log or an API response.
 */
function checkSecretRef(field: string, v: unknown): SecretRef {
  if (!isObject(v) || Object.keys(v).length !== 1 || !('file' in v || 'env' in v))
    throw fieldError(
      field,
      'must be a reference, {file: <name in data_dir/bmc-secrets>} or {env: BMC_<NAME>}; never the password itself',
    );
  if ('env' in v) {
    if (typeof v.env !== 'string' || !/^BMC_[A-Z0-9_]{1,120}$/.test(v.env))
      throw fieldError(`${field}/env`, 'must name an environment variable BMC_<NAME> (capitals, digits, _)');
    return { env: v.env };
  }
  if (typeof v.file !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9._-]{0,254}$/.test(v.file))
    throw fieldError(`${field}/file`, 'must be a file name in data_dir/bmc-secrets (letters, digits, ".", "_", "-")');
  return { file: v.file };
}

/** Exactly one power method: `ipmi`, `redfish` or `wol`. */
export function checkPower(field: string, v: unknown): PowerSpec {
  const methods = ['ipmi', 'redfish', 'wol'];
  const top = fieldsOf(field, v, methods);
  const keys = Object.keys(top);
  if (keys.length !== 1) throw fieldError(field, 'needs exactly one of ipmi, redfish or wol');
  if (top.ipmi !== undefined) {
    const f = `${field}/ipmi`;
    const o = fieldsOf(f, top.ipmi, ['host', 'port', 'user', 'password']);
    const ipmi: IpmiPower = {
      host: needString(`${f}/host`, o.host, 253),
      user: needString(`${f}/user`, o.user, 64),
      password: checkSecretRef(`${f}/password`, o.password),
    };
    if (o.port !== undefined) {
      if (typeof o.port !== 'number' || !Number.isInteger(o.port) || o.port < 1 || o.port > 65535)
        throw fieldError(`${f}/port`, 'must be a UDP port from 1 to 65535');
      ipmi.port = o.port;
    }
    return { ipmi };
  }
  if (top.redfish !== undefined) {
    const f = `${field}/redfish`;
    const o = fieldsOf(f, top.redfish, ['url', 'user', 'password', 'system', 'insecure']);
    const url = needString(`${f}/url`, o.url, 2048);
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw fieldError(`${f}/url`, 'is not a URL');
    }
    // Basic auth goes with every request: never over plain HTTP.
    if (parsed.protocol !== 'https:') throw fieldError(`${f}/url`, 'must be an https:// URL');
    if (parsed.username || parsed.password)
      throw fieldError(`${f}/url`, 'must not carry credentials; use user/password');
    const redfish: RedfishPower = {
      url: url.replace(/\/+$/, ''),
      user: needString(`${f}/user`, o.user, 64),
      password: checkSecretRef(`${f}/password`, o.password),
    };
    if (o.system !== undefined) redfish.system = checkName(`${f}/system`, needString(`${f}/system`, o.system, 63));
    if (o.insecure !== undefined) {
      if (typeof o.insecure !== 'boolean') throw fieldError(`${f}/insecure`, 'expected true or false');
      redfish.insecure = o.insecure;
    }
    return { redfish };
  }
  const f = `${field}/wol`;
  const o = fieldsOf(f, top.wol, ['mac', 'interface']);
  const iface = needString(`${f}/interface`, o.interface, 15);
  if (!/^[A-Za-z0-9._@-]{1,15}$/.test(iface)) throw fieldError(`${f}/interface`, 'is not a network interface name');
  const wol: WolPower = { interface: iface };
  if (o.mac !== undefined) {
    const mac = typeof o.mac === 'string' ? normalizeMac(o.mac) : undefined;
    if (!mac) throw fieldError(`${f}/mac`, 'is not a MAC address');
    wol.mac = mac;
  }
  return { wol };
}
