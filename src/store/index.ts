/** Store URL → engine. `sqlite:<path>` (default), `memory:` (tests, dry runs). PostgreSQL comes with its issue. */
import { BootherdError } from '../errors.ts';
import { MemoryStore } from './memory.ts';
import { openSqliteStore } from './sqlite.ts';
import type { Store } from './types.ts';

export async function openStore(url: string): Promise<Store> {
  if (url === 'memory:') return new MemoryStore();
  if (url.startsWith('sqlite:')) return openSqliteStore(url.slice('sqlite:'.length));
  if (/^postgres(ql)?:/.test(url)) {
    throw new BootherdError(
      'CONFIG_INVALID',
      'store: PostgreSQL is not built yet; use sqlite:<path> (see README, status)',
    );
  }
  throw new BootherdError('CONFIG_INVALID', `store: "${url}" is not a store URL; use sqlite:<path> or memory:`);
}
