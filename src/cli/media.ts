/**
 * `bootherd media iso`: boot media that bring a machine to bootherd without PXE in its firmware. `bootherd media
 * uefi-ipxe`: Debian 13's UEFI iPXE for a CPU, put where bootherd serves it.
 */
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import type { Config } from '../config/config.ts';
import { BootherdError } from '../errors.ts';
import { createLogger, openCore } from '../main.ts';
import { buildIso } from '../media/iso.ts';
import { machineChoice, mediaScript, type ScriptChoice } from '../media/script.ts';
import { fetchTrixieUefiIpxe, installUefiIpxe, type UefiIpxeArch, uefiIpxeCacheDir } from '../media/uefi-ipxe.ts';
import { type ConfigFlags, config, withConfig } from './options.ts';

interface IsoOpts extends ConfigFlags {
  output: string;
  url?: string;
  script?: string;
  static?: string;
  gateway?: string;
  dns?: string;
  nic: string;
  nics: string;
  uefi: boolean;
  uefiIpxe?: string;
  machine?: string;
}

function count(field: string, value: string): number {
  if (!/^\d{1,3}$/.test(value)) throw new BootherdError('BAD_REQUEST', `${field}: "${value}" is not a number`);
  return Number(value);
}

/** Options to script choice; the config is read only when the URL has to come from it. */
export function scriptChoice(o: IsoOpts, cfg: () => Config = () => config(o)): ScriptChoice {
  if (o.script) {
    if (o.static || o.gateway || o.dns || o.url) {
      throw new BootherdError('BAD_REQUEST', '--script is the whole script: it takes no --url, --static or --gateway');
    }
    let text: string;
    try {
      text = readFileSync(o.script, 'utf8');
    } catch (err) {
      throw new BootherdError('BAD_REQUEST', `cannot read ${o.script}: ${(err as Error).message}`);
    }
    return { kind: 'custom', text, source: o.script };
  }
  const url = o.url ?? `${cfg().boot.baseUrl}/boot.ipxe`;
  if (o.static) {
    if (!o.gateway) throw new BootherdError('BAD_REQUEST', '--static needs --gateway');
    return {
      kind: 'static',
      bootUrl: url,
      cidr: o.static,
      gateway: o.gateway,
      nic: count('--nic', o.nic),
      ...(o.dns !== undefined ? { dns: o.dns } : {}),
    };
  }
  if (o.gateway || o.dns) throw new BootherdError('BAD_REQUEST', '--gateway and --dns go with --static');
  return { kind: 'dhcp', bootUrl: url, nics: count('--nics', o.nics) };
}

/** `--machine ID`: the record comes through the core, as every other command's. */
async function machineScript(o: IsoOpts, id: string, cfg: Config): Promise<ScriptChoice> {
  if (o.script || o.static || o.gateway || o.dns)
    throw new BootherdError('BAD_REQUEST', '--machine takes the address from the inventory: no --script or --static');
  const core = await openCore(cfg, createLogger('warn'));
  try {
    const machine = await core.inventory.getMachine(id);
    return machineChoice(machine, o.url ?? `${cfg.boot.baseUrl}/boot.ipxe`);
  } finally {
    await core.close();
  }
}

/** `print` is for tests; the CLI writes to stdout. */
export function registerMedia(
  program: Command,
  print: (line: string) => void = (l) => process.stdout.write(`${l}\n`),
): void {
  const media = program
    .command('media')
    .description('boot media for machines that cannot network-boot, and the UEFI iPXE binaries bootherd serves');
  withConfig(media.command('iso'))
    .description('write a hybrid BIOS + UEFI ISO (CD or raw USB stick) holding iPXE and a script that chains bootherd')
    .requiredOption('-o, --output <file>', 'the ISO to write')
    .option('--url <url>', 'the script to chain (default: <http.advertise>/boot.ipxe from the config)')
    .option('--script <file>', 'embed this iPXE script instead (must start with #!ipxe)')
    .option('--static <address/prefix>', 'no DHCP: this address on one NIC, e.g. 192.0.2.50/24')
    .option('--gateway <ip>', 'gateway for --static')
    .option('--dns <ip>', 'DNS server for --static')
    .option('--nic <n>', 'the NIC --static configures (0 is net0)', '0')
    .option('--nics <n>', 'how many NICs the default script tries by DHCP', '8')
    .option('--machine <id>', "that machine's stick: its static address (ip, prefix, gateway, dns) from the inventory")
    .option('--uefi-ipxe <file>', "a UEFI x64 iPXE that runs autoexec.ipxe (default: Debian 13's, fetched once)")
    .option('--no-uefi', 'BIOS only (no download of a UEFI iPXE)')
    .action(async (o: IsoOpts) => {
      // Read once, and only if something needs it (--url and --script do not).
      let loaded: Config | undefined;
      const cfg = () => {
        loaded ??= config(o);
        return loaded;
      };
      const script = mediaScript(o.machine ? await machineScript(o, o.machine, cfg()) : scriptChoice(o, cfg));
      let uefiIpxe = o.uefiIpxe;
      if (o.uefi && !uefiIpxe) {
        // Debian 12's ipxe.efi cannot run an embedded script; Debian 13's can, fetched once without touching apt.
        const cache = uefiIpxeCacheDir(cfg().dataDir);
        try {
          const got = await fetchTrixieUefiIpxe(cache);
          print(`UEFI: ${got.package} ${got.version} (${got.efi})`);
          uefiIpxe = got.efi;
        } catch (err) {
          throw new BootherdError(
            'TOOL_MISSING',
            `${(err as Error).message}; give a UEFI iPXE with --uefi-ipxe FILE, or build a BIOS-only image with --no-uefi`,
          );
        }
      }
      const built = await buildIso({ script, output: o.output, ...(o.uefi && uefiIpxe ? { uefiIpxe } : {}) });
      print(
        `wrote ${built.output}: ${built.bytes} bytes, sha256 ${built.sha256}${o.uefi ? ' (BIOS and UEFI)' : ' (BIOS)'}`,
      );
    });

  withConfig(media.command('uefi-ipxe'))
    .description(
      "fetch Debian 13's UEFI iPXE (once, without touching apt) into http.ipxe_dir, where TFTP and UEFI HTTP boot serve it",
    )
    .option(
      '--arch <arch>',
      'amd64 (ipxe-amd64.efi) or arm64 (ipxe-arm64.efi, the default boot.files.arm64-uefi)',
      'arm64',
    )
    .option('--out <dir>', 'copy it here instead of http.ipxe_dir')
    .action(async (o: ConfigFlags & { arch: string; out?: string }) => {
      if (o.arch !== 'amd64' && o.arch !== 'arm64')
        throw new BootherdError('BAD_REQUEST', `--arch: "${o.arch}" is not amd64 or arm64`);
      const arch: UefiIpxeArch = o.arch;
      const cfg = config(o);
      const got = await fetchTrixieUefiIpxe(uefiIpxeCacheDir(cfg.dataDir), { arch });
      const put = await installUefiIpxe(got, o.out ?? cfg.http.ipxeDir);
      print(
        `${got.package} ${got.version} ${arch}: ${put.path}${put.changed ? '' : ' (already there)'}, sha256 ${got.sha256}`,
      );
    });
}
