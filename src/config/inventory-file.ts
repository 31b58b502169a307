/**
 * The declarative inventory format read by `bootherd apply -f` and written by `bootherd export`. Errors name the
 * file, line, column and field; the same document always parses to the same inventory, so apply is idempotent.
 */
import { stringify } from 'yaml';
import { BootherdError } from '../errors.ts';
import { checkDocument } from '../model/document.ts';
import type {
  BootLoader,
  BootSpec,
  Group,
  Inventory,
  Machine,
  MenuSettings,
  NextAction,
  Profile,
} from '../model/types.ts';
import { type Value, YamlDoc } from './reader.ts';

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
  'secure_boot',
  'boot_loader',
];

export function parseInventory(text: string, file: string): Inventory {
  const root = new YamlDoc(text, file).root;
  root.keys(['profiles', 'groups', 'machines']);
  // The YAML shapes are read here; every rule about their values is the one document validator's.
  const raw: Inventory = {
    profiles: root.get('profiles').items().map(parseProfile),
    groups: root.get('groups').items().map(parseGroup),
    machines: root.get('machines').items().map(parseMachine),
  };
  try {
    return checkDocument(raw);
  } catch (err) {
    if (!(err instanceof BootherdError) || typeof err.detail?.field !== 'string') throw err;
    return nodeAt(root, err.detail.field).fail(String(err.detail.reason ?? err.message));
  }
}

/**
 * The YAML node a validator field path (`machines/1/macs/0`, `profiles/0/boot/kernel`) names, or the nearest one
 * present: the file spells some fields its own way (`next`, `mac`, a profile's `kernel:`/`sanboot:` at its top).
 */
function nodeAt(root: Value, field: string): Value {
  const spellings: Record<string, string[]> = {
    nextAction: ['next'],
    secureBoot: ['secure_boot'],
    bootLoader: ['boot_loader'],
    macs: ['macs', 'mac'],
    boot: [],
    url: ['sanboot', 'chain'],
    items: ['menu'],
  };
  let node = root;
  for (const seg of field.split('/')) {
    const names = spellings[seg] ?? [seg];
    if (!names.length) continue;
    const next = /^\d+$/.test(seg) ? node.items()[Number(seg)] : names.map((n) => node.get(n)).find((v) => v.present);
    if (!next?.present) break;
    node = next;
  }
  return node;
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
  const profile: Profile = { name: v.get('name').string(''), boot };
  const description = v.get('description').optString();
  if (description !== undefined) profile.description = description;
  if (v.get('variables').present) profile.variables = v.get('variables').record();
  if (v.get('consume').present)
    profile.consume = v.get('consume').oneOf(['on-serve', 'on-callback'] as const, 'on-serve');
  if (v.get('private').present) profile.private = v.get('private').strings();
  if (v.get('secure_boot').present) profile.secureBoot = v.get('secure_boot').bool(false);
  if (v.get('boot_loader').present) profile.bootLoader = v.get('boot_loader').string() as BootLoader;
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
  v.keys(['name', 'description', 'selectors', 'profile', 'menu', 'variables', 'secure_boot', 'boot_loader']);
  const group: Group = { name: v.get('name').string(''), selectors: v.get('selectors').record() };
  const description = v.get('description').optString();
  if (description !== undefined) group.description = description;
  const profile = v.get('profile').optString();
  if (profile !== undefined) group.profile = profile;
  const menu = parseMenu(v.get('menu'));
  if (menu) group.menu = menu;
  if (v.get('variables').present) group.variables = v.get('variables').record();
  if (v.get('secure_boot').present) group.secureBoot = v.get('secure_boot').bool(false);
  if (v.get('boot_loader').present) group.bootLoader = v.get('boot_loader').string() as BootLoader;
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
    'prefix',
    'gateway',
    'dns',
    'labels',
    'profile',
    'group',
    'menu',
    'variables',
    'next',
    'power',
    'secure_boot',
    'boot_loader',
  ]);
  const macsKey = v.get('macs').present ? 'macs' : 'mac';
  const machine: Machine = {
    id: v.get('id').string(''),
    macs: v.get(macsKey).strings(),
    labels: v.get('labels').record(),
  };
  if (v.get('prefix').present) machine.prefix = v.get('prefix').int(0, 0, 128);
  for (const key of ['uuid', 'serial', 'hostname', 'ip', 'gateway', 'dns', 'profile', 'group'] as const) {
    const value = v.get(key).optString();
    if (value !== undefined) machine[key] = value;
  }
  const menu = parseMenu(v.get('menu'));
  if (menu) machine.menu = menu;
  if (v.get('variables').present) machine.variables = v.get('variables').record();
  if (v.get('secure_boot').present) machine.secureBoot = v.get('secure_boot').bool(false);
  if (v.get('boot_loader').present) machine.bootLoader = v.get('boot_loader').string() as BootLoader;
  // The power block's shape and rules are the validator's (checkPower), which names the field for file:line.
  const power = v.get('power');
  if (power.present) machine.power = (power.node as { toJSON(): unknown }).toJSON() as Machine['power'];
  const next = v.get('next');
  if (next.present) {
    machine.nextAction =
      parseNextAction(next.string()) ?? next.fail('must be install, install:<profile>, local, menu or profile:<name>');
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
    if (p.secureBoot !== undefined) out.secure_boot = p.secureBoot;
    if (p.bootLoader !== undefined) out.boot_loader = p.bootLoader;
    return out;
  });
  // The file spells secureBoot `secure_boot` and bootLoader `boot_loader`, as the config does.
  const fileKeys = <T extends { secureBoot?: boolean; bootLoader?: BootLoader }>({
    secureBoot,
    bootLoader,
    ...rest
  }: T) => ({
    ...rest,
    ...(secureBoot === undefined ? {} : { secure_boot: secureBoot }),
    ...(bootLoader === undefined ? {} : { boot_loader: bootLoader }),
  });
  const machines = inv.machines.map((m) => {
    const { nextAction, lastSeen: _, ...rest } = fileKeys(m);
    return nextAction ? { ...rest, next: formatNextAction(nextAction) } : rest;
  });
  return stringify({ profiles, groups: inv.groups.map(fileKeys), machines }, { lineWidth: 0 });
}
