/**
 * Every iPXE script bootherd serves. Each takes typed input and returns script text; quoting is in quote.ts, line
 * assembly in builder.ts. Golden files for each kind are in test/unit/ipxe/golden/.
 */
import { isIPv4 } from 'node:net';
import Handlebars from 'handlebars';
import { BootherdError } from '../errors.ts';
import { IpxeScript } from './builder.ts';
import { assertNoLineBreak, int, lit, type Safe, text, url, word } from './quote.ts';

/** After a failed boot step: say why, give the operator time to read it, then let the firmware try the next device. */
const failureTail = new IpxeScript('fragment')
  .blank()
  .label('failed')
  .echo('bootherd: boot failed, error ${errno}; returning to the firmware in 10 seconds')
  .cmd('sleep', int('sleep', 10))
  .cmd('exit', int('exit', 1));

/**
 * The script every iPXE first fetches: it reports who it is and chains to its own script. `netX` is the device iPXE
 * opened last — the one it booted from — so on a multi-NIC machine the MAC is the booting NIC's, not net0's.
 */
export function bootstrapScript(opts: { baseUrl: string }): string {
  const query = [
    'mac=${netX/mac:hexhyp}',
    'uuid=${uuid}',
    'serial=${serial:uristring}',
    'hostname=${hostname:uristring}',
    'buildarch=${buildarch}',
    'platform=${platform}',
    'nic=${bootherd-nic}',
  ].join('&');
  const target = url('baseUrl', `${opts.baseUrl}/ipxe?${query}`);
  return new IpxeScript()
    .comment('bootherd bootstrap: identify this machine and fetch the script chosen for it')
    .orGoto('retry', 'chain', lit('--autofree'), target)
    .label('retry')
    .echo('bootherd: could not fetch this machine script (error ${errno}); retrying in 5 seconds')
    .cmd('sleep', int('sleep', 5))
    .orGoto('failed', 'chain', lit('--autofree'), target)
    .cmd('exit', int('exit', 0))
    .append(failureTail)
    .toString();
}

export interface KernelScript {
  kernel: string;
  initrds: string[];
  cmdline: string;
  platform?: string;
}

/** The decoded last path segment of each initrd URL seen: the same few profile URLs serve every machine, and
 * parsing one was a tenth of a kernel script's rendering. */
const fileNames = new Map<string, string>();

function fileName(u: string): string {
  let name = fileNames.get(u);
  if (name === undefined) {
    name = decodeURIComponent(new URL(u).pathname.split('/').pop() ?? '');
    if (fileNames.size >= 1024) fileNames.clear();
    fileNames.set(u, name);
  }
  return name;
}

/** Name each initrd after its file when that is a plain, unique name (what `initrd=` users expect), else `initrdN`. */
function initrdNames(urls: string[]): string[] {
  const base = urls.map(fileName);
  return base.map((b, i) =>
    /^[A-Za-z0-9._-]{1,64}$/.test(b) && base.indexOf(b) === base.lastIndexOf(b) ? b : `initrd${i}`,
  );
}

/**
 * Kernel, initrds, command line. Each initrd gets a `--name` and the command line an `initrd=<name>` for it: a
 * Linux EFI stub loads its initrds by those names from iPXE's virtual file system; the BIOS loader ignores them.
 */
export function kernelScript(k: KernelScript): string {
  const s = new IpxeScript().comment('bootherd: kernel boot');
  const names = initrdNames(k.initrds);
  const cmdline = [...names.map((n) => `initrd=${n}`), k.cmdline].filter((x) => x !== '').join(' ');
  s.orGoto('failed', 'kernel', url('kernel', k.kernel), ...(cmdline ? [text('cmdline', cmdline)] : []));
  k.initrds.forEach((i, n) => {
    s.orGoto('failed', 'initrd', lit('--name'), word('initrd name', names[n] ?? ''), url('initrd', i));
  });
  return s.orGoto('failed', 'boot').append(failureTail).toString();
}

/** An ISO or disk image over HTTP; `--no-describe` keeps the SAN device out of the iBFT so the OS does not hang on it. */
export function sanbootScript(opts: { url: string }): string {
  return new IpxeScript()
    .comment('bootherd: sanboot an image')
    .orGoto('failed', 'sanboot', lit('--no-describe'), url('sanboot', opts.url))
    .append(failureTail)
    .toString();
}

export function chainScript(opts: { url: string }): string {
  return new IpxeScript()
    .comment('bootherd: chain')
    .orGoto('failed', 'chain', lit('--autofree'), url('chain', opts.url))
    .append(failureTail)
    .toString();
}

/**
 * Boot the local disk. UEFI: `exit` hands control back to the boot manager, which moves to the next boot option.
 * BIOS: `exit` from a PXE ROM often hangs or loops, so boot the first hard disk directly and only then exit.
 * When the platform is not known the script decides at run time from `${platform}`.
 */
function appendLocal(s: IpxeScript, platform: string | undefined): IpxeScript {
  if (platform === 'efi') return s.cmd('exit', int('exit', 0));
  if (platform !== 'pcbios')
    s.cmd('iseq', lit('${platform}'), lit('efi'), lit('&&'), lit('exit'), int('exit', 0), lit('||'));
  return s.cmd('sanboot', lit('--no-describe'), lit('--drive'), lit('0x80'), lit('||')).cmd('exit', int('exit', 1));
}

export function localScript(opts: { platform?: string; message?: string }): string {
  const s = new IpxeScript().comment('bootherd: boot from local disk');
  s.echo(opts.message ?? 'bootherd: booting from the local disk');
  return appendLocal(s, opts.platform).toString();
}

export type MenuItemKind = 'profile' | 'local' | 'shell' | 'config' | 'reboot' | 'exit';

export interface MenuItem {
  /** Stable key, used for the default. */
  key: string;
  label: string;
  kind: MenuItemKind;
  /** For profile items: the URL of that profile's script. */
  url?: string;
}

export interface MenuScript {
  title: string;
  items: MenuItem[];
  /** Seconds; 0 waits for a choice. */
  timeout: number;
  /** Key of the default item. */
  default: string;
  platform?: string;
}

/**
 * A menu as an operator writes one by hand: a titled list, a timeout with a default, then one label per item.
 * Item ids are generated (`item0`…), so profile names never become goto targets.
 */
export function menuScript(m: MenuScript): string {
  const ids = m.items.map((_, i) => `item${i}`);
  const defIndex = m.items.findIndex((i) => i.key === m.default);
  const s = new IpxeScript().comment('bootherd: boot menu').label('start');
  s.cmd('menu', lit('--'), text('menu title', m.title));
  let lastWasProfile = m.items[0]?.kind === 'profile';
  m.items.forEach((item, i) => {
    const isProfile = item.kind === 'profile';
    if (i > 0 && isProfile !== lastWasProfile) s.cmd('item', lit('--gap'));
    lastWasProfile = isProfile;
    s.cmd('item', lit('--'), word('item', ids[i] ?? ''), text('menu item label', item.label));
  });
  const choose = [lit('--timeout'), int('timeout', Math.round(m.timeout * 1000))];
  if (defIndex >= 0) choose.push(lit('--default'), word('default', ids[defIndex] ?? ''));
  s.cmd(
    'choose',
    ...choose,
    lit('target'),
    lit('&&'),
    lit('goto'),
    lit('${target}'),
    lit('||'),
    lit('goto'),
    lit('cancel'),
  );
  m.items.forEach((item, i) => {
    s.blank().label(ids[i] ?? '');
    switch (item.kind) {
      case 'profile':
        if (!item.url) throw new BootherdError('SCRIPT_VALUE', `menu item ${item.key} has no URL`);
        s.orGoto('failed', 'chain', lit('--autofree'), url('menu item url', item.url));
        break;
      case 'local':
        appendLocal(s, m.platform);
        break;
      case 'shell':
        s.cmd('shell').cmd('goto', lit('start'));
        break;
      case 'config':
        s.cmd('config').cmd('goto', lit('start'));
        break;
      case 'reboot':
        s.cmd('reboot');
        break;
      case 'exit':
        s.cmd('exit', int('exit', 0));
        break;
    }
  });
  // Escape at the menu: boot the local disk, the least surprising thing for a machine nobody is watching.
  s.blank().label('cancel');
  appendLocal(s, m.platform);
  return s.append(failureTail).toString();
}

/**
 * An embeddable script for machines with several NICs: open net0, net1, … in turn, configure it by DHCP, and chain
 * bootherd from the first that works. It records which NIC in `bootherd-nic` so the bootstrap can report it.
 */
export function tryEveryNicScript(opts: { bootUrl: string; maxNics: number }): string {
  if (!Number.isInteger(opts.maxNics) || opts.maxNics < 1 || opts.maxNics > 32) {
    throw new BootherdError('BAD_REQUEST', `--nics must be between 1 and 32, got ${opts.maxNics}`);
  }
  const target = url('bootUrl', opts.bootUrl);
  const s = new IpxeScript().comment('bootherd: try every NIC in turn, chain bootherd from the first that answers');
  for (let n = 0; n < opts.maxNics; n++) {
    const nic = `net${n}`;
    s.blank().label(`try${n}`);
    const next = n + 1 < opts.maxNics ? `try${n + 1}` : 'none';
    s.cmd('isset', lit(`\${${nic}/mac}`), lit('||'), lit('goto'), lit('none'));
    s.echo(`bootherd: trying ${nic} \${${nic}/mac}`);
    s.orGoto(next, 'ifconf', lit('--configurator'), lit('dhcp'), lit(nic));
    s.cmd('set', lit('bootherd-nic'), lit(nic));
    s.cmd('chain', lit('--autofree'), target, lit('||'), lit('ifclose'), lit(nic));
  }
  return s
    .blank()
    .label('none')
    .echo('bootherd: no NIC could reach the boot server; returning to the firmware in 10 seconds')
    .cmd('sleep', int('sleep', 10))
    .cmd('exit', int('exit', 1))
    .toString();
}

export interface StaticScript {
  bootUrl: string;
  /** The NIC to configure: 0 is net0. */
  nic: number;
  address: string;
  prefix: number;
  gateway: string;
  dns?: string;
}

function ipv4(field: string, value: string): Safe {
  if (!isIPv4(value)) throw new BootherdError('SCRIPT_VALUE', `${field}: "${value}" is not an IPv4 address`, { field });
  return word(field, value);
}

function netmask(prefix: number): string {
  if (!Number.isInteger(prefix) || prefix < 0 || prefix > 32) {
    throw new BootherdError('SCRIPT_VALUE', `prefix: ${prefix} is not between 0 and 32`, { field: 'prefix' });
  }
  const bits = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
  return [24, 16, 8, 0].map((s) => (bits >>> s) & 255).join('.');
}

/**
 * For a segment without DHCP: set one NIC's address by hand and chain bootherd. No DHCP is attempted at all, so a
 * stray DHCP server cannot hand this machine another address.
 */
export function staticScript(o: StaticScript): string {
  if (!Number.isInteger(o.nic) || o.nic < 0 || o.nic > 31) {
    throw new BootherdError('SCRIPT_VALUE', `nic: must be between 0 and 31, got ${o.nic}`, { field: 'nic' });
  }
  const nic = `net${o.nic}`;
  const s = new IpxeScript()
    .comment(`bootherd: static address on ${nic}, no DHCP, chain bootherd`)
    .cmd('set', lit(`${nic}/ip`), ipv4('address', o.address))
    .cmd('set', lit(`${nic}/netmask`), lit(netmask(o.prefix)))
    .cmd('set', lit(`${nic}/gateway`), ipv4('gateway', o.gateway));
  if (o.dns !== undefined) s.cmd('set', lit('dns'), ipv4('dns', o.dns));
  return s
    .orGoto('failed', 'ifopen', lit(nic))
    .cmd('set', lit('bootherd-nic'), lit(nic))
    .orGoto('failed', 'chain', lit('--autofree'), url('bootUrl', o.bootUrl))
    .append(failureTail)
    .toString();
}

const templates = Handlebars.create();
/** `{{uri x}}`: a value for a URL query; percent-encoding also removes any meaning `$` and `{` had for iPXE. */
templates.registerHelper('uri', (v: unknown) => encodeURIComponent(String(v ?? '').replaceAll('${}', '')));

interface Template {
  /** Every name a mustache of the template mentions (variables, helpers): only these values need quoting. */
  names: ReadonlySet<string>;
  /** Literal, variable, literal, … when every mustache is a plain `{{name}}`: rendered by concatenation. */
  parts?: string[];
  fn?: HandlebarsTemplateDelegate;
}
const compiled = new Map<string, Template>();
const MUSTACHE = /\{\{([^}]*)\}\}/g;
const PLAIN = /^\s*([A-Za-z_][A-Za-z0-9_]*)\s*$/;
/** Names handlebars reads as literals or keywords, not as variables. */
const RESERVED = new Set(['this', 'true', 'false', 'null', 'undefined', 'else']);

function compileTemplate(template: string): Template {
  let t = compiled.get(template);
  if (t) return t;
  const names = new Set<string>();
  for (const m of template.matchAll(MUSTACHE))
    for (const w of m[1]!.matchAll(/[A-Za-z_][A-Za-z0-9_]*/g)) names.add(w[0]);
  // The common profile string (`hostname={{hostname}}`) needs none of handlebars' machinery; anything else it gets
  // (helpers, blocks, triple or whitespace-controlled mustaches, escapes, a stray `{{`).
  const parts: string[] = [];
  let at = 0;
  let plain = !template.includes('\\') && !template.includes('{{{');
  for (const m of template.matchAll(MUSTACHE)) {
    const name = PLAIN.exec(m[1]!)?.[1];
    if (!plain || name === undefined || RESERVED.has(name)) {
      plain = false;
      break;
    }
    parts.push(template.slice(at, m.index), name);
    at = m.index + m[0].length;
  }
  if (plain) parts.push(template.slice(at));
  // Handlebars' lexer reads a brace touching a mustache (`{{x}}}`) as part of it.
  for (let i = 0; plain && i < parts.length; i += 2)
    if (
      parts[i]!.includes('{{') ||
      (i > 0 && parts[i]!.startsWith('}')) ||
      (i < parts.length - 1 && parts[i]!.endsWith('{'))
    )
      plain = false;
  t = plain ? { names, parts } : { names };
  if (compiled.size > 256) compiled.clear();
  compiled.set(template, t);
  return t;
}

/** The names a template's mustaches mention (a superset of the variables it reads). */
export function templateNames(template: string): ReadonlySet<string> {
  return compileTemplate(template).names;
}

/**
 * A user template (handlebars, strict: a missing variable is an error, no HTML escaping). Every variable the
 * template names is made script-safe before the template sees it: a line break is rejected, terminators and comments
 * are defused (a value it never reads cannot reach the script and is not looked at).
 */
export function renderTemplate(template: string, vars: Record<string, string>): string {
  const t = compileTemplate(template);
  const safe: Record<string, string> = {};
  let complete = true;
  for (const k of t.names) {
    const v = vars[k];
    if (v === undefined || !Object.hasOwn(vars, k)) {
      complete = false;
      continue;
    }
    assertNoLineBreak(`variable ${k}`, v);
    safe[k] = text(`variable ${k}`, v);
  }
  if (t.parts && complete) {
    let out = t.parts[0]!;
    for (let i = 1; i < t.parts.length; i += 2) out += safe[t.parts[i]!]! + t.parts[i + 1]!;
    return out;
  }
  try {
    t.fn ??= templates.compile(template, { strict: true, noEscape: true });
    return t.fn(safe);
  } catch (err) {
    if (err instanceof BootherdError) throw err;
    throw new BootherdError(
      'SCRIPT_VALUE',
      `template: ${(err as Error).message.split('\n')[0]?.replace(' in [object Object]', '')}`,
    );
  }
}
