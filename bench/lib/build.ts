/**
 * The dist build the benchmarks measure (`npm run build`): what an operator runs, without tsx compiling TypeScript
 * in the measured process (which costs start-up time and tens of MB of RSS).
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';

export const ROOT = resolve(import.meta.dirname, '../..');

/** Newest modification time under a directory (files only). */
function newest(path: string): number {
  let t = 0;
  for (const e of readdirSync(path, { withFileTypes: true, recursive: true })) {
    if (e.isFile()) t = Math.max(t, statSync(join(e.parentPath, e.name)).mtimeMs);
  }
  return t;
}

/** argv that runs the built `bootherd`; throws without a build, warns (and says `stale`) when src/ is newer. */
export function builtBootherd(bench: string, opts: { ui?: boolean } = {}): { argv: string[]; stale: boolean } {
  if (!existsSync(join(ROOT, 'dist/cli/bin.js')) || (opts.ui && !existsSync(join(ROOT, 'web/dist/index.html'))))
    throw new Error('no dist build: run `npm run build` first');
  const stale = newest(join(ROOT, 'src')) > newest(join(ROOT, 'dist')) + 1000;
  if (stale)
    console.error(`${bench}: warning: src/ is newer than dist/; \`npm run build\` to measure the current code`);
  return { argv: [process.execPath, join(ROOT, 'bin/bootherd.js')], stale };
}
