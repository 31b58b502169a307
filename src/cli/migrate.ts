/** `bootherd migrate`: bring the store's database to this version's schema (`serve` does the same when it starts). */
import type { Command } from 'commander';
import { migrateStore, storeWhere } from '../store/index.ts';
import { type ConfigFlags, config, withConfig } from './options.ts';

const out = (s: string) => process.stdout.write(`${s}\n`);

export function registerMigrate(program: Command): void {
  withConfig(
    program
      .command('migrate')
      .description("bring the store's database to this version's schema and print the migrations it applied"),
  )
    .option('--store <url>', "store URL (sqlite:<path>, postgres://...); default: the config's `store`")
    .action(async (opts: ConfigFlags & { store?: string }) => {
      const url = opts.store ?? config(opts).store;
      const applied = await migrateStore(url);
      for (const name of applied) out(`applied ${name}`);
      out(`${storeWhere(url)}: ${applied.length ? `${applied.length} migrations applied` : 'schema already current'}`);
    });
}
