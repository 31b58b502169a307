/** `bootherd ipxe build`: iPXE from source with an embedded script and its own user class, cached. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { BootherdError } from '../errors.ts';
import { buildIpxe, copyResults, normalizeRequest } from '../media/ipxe-build.ts';
import { debianIpxeSource, localIpxeSource } from '../media/ipxe-source.ts';
import { mediaScript } from '../media/script.ts';
import { type ConfigFlags, config, withConfig } from './options.ts';

interface BuildOpts extends ConfigFlags {
  target: string[];
  /** A file; false with --no-embed; undefined: the default script. */
  embed?: string | false;
  url?: string;
  nics: string;
  userClass?: string;
  source?: string;
  sourceVersion?: string;
  refreshSource?: boolean;
  out?: string;
  jobs?: string;
}

function count(field: string, value: string, max: number): number {
  if (!/^\d{1,3}$/.test(value) || Number(value) < 1 || Number(value) > max)
    throw new BootherdError('BAD_REQUEST', `${field}: "${value}" is not a number from 1 to ${max}`);
  return Number(value);
}

function readScript(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    throw new BootherdError('BAD_REQUEST', `cannot read ${file}: ${(err as Error).message}`);
  }
}

/** Where a server keeps its iPXE builds and their source, under its data folder. */
export function ipxeBuildCacheDir(dataDir: string): string {
  return join(dataDir, 'cache', 'ipxe-build');
}

/** `print` is for tests; results go to stdout as `sha256sum` lines, the summary to stderr. */
export function registerIpxe(
  program: Command,
  print: (line: string) => void = (l) => process.stdout.write(`${l}\n`),
  note: (line: string) => void = (l) => process.stderr.write(`${l}\n`),
): void {
  const ipxe = program.command('ipxe').description('iPXE builds of your own');
  withConfig(ipxe.command('build'))
    .description(
      "build iPXE from Debian 13's source with an embedded script and your own user class; prints each file's sha256 and path",
    )
    .option(
      '--target <target>',
      'an iPXE make target (repeatable; default bin/undionly.kpxe), e.g. bin/1af41000.rom, bin-x86_64-efi/ipxe.efi',
      collect,
    )
    .option('--embed <file>', 'the iPXE script to embed (must start with #!ipxe)')
    .option('--no-embed', "embed nothing: iPXE's own autoboot (DHCP, then the boot file it is given)")
    .option('--url <url>', 'what the default script chains (default: <http.advertise>/boot.ipxe from the config)')
    .option('--nics <n>', 'how many NICs the default script tries by DHCP', '8')
    .option('--user-class <name>', 'DHCP option 77 instead of "iPXE"; set boot.user_class to the same name')
    .option('--source <path>', "an iPXE source tree or tarball instead of Debian's source package")
    .option('--source-version <version>', "a pinned version of Debian's ipxe source package")
    .option('--refresh-source', "ask the mirror for trixie's current ipxe source even when one is cached")
    .option('--out <dir>', 'also copy the results into this folder')
    .option('--jobs <n>', 'parallel compile jobs (default: the number of CPUs)')
    .action(async (o: BuildOpts) => {
      if (o.embed !== undefined && o.url)
        throw new BootherdError('BAD_REQUEST', '--url sets the default script: it goes without --embed and --no-embed');
      if (o.source && (o.sourceVersion || o.refreshSource))
        throw new BootherdError(
          'BAD_REQUEST',
          "--source-version and --refresh-source choose Debian's source: not with --source",
        );
      const cfg = config(o);
      const embed =
        o.embed === false
          ? undefined
          : o.embed !== undefined
            ? readScript(o.embed)
            : mediaScript({
                kind: 'dhcp',
                bootUrl: o.url ?? `${cfg.boot.baseUrl}/boot.ipxe`,
                nics: count('--nics', o.nics, 32),
              });
      // Checked before anything is fetched or compiled.
      const request = normalizeRequest({
        targets: o.target ?? ['bin/undionly.kpxe'],
        ...(embed !== undefined ? { embed } : {}),
        ...(o.userClass !== undefined ? { userClass: o.userClass } : {}),
      });
      const jobs = o.jobs ? { jobs: count('--jobs', o.jobs, 64) } : {};
      const cache = ipxeBuildCacheDir(cfg.dataDir);
      const source = o.source
        ? await localIpxeSource(cache, o.source)
        : await debianIpxeSource(cache, {
            ...(o.sourceVersion ? { version: o.sourceVersion } : {}),
            ...(o.refreshSource ? { refresh: true } : {}),
          });
      const built = await buildIpxe(cache, source, request, jobs);
      note(
        `iPXE from ${built.source}${o.userClass ? `, user class ${o.userClass}` : ''}: ${built.cached ? `cached (built in ${built.seconds} s)` : `built in ${built.seconds} s`}`,
      );
      for (const f of built.files) print(`${f.sha256}  ${f.path}`);
      if (o.out) for (const p of await copyResults(built.files, o.out)) note(`copied to ${p}`);
    });
}

function collect(v: string, prev: string[] | undefined): string[] {
  return [...(prev ?? []), v];
}
