import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { BootherdError } from '../../../src/errors.ts';
import { openStore } from '../../../src/store/index.ts';
import { openPostgresStore } from '../../../src/store/postgres.ts';
import { ackedBeforeKill } from '../../lib/acked-writes.ts';
import { cli, freePort } from '../../lib/cli.ts';
import { type PgCluster, startCluster } from '../../lib/postgres.ts';
import { storeConformance } from './conformance.ts';

let started: Promise<PgCluster> | undefined;
/** One private cluster for this file, started by the first test that needs it (and failing it if it cannot). */
const cluster = () => {
  started ??= startCluster();
  return started;
};
after(async () => {
  await (await started?.catch(() => undefined))?.stop();
});

const fresh = async () => (await cluster()).createDatabase();
const dbName = (url: string) => new URL(url).pathname.slice(1);
const code = (err: unknown) => (err as BootherdError).code;

storeConformance(
  'postgres',
  async () => openPostgresStore(await fresh()),
  async () => {
    const url = await fresh();
    return [await openPostgresStore(url), await openPostgresStore(url)];
  },
);

test('postgres: openStore takes postgres:// and postgresql:// URLs', async () => {
  const url = await fresh();
  for (const u of [url, url.replace(/^postgres:/, 'postgresql:')]) {
    const s = await openStore(u);
    try {
      await s.putProfile({ name: 'disk', boot: { kind: 'local' } });
      assert.deepEqual(await s.getProfile('disk'), { name: 'disk', boot: { kind: 'local' } });
    } finally {
      await s.close();
    }
  }
});

test('postgres: servers starting together on an empty database migrate it once, under the advisory lock', async () => {
  const url = await fresh();
  const stores = await Promise.all([1, 2, 3, 4].map(() => openPostgresStore(url)));
  await Promise.all(stores.map((s) => s.close()));
  const c = await cluster();
  const rows = (await c.query(dbName(url), 'select name from kysely_migration order by name')).rows;
  assert.deepEqual(
    rows.map((r: { name: string }) => r.name),
    [
      '0001_inventory',
      '0002_dhcp_leases',
      '0003_applied_next',
      '0004_tokens',
      '0005_boot_events_stage',
      '0006_servers',
      '0007_versions',
      '0008_dhcp_fleet',
      '0009_inventory_changes',
    ],
  );
});

test('postgres: a database migrated by a newer bootherd is refused, naming the migration', async () => {
  const url = await fresh();
  await (await openPostgresStore(url)).close();
  await (await cluster()).query(
    dbName(url),
    "insert into kysely_migration (name, timestamp) values ('0099_from_the_future', '2030-01-01T00:00:00.000Z')",
  );
  const { password } = await cluster();
  await assert.rejects(openPostgresStore(url), (err) => {
    assert.equal(code(err), 'STORE_SCHEMA_NEWER');
    assert.ok(!(err as Error).message.includes(password));
    assert.match((err as Error).message, /"0099_from_the_future"/);
    assert.match((err as Error).message, /upgrade bootherd/);
    return true;
  });
});

test('postgres: of two servers (two pools) racing to consume a one-shot, exactly one wins', async () => {
  const url = await fresh();
  const [a, b] = await Promise.all([openPostgresStore(url), openPostgresStore(url)]);
  try {
    const install = { action: 'install' as const };
    await a.putMachine({ id: 'web1', macs: [], labels: {} });
    for (let round = 0; round < 25; round++) {
      assert.ok(await a.setNextAction('web1', install));
      const wins = await Promise.all([
        a.swapNextAction('web1', install, { action: 'local' }),
        b.swapNextAction('web1', install, null),
      ]);
      assert.equal(wins.filter(Boolean).length, 1, `round ${round}: ${wins}`);
      const left = (await b.getMachine('web1'))?.nextAction;
      assert.deepEqual(left, wins[0] ? { action: 'local' } : undefined);
    }
  } finally {
    await Promise.all([a.close(), b.close()]);
  }
});

test('postgres: an acknowledged write survives SIGKILL of the writer and a crash of the server', async () => {
  const url = await fresh();
  await (await openPostgresStore(url)).close();
  // The child acknowledges each write on stdout only after the store's promise resolved; we kill it mid-stream.
  const acked = await ackedBeforeKill(`
    const { openPostgresStore } = await import('${new URL('../../../src/store/postgres.ts', import.meta.url).pathname}');
    const s = await openPostgresStore(${JSON.stringify(url)});
    for (let i = 0; ; i++) {
      await s.putMachine({ id: 'm' + i, macs: [], labels: {} });
      await s.commitLeases([{ ip: '192.0.2.' + (i % 250), mac: '52:54:00:00:00:01', state: 'bound', expiresAt: i }]);
      ack('m' + i);
    }`);
  // The server too: what it acknowledged must come back from its WAL.
  await (await cluster()).crashAndRestart();
  const s = await openPostgresStore(url);
  try {
    for (const id of acked) assert.ok(await s.getMachine(id), `acknowledged machine ${id} is in the database`);
    const last = Number(acked.at(-1)!.slice(1));
    const lease = (await s.loadLeases()).find((l) => l.ip === `192.0.2.${last % 250}`);
    assert.ok(lease && lease.expiresAt >= last, 'the last acknowledged lease commit is there, expiresAt a number');
  } finally {
    await s.close();
  }
});

test('postgres: a failed connect names the server and what failed, never the password; retried, then given up', async () => {
  const port = await freePort();
  const secret = 'S3cret-p%40ss';
  const url = `postgres://bootherd:${secret}@127.0.0.1:${port}/fleet`;
  await assert.rejects(openStore(url, { connectBudgetMs: 1500 }), (err) => {
    const m = (err as Error).message;
    assert.equal(code(err), 'STORE_UNAVAILABLE');
    assert.match(m, new RegExp(`PostgreSQL at 127\\.0\\.0\\.1:${port}/fleet cannot be reached: .*ECONNREFUSED`));
    assert.match(m, /gave up after [3-9] attempts/);
    for (const p of [secret, 'S3cret-p@ss', 'S3cret']) assert.ok(!m.includes(p), `"${m}" shows the password`);
    return true;
  });
  await assert.rejects(openStore('postgres://bootherd:S3cret@[::1/fleet'), (err) => {
    assert.equal(code(err), 'CONFIG_INVALID');
    assert.doesNotMatch((err as Error).message, /S3cret/);
    return true;
  });
  // A wrong password is the server's definite answer: not retried, and not shown either.
  const c = await cluster();
  const wrong = (await fresh()).replace(encodeURIComponent(c.password), 'Wr0ng-S3cret');
  await assert.rejects(openStore(wrong), (err) => {
    const m = (err as Error).message;
    assert.match(m, /refused the connection: password authentication failed for user "bootherd"/);
    assert.doesNotMatch(m, /gave up|Wr0ng-S3cret/);
    return true;
  });
});

test('postgres: a pooled connection killed by the server is reported, not fatal, and the store carries on', async () => {
  const url = await fresh();
  const reported: BootherdError[] = [];
  const s = await openPostgresStore(url, { onError: (err) => reported.push(err) });
  try {
    await s.putProfile({ name: 'disk', boot: { kind: 'local' } });
    const c = await cluster();
    await c.query(
      'postgres',
      `select pg_terminate_backend(pid) from pg_stat_activity where datname = '${dbName(url)}' and pid <> pg_backend_pid()`,
    );
    for (let i = 0; i < 100 && !reported.length; i++) await sleep(50);
    assert.ok(reported.length, 'the dropped idle connection was reported');
    assert.equal(reported[0]!.code, 'STORE_UNAVAILABLE');
    assert.match(
      reported[0]!.message,
      new RegExp(`127\\.0\\.0\\.1:${c.port}/${dbName(url)}: an idle pooled connection was lost`),
    );
    assert.ok(!reported[0]!.message.includes(c.password));
    assert.deepEqual(await s.getProfile('disk'), { name: 'disk', boot: { kind: 'local' } });
  } finally {
    await s.close();
  }
});

test('postgres: `bootherd migrate --store` applies the schema once and says so, without the password', async () => {
  const c = await cluster();
  const url = await fresh();
  const first = await cli(['migrate', '--store', url]);
  assert.equal(first.code, 0, first.stderr);
  assert.match(first.stdout, /^applied 0001_inventory\n(.*\n){7}applied 0009_inventory_changes\n/);
  assert.match(first.stdout, new RegExp(`postgres 127\\.0\\.0\\.1:${c.port}/${dbName(url)}: 9 migrations applied`));
  const again = await cli(['migrate', '--store', url]);
  assert.match(again.stdout, /schema already current/);
  for (const r of [first, again]) assert.ok(!`${r.stdout}${r.stderr}`.includes(c.password));
});

test('postgres: a lost change-feed connection is reported and announced (`lost`), reopened, announced as `inventory` (`apply`), and hears again', async () => {
  const url = await fresh();
  const reports: string[] = [];
  const a = await openPostgresStore(url);
  const b = await openPostgresStore(url, { onError: (err) => reports.push(err.message) });
  const seen: string[] = [];
  const stop = b.watchChanges((c) => seen.push(`${c.kind}${c.id ? `/${c.id}` : ''} ${c.op}`));
  const waitFor = async (what: string) => {
    for (let i = 0; i < 500 && !seen.includes(what); i++) await sleep(20);
    assert.ok(seen.includes(what), `${what} not seen; saw ${seen.join(', ')}`);
    seen.splice(0, seen.indexOf(what) + 1);
  };
  try {
    await waitFor('inventory apply');
    // What a restart of the database or a cut network does to the one listening session.
    const killed = await (await cluster()).query(
      dbName(url),
      "select pg_terminate_backend(pid) from pg_stat_activity where query = 'LISTEN bootherd_changes'",
    );
    assert.equal(killed.rowCount, 1);
    // First that it stopped hearing (caches that trust the feed stop), then that it listens again.
    await waitFor('inventory lost');
    await waitFor('inventory apply');
    assert.match(reports.join('\n'), /change feed lost .*; reconnecting/);
    assert.ok(!reports.join('\n').includes((await cluster()).password));
    await a.putProfile({ name: 'disk', boot: { kind: 'local' } });
    await waitFor('profile/disk put');
  } finally {
    stop();
    await a.close();
    await b.close();
  }
});

test('postgres: two servers with the same id (a copied data_dir) still hear each other, named by that id', async () => {
  const url = await fresh();
  const [a, b] = [
    await openPostgresStore(url, { serverId: 'twin' }),
    await openPostgresStore(url, { serverId: 'twin' }),
  ];
  const seen: string[] = [];
  const stop = b.watchChanges((c) => seen.push(`${c.kind} ${c.server ?? '-'}`));
  try {
    for (let i = 0; i < 500 && !seen.length; i++) await sleep(20);
    assert.deepEqual(seen.splice(0), ['inventory -']);
    await a.putProfile({ name: 'disk', boot: { kind: 'local' } });
    for (let i = 0; i < 500 && !seen.length; i++) await sleep(20);
    assert.deepEqual(seen, ['profile twin']);
  } finally {
    stop();
    await a.close();
    await b.close();
  }
});
