/**
 * SQLite: two stores (two processes' worth of connections and lease writer threads) on one file claim the same
 * addresses at once; the file's write lock serialises the claims, so each address has exactly one winner.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe } from 'node:test';
import { openSqliteStore } from '../../../src/store/sqlite.ts';
import { leaseConformance } from './conformance-leases.ts';

describe('sqlite: lease claims from two stores on one file', () => {
  leaseConformance(
    () => {},
    async () => {
      const file = join(mkdtempSync(join(tmpdir(), 'bh-claims-')), 'bootherd.db');
      const a = await openSqliteStore(file);
      return [a, await openSqliteStore(file)];
    },
  );
});
