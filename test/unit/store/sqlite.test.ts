import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { openSqliteStore } from '../../../src/store/sqlite.ts';
import { storeConformance } from './conformance.ts';

storeConformance('sqlite (file)', async () =>
  openSqliteStore(join(mkdtempSync(join(tmpdir(), 'bh-store-')), 'bootherd.db')),
);
storeConformance('sqlite (:memory:)', async () => openSqliteStore(':memory:'));

test('sqlite: an acknowledged write survives SIGKILL of the writer', async () => {
  const file = join(mkdtempSync(join(tmpdir(), 'bh-durable-')), 'bootherd.db');
  // The child acknowledges each write on stdout only after the store's promise resolved; we kill it mid-stream.
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      '-e',
      `import('${new URL('../../../src/store/sqlite.ts', import.meta.url).pathname}').then(async ({ openSqliteStore }) => {
        const s = await openSqliteStore(${JSON.stringify(file)});
        for (let i = 0; ; i++) {
          await s.putMachine({ id: 'm' + i, macs: [], labels: {} });
          process.stdout.write('ack m' + i + '\\n');
        }
      });`,
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const acked: string[] = [];
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('child acknowledged nothing within 20 s')), 20_000);
    child.stdout.on('data', (chunk: Buffer) => {
      for (const line of chunk.toString().split('\n')) if (line.startsWith('ack ')) acked.push(line.slice(4));
      if (acked.length >= 20) {
        clearTimeout(timer);
        child.kill('SIGKILL');
        resolve();
      }
    });
  });
  await new Promise((r) => child.once('exit', r));
  const s = await openSqliteStore(file);
  try {
    for (const id of acked) assert.ok(await s.getMachine(id), `acknowledged machine ${id} is in the database`);
  } finally {
    await s.close();
  }
});

test('sqlite: a lease commit during an open apply transaction is durable on its own, not part of the apply', async () => {
  const file = join(mkdtempSync(join(tmpdir(), 'bh-lease-tx-')), 'bootherd.db');
  const s = await openSqliteStore(file);
  try {
    // An apply that fails after a MAC conflict rolls back; a lease committed meanwhile must survive that rollback.
    const inv = {
      profiles: [],
      groups: [],
      machines: [
        { id: 'a', macs: ['52:54:00:00:00:01'], labels: {} },
        { id: 'b', macs: ['52:54:00:00:00:01'], labels: {} },
      ],
    };
    const lease = { ip: '192.0.2.100', mac: '52:54:00:00:00:09', state: 'bound' as const, expiresAt: 1 };
    const applying = s.apply(inv, { prune: false }).then(
      () => undefined,
      (err: Error) => err,
    );
    // Let the apply transaction begin: its statements are chained by promises, so a few microtasks in it is open.
    for (let i = 0; i < 10; i++) await Promise.resolve();
    await s.commitLeases([lease]);
    assert.match(String(await applying), /already used/);
    // Without the guard the upsert nests as a savepoint in the apply and is rolled back with it: no lease.
    assert.deepEqual(await s.loadLeases(), [lease]);
  } finally {
    await s.close();
  }
});
