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
import type { Group, Machine, MenuSettings, NextAction, Profile } from './types.ts';

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
  return g;
}
