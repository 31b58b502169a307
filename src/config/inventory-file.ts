/**
 * The declarative inventory format read by `bootherd apply -f` and written by `bootherd export`. Errors name the
 * file, line, column and field; the same document always parses to the same inventory, so apply is idempotent.
 */
import { isIPv4 } from 'node:net';
import { stringify } from 'yaml';
import { normalizeHostname, normalizeMac, normalizeSerial, normalizeUuid } from '../boot/identity.ts';
import type { BootSpec, Group, Inventory, Machine, MenuSettings, NextAction, Profile } from '../store/types.ts';
import { type Value, YamlDoc } from './reader.ts';

const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;
const BOOT_KINDS = ['kernel', 'sanboot', 'chain', 'menu', 'local', 'template'] as const;
const PROFILE_KEYS = [
  'name',
  'description',
  ...BOOT_KINDS,
  'initrds',
  'cmdline',
  'variables',
  'consume',
  'private',
  'title',
];

export function parseInventory(text: string, file: string): Inventory {
  const root = new YamlDoc(text, file).root;
  root.keys(['profiles', 'groups', 'machines']);
  const inv: Inventory = {
    profiles: root.get('profiles').items().map(parseProfile),
    groups: root.get('groups').items().map(parseGroup),
    machines: root.get('machines').items().map(parseMachine),
  };
  checkUnique(
    root.get('profiles'),
    inv.profiles.map((p) => p.name),
  );
  checkUnique(
    root.get('groups'),
    inv.groups.map((g) => g.name),
  );
  checkUnique(
    root.get('machines'),
    inv.machines.map((m) => m.id),
  );
  const profiles = new Set(inv.profiles.map((p) => p.name));
  const groups = new Set(inv.groups.map((g) => g.name));
  const refs = (v: Value, name: string | undefined, known: Set<string>, what: string) => {
    if (name !== undefined && !known.has(name)) v.fail(`${what} "${name}" is not defined in this file`);
  };
  root
    .get('profiles')
    .items()
    .forEach((v, i) => {
      const boot = inv.profiles[i]?.boot;
      if (boot?.kind === 'menu') for (const item of boot.items ?? []) refs(v.get('menu'), item, profiles, 'profile');
    });
  root
    .get('groups')
    .items()
    .forEach((v, i) => {
      refs(v.get('profile'), inv.groups[i]?.profile, profiles, 'profile');
    });
  const macOwner = new Map<string, string>();
  root
    .get('machines')
    .items()
    .forEach((v, i) => {
      const m = inv.machines[i]!;
      refs(v.get('profile'), m.profile, profiles, 'profile');
      refs(v.get('group'), m.group, groups, 'group');
      const next = m.nextAction;
      if (next && 'profile' in next) refs(v.get('next'), next.profile, profiles, 'profile');
      for (const mac of m.macs) {
        const owner = macOwner.get(mac);
        if (owner) v.get('macs').fail(`MAC ${mac} is already used by machine "${owner}"`);
        macOwner.set(mac, m.id);
      }
    });
  return inv;
}

function checkUnique(list: Value, names: string[]): void {
  const seen = new Set<string>();
  names.forEach((n, i) => {
    if (seen.has(n)) list.items()[i]?.fail(`"${n}" is defined twice`);
    seen.add(n);
  });
}

function name(v: Value): string {
  const n = v.string('');
  if (!NAME_RE.test(n)) v.fail('must be 1-63 letters, digits, ".", "_" or "-", starting with a letter or digit');
  return n;
}

function parseProfile(v: Value): Profile {
  const keys = v.keys(PROFILE_KEYS);
  const kinds = BOOT_KINDS.filter((k) => keys.includes(k));
  if (kinds.length !== 1) v.fail(`a profile needs exactly one of ${BOOT_KINDS.join(', ')}`);
  const kind = kinds[0]!;
  const only = (allowed: string[]) => {
    for (const k of ['initrds', 'cmdline', 'title']) {
      if (keys.includes(k) && !allowed.includes(k))
        v.get(k).fail(`only valid with ${allowed.length ? 'kernel' : kind}`);
    }
  };
  let boot: BootSpec;
  switch (kind) {
    case 'kernel':
      only(['initrds', 'cmdline']);
      boot = {
        kind,
        kernel: v.get('kernel').string(),
        initrds: v.get('initrds').strings(),
        cmdline: v.get('cmdline').optString(),
      };
      break;
    case 'sanboot':
    case 'chain':
      only([]);
      boot = { kind, url: v.get(kind).string() };
      break;
    case 'menu': {
      only(['title']);
      const items = v.get('menu');
      boot = {
        kind,
        items:
          items.present && !(items.node && 'value' in items.node && items.node.value === true)
            ? items.strings()
            : undefined,
        title: v.get('title').optString(),
      };
      break;
    }
    case 'local':
      only([]);
      if (!v.get('local').bool(true)) v.get('local').fail('write `local: true` or leave the field out');
      boot = { kind };
      break;
    case 'template':
      only([]);
      boot = { kind, template: v.get('template').string() };
      break;
  }
  const profile: Profile = { name: name(v.get('name')), boot };
  const description = v.get('description').optString();
  if (description !== undefined) profile.description = description;
  if (v.get('variables').present) profile.variables = v.get('variables').record();
  if (v.get('consume').present)
    profile.consume = v.get('consume').oneOf(['on-serve', 'on-callback'] as const, 'on-serve');
  if (v.get('private').present) profile.private = v.get('private').strings();
  return profile;
}

function parseMenu(v: Value): MenuSettings | undefined {
  if (!v.present) return undefined;
  v.keys(['timeout', 'default']);
  const menu: MenuSettings = {};
  if (v.get('timeout').present) menu.timeout = v.get('timeout').int(0, 0, 3600);
  if (v.get('default').present) menu.default = v.get('default').string();
  return menu;
}

function parseGroup(v: Value): Group {
  v.keys(['name', 'description', 'selectors', 'profile', 'menu', 'variables']);
  const group: Group = { name: name(v.get('name')), selectors: v.get('selectors').record() };
  for (const [k, val] of Object.entries(group.selectors)) {
    if (k === 'mac' && !normalizeMac(val)) v.get('selectors').get(k).fail(`"${val}" is not a MAC address`);
    if (k === 'mac') group.selectors[k] = normalizeMac(val)!;
  }
  const description = v.get('description').optString();
  if (description !== undefined) group.description = description;
  const profile = v.get('profile').optString();
  if (profile !== undefined) group.profile = profile;
  const menu = parseMenu(v.get('menu'));
  if (menu) group.menu = menu;
  if (v.get('variables').present) group.variables = v.get('variables').record();
  return group;
}

/** `install`, `install:<profile>`, `local`, `menu` or `profile:<name>`. */
export function parseNextAction(text: string): NextAction | undefined {
  const [action, arg] = text.split(/:(.*)/s, 2) as [string, string | undefined];
  if (action === 'install') return arg ? { action, profile: arg } : { action };
  if ((action === 'local' || action === 'menu') && arg === undefined) return { action };
  if (action === 'profile' && arg) return { action, profile: arg };
  return undefined;
}

export function formatNextAction(next: NextAction): string {
  return 'profile' in next && next.profile ? `${next.action}:${next.profile}` : next.action;
}

function parseMachine(v: Value): Machine {
  v.keys([
    'id',
    'macs',
    'mac',
    'uuid',
    'serial',
    'hostname',
    'ip',
    'labels',
    'profile',
    'group',
    'menu',
    'variables',
    'next',
  ]);
  const macsValue = v.get('macs').present ? v.get('macs') : v.get('mac');
  const macs = macsValue.strings().map((m) => normalizeMac(m) ?? macsValue.fail(`"${m}" is not a MAC address`));
  const machine: Machine = { id: name(v.get('id')), macs, labels: v.get('labels').record() };
  const uuidValue = v.get('uuid');
  if (uuidValue.present) {
    machine.uuid =
      normalizeUuid(uuidValue.string()) ?? uuidValue.fail('not a UUID, or a placeholder that identifies nothing');
  }
  const serialValue = v.get('serial');
  if (serialValue.present) {
    machine.serial =
      normalizeSerial(serialValue.string()) ?? serialValue.fail('a placeholder serial identifies nothing');
  }
  const hostname = normalizeHostname(v.get('hostname').optString());
  if (hostname !== undefined) machine.hostname = hostname;
  const ipValue = v.get('ip');
  if (ipValue.present) {
    const ip = ipValue.string();
    if (!isIPv4(ip)) ipValue.fail(`"${ip}" is not an IPv4 address`);
    if (macs.length === 0) ipValue.fail("a DHCP reservation needs the machine's MAC (macs)");
    machine.ip = ip;
  }
  const profile = v.get('profile').optString();
  if (profile !== undefined) machine.profile = profile;
  const group = v.get('group').optString();
  if (group !== undefined) machine.group = group;
  const menu = parseMenu(v.get('menu'));
  if (menu) machine.menu = menu;
  if (v.get('variables').present) machine.variables = v.get('variables').record();
  const next = v.get('next');
  if (next.present) {
    machine.nextAction =
      parseNextAction(next.string()) ?? next.fail('must be install, install:<profile>, local, menu or profile:<name>');
  }
  if (macs.length === 0 && !machine.uuid && !machine.serial && !machine.hostname) {
    v.fail('a machine needs at least one of macs, uuid, serial or hostname to be recognised');
  }
  return machine;
}

/** The inverse of parseInventory: `bootherd export` output that `bootherd apply` takes back unchanged. */
export function formatInventory(inv: Inventory): string {
  const profiles = inv.profiles.map((p) => {
    const { boot } = p;
    const out: Record<string, unknown> = { name: p.name };
    if (p.description !== undefined) out.description = p.description;
    switch (boot.kind) {
      case 'kernel':
        Object.assign(out, { kernel: boot.kernel, initrds: boot.initrds });
        if (boot.cmdline !== undefined) out.cmdline = boot.cmdline;
        break;
      case 'sanboot':
        out.sanboot = boot.url;
        break;
      case 'chain':
        out.chain = boot.url;
        break;
      case 'menu':
        out.menu = boot.items ?? true;
        if (boot.title !== undefined) out.title = boot.title;
        break;
      case 'local':
        out.local = true;
        break;
      case 'template':
        out.template = boot.template;
        break;
    }
    if (p.variables) out.variables = p.variables;
    if (p.consume) out.consume = p.consume;
    if (p.private) out.private = p.private;
    return out;
  });
  const machines = inv.machines.map((m) => {
    const { nextAction, lastSeen: _, ...rest } = m;
    return nextAction ? { ...rest, next: formatNextAction(nextAction) } : rest;
  });
  return stringify({ profiles, groups: inv.groups, machines }, { lineWidth: 0 });
}
