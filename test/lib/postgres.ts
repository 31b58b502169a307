/**
 * A private, throw-away PostgreSQL cluster for tests: Debian's server binaries (/usr/lib/postgresql/<v>/bin), initdb
 * in a temp dir as an unprivileged user (the server refuses to run as root), TCP on 127.0.0.1 at a free port, unix
 * sockets in the temp dir, fsync on. Stopped by its PID when the tests end, also on an abrupt exit of the test process.
 * No binaries: the test fails with the install command, it is never skipped.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { freePort } from './cli.ts';

const ROOT = '/usr/lib/postgresql';

/** The newest installed server's bin directory. */
function serverBin(): string {
  const versions = existsSync(ROOT)
    ? readdirSync(ROOT)
        .filter((v) => existsSync(join(ROOT, v, 'bin', 'initdb')) && existsSync(join(ROOT, v, 'bin', 'pg_ctl')))
        .sort((a, b) => Number(b) - Number(a))
    : [];
  if (!versions.length) {
    throw new Error(
      `PostgreSQL server binaries not found (${ROOT}/*/bin/initdb): ` +
        'apt-get install -y --no-install-recommends postgresql (or run scripts/e2e-deps.sh as root)',
    );
  }
  return join(ROOT, versions[0]!, 'bin');
}

/** As root, the server runs as Debian's `postgres` user, else `nobody`; otherwise as ourselves. */
function serverUser(): { user: string; uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  for (const user of ['postgres', 'nobody']) {
    const r = spawnSync('id', ['-u', user], { encoding: 'utf8' });
    if (r.status !== 0) continue;
    const gid = Number(execFileSync('id', ['-g', user], { encoding: 'utf8' }).trim());
    return { user, uid: Number(r.stdout.trim()), gid };
  }
  throw new Error('running as root, but neither the postgres nor the nobody user exists to run PostgreSQL as');
}

export interface PgCluster {
  port: number;
  /** The superuser's password: a URL with it must never show it in a message. */
  password: string;
  /** A URL for a database of this cluster (with the password). */
  url(database: string): string;
  /**
   * The same database through the cluster's unix socket (trusted, no password): files cross network namespaces, so
   * a server started inside a test namespace reaches the cluster this way.
   */
  socketUrl(database: string): string;
  /** A new, empty database; returns its URL. */
  createDatabase(): Promise<string>;
  /** SQL as the superuser on a database of this cluster. */
  query(database: string, text: string): Promise<pg.QueryResult>;
  /** SIGKILL the server and every backend (a crash), then start it again on the same port: WAL recovery. */
  crashAndRestart(): Promise<void>;
  stop(): Promise<void>;
}

export async function startCluster(): Promise<PgCluster> {
  const bin = serverBin();
  const owner = serverUser();
  const dir = mkdtempSync(join(tmpdir(), 'bh-pg-'));
  const data = join(dir, 'data');
  const password = `pw-${randomBytes(12).toString('hex')}`;
  writeFileSync(join(dir, 'pw'), `${password}\n`);
  if (owner) {
    chownSync(dir, owner.uid, owner.gid);
    chownSync(join(dir, 'pw'), owner.uid, owner.gid);
  }
  const run = (tool: string, args: string[]) => {
    const cmd = owner ? ['runuser', '-u', owner.user, '--', join(bin, tool), ...args] : [join(bin, tool), ...args];
    const r = spawnSync(cmd[0]!, cmd.slice(1), { encoding: 'utf8', cwd: dir, timeout: 60_000 });
    if (r.status !== 0) throw new Error(`${tool} ${args.join(' ')} failed (${r.status}): ${r.stderr}${r.stdout}`);
  };
  // Password (scram) over TCP, as in production; trust only on the private unix socket.
  run('initdb', [
    '-D',
    data,
    '-U',
    'bootherd',
    `--pwfile=${join(dir, 'pw')}`,
    '--auth-local=trust',
    '--auth-host=scram-sha-256',
    '-E',
    'UTF8',
    '--locale=C.UTF-8',
  ]);
  const port = await freePort();
  const options = [
    `-p ${port}`,
    `-k ${dir}`,
    '-c listen_addresses=127.0.0.1',
    // Durability is under test: the defaults, said out loud.
    '-c fsync=on',
    '-c synchronous_commit=on',
    '-c full_page_writes=on',
    '-c max_connections=200',
  ].join(' ');
  const start = () => {
    try {
      run('pg_ctl', ['start', '-w', '-t', '30', '-D', data, '-l', join(dir, 'log'), '-o', options]);
    } catch (err) {
      const log = existsSync(join(dir, 'log')) ? readFileSync(join(dir, 'log'), 'utf8').slice(-2000) : '';
      throw new Error(`${(err as Error).message}\nserver log:\n${log}`);
    }
  };
  const pidOf = () => Number(readFileSync(join(data, 'postmaster.pid'), 'utf8').split('\n')[0]);
  start();
  let pid = pidOf();

  const stopNow = () => {
    if (!existsSync(dir)) return;
    try {
      run('pg_ctl', ['stop', '-w', '-t', '30', '-m', 'fast', '-D', data]);
    } catch {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {}
    }
    rmSync(dir, { recursive: true, force: true });
  };
  // A test process that exits without reaching stop() (a failure, ^C) must not leave a server behind.
  process.once('exit', stopNow);

  let admin: pg.Client | undefined;
  const url = (database: string) => `postgres://bootherd:${encodeURIComponent(password)}@127.0.0.1:${port}/${database}`;
  const query = async (database: string, text: string) => {
    const c = new pg.Client({ connectionString: url(database) });
    await c.connect();
    try {
      return await c.query(text);
    } finally {
      await c.end();
    }
  };
  let n = 0;
  return {
    port,
    password,
    url,
    socketUrl: (database) => `postgres://bootherd@localhost:${port}/${database}?host=${encodeURIComponent(dir)}`,
    query,
    async createDatabase() {
      const name = `t${++n}`;
      if (!admin) {
        admin = new pg.Client({ connectionString: url('postgres') });
        admin.on('error', () => {});
        await admin.connect();
      }
      // An ICU collation that, unlike the store's "C" columns, ignores punctuation and case at first: listing
      // order must not depend on how the database was created.
      await admin.query(
        `CREATE DATABASE ${name} TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE 'en-US' LOCALE 'C.UTF-8'`,
      );
      return url(name);
    },
    async crashAndRestart() {
      await admin?.end();
      admin = undefined;
      const backends = readdirSync('/proc')
        .filter((p) => /^\d+$/.test(p))
        .filter((p) => {
          try {
            return readFileSync(`/proc/${p}/stat`, 'utf8').split(') ')[1]!.split(' ')[1] === String(pid);
          } catch {
            return false;
          }
        });
      for (const p of [pid, ...backends.map(Number)]) {
        try {
          process.kill(p, 'SIGKILL');
        } catch {}
      }
      // Bounded wait for the kernel to reap them (the postmaster is our grandchild via pg_ctl: gone means gone).
      for (let i = 0; i < 200 && [pid, ...backends.map(Number)].some(alive); i++) await sleep(50);
      // Where PID 1 does not reap orphans, the dead postmaster stays a zombie, which its lock file check takes for a
      // running server: its lock files go, as after a reboot.
      for (const f of [join(data, 'postmaster.pid'), join(dir, `.s.PGSQL.${port}.lock`), join(dir, `.s.PGSQL.${port}`)])
        rmSync(f, { force: true });
      start();
      pid = pidOf();
    },
    async stop() {
      await admin?.end();
      admin = undefined;
      stopNow();
      process.removeListener('exit', stopNow);
    },
  };
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return !readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.startsWith('Z');
  } catch {
    return false;
  }
}
