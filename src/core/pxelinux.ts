/**
 * PXELINUX over HTTP. A BIOS machine set to `boot_loader: pxelinux` gets from iPXE a script that sets PXELINUX's
 * DHCP options and chains Debian's lpxelinux.0 from bootherd; lpxelinux then fetches its COM32 modules, its generated
 * config (the machine's boot decision, rendered here), the kernel and the initrd, all over HTTP.
 *
 * The options, as PXELINUX's author registered them (syslinux mailing list, "RFC 3942 notice: PXELINUX, DHCP options
 * 208-211"; RFC 5071): "Option 209: pxelinux.configfile (text) Specifies the PXELINUX configuration file name."
 * "Option 210: pxelinux.pathprefix (text) Specifies the PXELINUX common path prefix, instead of deriving it from the
 * boot file name." "Option 211: pxelinux.reboottime (unsigned integer 32 bits) Specifies, in seconds, the approximate
 * time to wait before reboot in the event of TFTP failure." 211 is left at PXELINUX's default. "Option 208:
 * pxelinux.magic (string) Must be set to F1:00:74:7E" is not sent: Syslinux 6 reads 209 and 210 without it ("in
 * earlier versions of PXELINUX bit 0 was used to indicate we have found option 208 with the appropriate magic
 * number; we no longer require that", core/fs/pxe/pxe.c), and lpxelinux.0 exists only since Syslinux 5.
 */
import { access } from 'node:fs/promises';
import { join } from 'node:path';
import type { BootPolicyConfig, ScriptDecision } from '../boot/decide.ts';
import { BootherdError } from '../errors.ts';
import { IpxeScript } from '../ipxe/builder.ts';
import { int, lit, url, word } from '../ipxe/quote.ts';
import type { Group, Machine, Profile } from '../model/types.ts';
import type { Store } from '../store/types.ts';
import { expand, type RenderContext, variables } from './render.ts';

/** The HTTP folder of lpxelinux.0, its modules and its configs: option 210 names it, so relative names resolve here. */
export const PXELINUX_PREFIX = '/pxelinux/';
export const PXELINUX_LOADER = 'lpxelinux.0';

/** A machine's config name under the prefix (option 209): `pxelinux.cfg/01-<MAC with hyphens>`, PXELINUX's own. */
export function pxelinuxConfigName(mac: string): string {
  return `pxelinux.cfg/01-${mac.replace(/:/g, '-')}`;
}

/**
 * The iPXE script that hands a BIOS machine over to PXELINUX. iPXE passes its settings to the program it chains as
 * the cached DHCP packet, so lpxelinux.0 sees 209 and 210 as if a DHCP server had sent them. For `LOCALBOOT`,
 * PXELINUX returns to its caller, this script: it then boots the first disk as bootherd's local-disk script does.
 */
export function pxelinuxHandoffScript(baseUrl: string, mac: string): string {
  const prefix = `${baseUrl}${PXELINUX_PREFIX}`;
  return new IpxeScript()
    .comment('bootherd: PXELINUX over HTTP (option 210: path prefix, 209: config file)')
    .cmd('set', lit('210:string'), url('pxelinux path prefix', prefix))
    .cmd('set', lit('209:string'), word('pxelinux config file', pxelinuxConfigName(mac)))
    .orGoto('failed', 'chain', url('pxelinux', `${prefix}${PXELINUX_LOADER}`))
    .echo('bootherd: PXELINUX returned for a local boot')
    .cmd('sanboot', lit('--no-describe'), lit('--drive'), lit('0x80'), lit('||'))
    .cmd('exit', int('exit', 1))
    .blank()
    .label('failed')
    .echo('bootherd: could not start PXELINUX (error ${errno}); returning to the firmware in 10 seconds')
    .cmd('sleep', int('sleep', 10))
    .cmd('exit', int('exit', 1))
    .toString();
}

/** The file behind a name under PXELINUX_PREFIX: lpxelinux.0, or a COM32 module; undefined for anything else. */
export function pxelinuxFile(name: string, boot: BootPolicyConfig): string | undefined {
  const files = boot.pxelinuxFiles;
  if (!files) return undefined;
  if (name === PXELINUX_LOADER) return files.loader;
  // A bare module name: no folder and no dot file, so nothing outside the modules folder can be named.
  if (/^[A-Za-z0-9_-]{1,64}\.c32$/.test(name)) return join(files.modules, name);
  return undefined;
}

/** Is PXELINUX used at all: the default, or any machine, group or profile that asks for it. */
export function pxelinuxUsed(
  boot: BootPolicyConfig,
  inv: { machines: Machine[]; groups: Group[]; profiles: Profile[] },
): boolean {
  return (
    boot.bootLoader === 'pxelinux' ||
    [...inv.machines, ...inv.groups, ...inv.profiles].some((r) => r.bootLoader === 'pxelinux')
  );
}

/**
 * The modules lpxelinux.0 (package pxelinux) loads (syslinux-common): ldlinux.c32 always, menu.c32 and the one
 * library it links against (`readelf -d`: NEEDED libutil.c32) for menus.
 */
const MODULES = ['ldlinux.c32', 'menu.c32', 'libutil.c32'];

/** When PXELINUX is used: every file there, or an error naming the Debian package that installs it. */
export async function checkPxelinuxFiles(boot: BootPolicyConfig): Promise<void> {
  const files = boot.pxelinuxFiles;
  if (!files) return;
  const wanted = [
    { file: files.loader, key: 'boot.pxelinux', pkg: 'pxelinux' },
    ...MODULES.map((m) => ({ file: join(files.modules, m), key: 'boot.pxelinux_modules', pkg: 'syslinux-common' })),
  ];
  for (const w of wanted) {
    await access(w.file).catch(() => {
      throw new BootherdError(
        'CONFIG_INVALID',
        `boot_loader pxelinux is used but ${w.file} is missing: install the Debian package ${w.pkg} or set ${w.key}`,
      );
    });
  }
}

/** The start-up check: PXELINUX's files, when the config or the inventory in the store uses PXELINUX. */
export async function checkPxelinuxAtStart(boot: BootPolicyConfig, store: Store): Promise<void> {
  const [machines, groups, profiles] = await Promise.all([
    store.listMachines(),
    store.listGroups(),
    store.listProfiles(),
  ]);
  if (pxelinuxUsed(boot, { machines, groups, profiles })) await checkPxelinuxFiles(boot);
}

/**
 * A value on a config line. Syslinux reads one directive per line and takes the rest of the line as its argument,
 * with no quoting: a line break would start a directive of the value's choosing, so control characters are refused.
 */
function pxeValue(field: string, v: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: refusing control characters is the point.
  if (/[\u0000-\u0008\u000a-\u001f\u007f]/.test(v))
    throw new BootherdError('SCRIPT_VALUE', `${field} contains a line break or control character`);
  return v;
}

/**
 * A file PXELINUX fetches: lpxelinux.0 speaks http, ftp and tftp (no https). The file name ends at whitespace (the
 * rest would become kernel arguments) and an INITRD list is split at commas, so neither may appear in a URL.
 */
function pxeUrl(field: string, v: string): string {
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(v)?.[1]?.toLowerCase();
  if (scheme !== 'http' && scheme !== 'ftp' && scheme !== 'tftp')
    throw new BootherdError('SCRIPT_VALUE', `${field}: PXELINUX fetches http, ftp or tftp URLs only, not "${v}"`);
  if (/[\s,]/.test(v)) throw new BootherdError('SCRIPT_VALUE', `${field}: "${v}" contains whitespace or a comma`);
  return pxeValue(field, v);
}

/** `LINUX` (a kernel whatever its name ends in: signed URLs end in a signature), `INITRD`, `APPEND`. */
function kernelLines(p: Profile, ctx: RenderContext, extra: Record<string, string>): string[] {
  if (p.boot.kind !== 'kernel') throw new Error(`unreachable: ${p.boot.kind} is not a kernel profile`);
  const vars = variables(ctx, extra);
  const b = p.boot;
  const lines = [`  LINUX ${pxeUrl('kernel', ctx.assetUrl(expand(b.kernel, vars)))}`];
  if (b.initrds.length)
    lines.push(`  INITRD ${b.initrds.map((i) => pxeUrl('initrds', ctx.assetUrl(expand(i, vars)))).join(',')}`);
  const cmdline = b.cmdline === undefined ? '' : expand(b.cmdline, vars).trim();
  if (cmdline) lines.push(`  APPEND ${pxeValue('cmdline', cmdline)}`);
  return lines;
}

/**
 * Decision → PXELINUX config. `SERIAL 0 115200` comes first ("it should be the first directive in the configuration
 * file"), so what PXELINUX says also reaches a serial console. Local disk is `LOCALBOOT 0` ("perform a normal boot"):
 * PXELINUX returns to its caller, the firmware or the iPXE script that chained it. Menus are menu.c32's.
 */
export function renderPxelinux(d: ScriptDecision, ctx: RenderContext): string {
  const who = ctx.machine?.id ?? ctx.facts.mac;
  const lines = ['# generated by bootherd', 'SERIAL 0 115200'];
  const local = (message: string) =>
    lines.push(`SAY ${pxeValue('message', message)}`, 'DEFAULT local', 'LABEL local', '  LOCALBOOT 0');
  switch (d.kind) {
    case 'error':
      local(`bootherd: ${d.reason}; booting the local disk`);
      break;
    case 'ignore':
      local(`bootherd: ${d.reason}`);
      break;
    case 'local':
      local(`bootherd: ${who}: local disk`);
      break;
    case 'profile': {
      const p = d.profile;
      if (p.boot.kind === 'kernel') {
        lines.push(
          `SAY ${pxeValue('message', `bootherd: ${who}: ${p.name}`)}`,
          'DEFAULT bootherd',
          'LABEL bootherd',
          ...kernelLines(p, ctx, d.variables),
        );
      } else if (p.boot.kind === 'sanboot') {
        // memdisk loads the whole image into RAM: PXELINUX's way to boot an ISO (classic PXELINUX over TFTP).
        lines.push(
          'DEFAULT iso',
          'LABEL iso',
          '  KERNEL memdisk',
          `  INITRD ${pxeUrl('sanboot', ctx.assetUrl(p.boot.url))}`,
          '  APPEND iso raw',
        );
      } else local(`bootherd: profile ${p.name} is a ${p.boot.kind} profile, which only iPXE can boot`);
      break;
    }
    case 'menu': {
      // Only kernel profiles can be PXELINUX entries (as in GRUB); the rest are left out of the menu.
      const items = d.items.filter((p) => p.boot.kind === 'kernel');
      const labels = new Set([...items.map((p) => p.name), 'local']);
      const def = labels.has(d.settings.default) ? d.settings.default : 'local';
      lines.push(
        'UI menu.c32',
        `MENU TITLE ${pxeValue('title', `bootherd: ${who}`)}`,
        // Tenths of a second; 0 waits for a choice, as bootherd's menu timeout.
        `TIMEOUT ${d.settings.timeout * 10}`,
        `DEFAULT ${def}`,
      );
      for (const p of items)
        lines.push(
          `LABEL ${p.name}`,
          `  MENU LABEL ${pxeValue('label', p.description ?? p.name)}`,
          ...kernelLines(p, ctx, { ...p.variables }),
        );
      lines.push('LABEL local', '  MENU LABEL Boot from local disk', '  LOCALBOOT 0');
      break;
    }
  }
  return `${lines.join('\n')}\n`;
}
