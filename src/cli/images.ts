/** `bootherd images import|list|remove`: ISOs turned into ready profiles, with their files under the asset tree. */
import type { Command } from 'commander';
import { listImages, removeImage } from '../images/catalog.ts';
import { importIso } from '../images/import.ts';
import { Progress } from '../images/progress.ts';
import { type Core, createLogger, openCore } from '../main.ts';
import { type ConfigFlags, config, withConfig } from './options.ts';

const out = (s: string) => process.stdout.write(`${s}\n`);

async function withCore<T>(opts: ConfigFlags, fn: (core: Core) => Promise<T>): Promise<T> {
  const core = await openCore(config(opts), createLogger('warn'));
  try {
    return await fn(core);
  } finally {
    await core.close();
  }
}

const mb = (n: number) => `${(n / 1_000_000).toFixed(1)} MB`;

export function registerImages(program: Command): void {
  const images = program
    .command('images')
    .description('import ISO images as ready-to-boot profiles; list and remove them');

  withConfig(images.command('import').argument('<iso>', 'the ISO file'))
    .description(
      'recognise an ISO (Debian, Ubuntu, Fedora/RHEL, Alpine, memtest86+), copy its kernel and initrd into ' +
        '<assets>/images/<name>/ and create a profile; anything else becomes a sanboot profile of the whole ISO',
    )
    .option('--name <name>', 'image and profile name (default: the file name without .iso)')
    .option('--append <args>', 'extra kernel arguments, e.g. "console=ttyS0,115200"')
    .action(async (iso: string, opts: ConfigFlags & { name?: string; append?: string }) => {
      await withCore(opts, async (core) => {
        // Progress on stderr: stdout keeps the result lines for scripts.
        const progress = new Progress(process.stderr);
        const m = await importIso({
          iso,
          ...(opts.name ? { name: opts.name } : {}),
          ...(opts.append ? { append: opts.append } : {}),
          assetsDir: core.config.http.assets,
          inventory: core.inventory,
          onPlan: ({ name, recipe, bytes }) =>
            out(`${iso}: ${recipe.kind} (${recipe.description}); copying ${mb(bytes)} to images/${name}/`),
          onProgress: (done, total) => progress.update(done, total),
        });
        progress.finish();
        for (const f of m.files) out(`  ${f.path}  ${f.size} bytes  sha256 ${f.sha256}`);
        for (const b of m.boot)
          out(`  El Torito: ${b.platform} ${b.media} image${b.bootable ? '' : ' (not bootable)'} at sector ${b.lba}`);
        if (m.kind === 'unknown' && !m.boot.some((b) => b.bootable && b.platform === 'bios'))
          out('  warning: no bootable BIOS El Torito image: sanboot will not start it on BIOS machines');
        out(`imported ${m.name}: profile "${m.profile}" (${m.kind}), source sha256 ${m.source.sha256}`);
      });
    });

  withConfig(images.command('list'))
    .description('imported images with their kind, size and profile')
    .option('--json', 'JSON output (the manifests)')
    .action(async (opts: ConfigFlags & { json?: boolean }) => {
      const list = await withCore(opts, (core) => listImages(core.config.http.assets, core.inventory));
      if (opts.json) {
        out(JSON.stringify(list, null, 2));
        return;
      }
      const rows = list.map(({ manifest: m, profileExists }) => [
        m.name,
        m.kind,
        mb(m.files.reduce((n, f) => n + f.size, 0)),
        profileExists ? m.profile : `${m.profile} (missing: images remove ${m.name}, then import again)`,
        m.source.file,
      ]);
      const all = [['NAME', 'KIND', 'SIZE', 'PROFILE', 'SOURCE'], ...rows];
      const widths = all[0]!.map((_, i) => Math.max(...all.map((r) => r[i]!.length)));
      for (const r of all)
        out(
          r
            .map((c, i) => c.padEnd(widths[i]!))
            .join('  ')
            .trimEnd(),
        );
    });

  withConfig(images.command('remove').argument('<name>'))
    .description('delete an image: its profile, then its files')
    .option('--force', 'also when machines, groups or menus use its profile: those references are removed')
    .action(async (name: string, opts: ConfigFlags & { force?: boolean }) => {
      const r = await withCore(opts, (core) =>
        removeImage(core.config.http.assets, core.inventory, name, opts.force ?? false),
      );
      for (const d of r.detached) out(`detached ${d}`);
      out(`removed ${name}`);
    });
}
