/**
 * The `bootherd` command line: thin commands over the core. Each returns an exit code; errors are printed as one
 * line an operator can act on, never a stack trace (BOOTHERD_DEBUG=1 shows it).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { envName, LEAVES } from '../config/config.ts';
import { formatInventory, formatNextAction, parseInventory, parseNextAction } from '../config/inventory-file.ts';
import { YamlError } from '../config/reader.ts';
import { checkPxelinuxFiles, pxelinuxUsed } from '../core/pxelinux.ts';
import { checkSecureBootFiles, secureBootRefusals, secureBootUsed } from '../core/secure-boot.ts';
import { dhcpSnippet, type SnippetKind } from '../dhcp/snippets.ts';
import { BootherdError } from '../errors.ts';
import { tryEveryNicScript } from '../ipxe/scripts.ts';
import { createLogger, openCore, startServer } from '../main.ts';
import { normalizeMac } from '../model/identity.ts';
import type { TokenScope } from '../model/types.ts';
import { loadLibc } from '../net/libc.ts';
import { type FleetClient, localClient, remoteClient } from './client.ts';
import { registerImages } from './images.ts';
import { registerIpxe } from './ipxe.ts';
import { registerMedia } from './media.ts';
import { registerMigrate } from './migrate.ts';
import { type ConfigFlags, config, withConfig } from './options.ts';
import { formatPower, POWER_EXIT_CODES } from './power.ts';
import { formatServers } from './servers.ts';
import { settleWhenIdle } from './settle.ts';

const out = (s: string) => process.stdout.write(s.endsWith('\n') ? s : `${s}\n`);

/** One-line messages for the operator at the terminal; `serve` logs through the server's logger instead. */
const say = {
  warn: (m: string) => process.stderr.write(`warning: ${m}\n`),
  error: (m: string) => process.stderr.write(`error: ${m}\n`),
};

interface ConfigOpts extends ConfigFlags {
  server?: string;
  token?: string;
  ca?: string;
  fingerprint?: string;
}

/** Commands that can steer a remote bootherd through its API instead of opening the local store. */
function withRemote(cmd: Command): Command {
  return withConfig(cmd)
    .option('--server <url>', 'a remote bootherd (https://host:8443); env BOOTHERD_SERVER', process.env.BOOTHERD_SERVER)
    .option('--token <token>', 'API token for --server; env BOOTHERD_TOKEN (preferred: not in shell history)')
    .option('--ca <file>', "PEM certificate to trust for --server (e.g. the server's data_dir/tls/cert.pem)")
    .option('--fingerprint <sha256>', "pin the server certificate's SHA-256 fingerprint, as `serve` prints it");
}

async function withClient<T>(opts: ConfigOpts, fn: (client: FleetClient) => Promise<T>): Promise<T> {
  let client: FleetClient;
  if (opts.server) {
    const token = opts.token ?? process.env.BOOTHERD_TOKEN;
    if (!token) throw new BootherdError('UNAUTHORIZED', '--server needs a token: --token or BOOTHERD_TOKEN');
    client = remoteClient({
      server: opts.server,
      token,
      ...(opts.ca ? { ca: opts.ca } : {}),
      ...(opts.fingerprint ? { fingerprint: opts.fingerprint } : {}),
    });
  } else {
    client = localClient(await openCore(config(opts), createLogger('warn')));
  }
  try {
    return await fn(client);
  } finally {
    await client.close();
  }
}

export function program(): Command {
  const p = new Command('bootherd')
    .description('Network boot server: DHCP, TFTP and HTTP iPXE scripts from one inventory')
    .version('0.1.0')
    .showHelpAfterError()
    .exitOverride();

  withConfig(p.command('serve').description('start every service the config enables; stops on SIGINT/SIGTERM')).action(
    async (opts: ConfigOpts) => {
      const cfg = config(opts);
      const log = createLogger(cfg.log.level);
      // libc is loaded before the server starts: an await between "listening" and the signal handlers below would let
      // a SIGINT sent right after readiness kill the process instead of stopping it.
      const libc = await loadLibc();
      const running = await startServer(cfg, log);
      const stopSettling = settleWhenIdle(libc, (s) =>
        log.debug(
          `memory given back after a busy spell: RSS ${(s.before / 2 ** 20).toFixed(1)} → ${(s.after / 2 ** 20).toFixed(1)} MB in ${s.ms.toFixed(0)} ms`,
        ),
      );
      await new Promise<void>((resolve) => {
        const stop = (sig: string) => {
          log.info(`${sig}: shutting down`);
          stopSettling();
          running.close().then(resolve, resolve);
        };
        process.once('SIGINT', () => stop('SIGINT'));
        process.once('SIGTERM', () => stop('SIGTERM'));
      });
    },
  );

  withConfig(
    p.command('check').description('validate a config file (and its inventory file) without starting anything'),
  ).action(async (opts: ConfigOpts) => {
    const cfg = config(opts);
    const inv = cfg.inventory ? parseInventory(readFileSync(cfg.inventory, 'utf8'), cfg.inventory) : undefined;
    // Secure Boot: what a machine would be refused at boot, and the signed files it needs, found before it boots.
    const refused = inv ? secureBootRefusals(cfg.boot, inv) : [];
    if (refused.length) throw new BootherdError('CONFIG_INVALID', `Secure Boot would refuse:\n${refused.join('\n')}`);
    if (secureBootUsed(cfg.boot, inv ?? { machines: [], groups: [], profiles: [] }))
      await checkSecureBootFiles(cfg.boot);
    if (pxelinuxUsed(cfg.boot, inv ?? { machines: [], groups: [], profiles: [] })) await checkPxelinuxFiles(cfg.boot);
    out(`config ok${cfg.inventory ? `, inventory ${cfg.inventory} ok` : ''}`);
  });

  withRemote(p.command('apply').description('create or update profiles, groups and machines from an inventory file'))
    .requiredOption('-f, --file <file>', 'inventory YAML')
    .option('--prune', 'delete profiles, groups and machines the file does not name')
    .option('--dry-run', 'validate only')
    .action(async (opts: ConfigOpts & { file: string; prune?: boolean; dryRun?: boolean }) => {
      const inv = parseInventory(readText(opts.file), opts.file);
      if (opts.dryRun) {
        out(
          `${opts.file}: ${inv.profiles.length} profiles, ${inv.groups.length} groups, ${inv.machines.length} machines: ok`,
        );
        return;
      }
      const r = await withClient(opts, (c) => c.apply(inv, opts.prune ?? false));
      for (const [verb, names] of Object.entries(r)) for (const n of names as string[]) out(`${verb.padEnd(9)} ${n}`);
      out(
        `${r.created.length} created, ${r.updated.length} updated, ${r.unchanged.length} unchanged, ${r.deleted.length} deleted`,
      );
    });

  withRemote(p.command('export').description('write the inventory in the format apply reads'))
    .option('-o, --output <file>', 'write to a file instead of stdout')
    .action(async (opts: ConfigOpts & { output?: string }) => {
      const text = formatInventory(await withClient(opts, (c) => c.export()));
      if (opts.output) writeFileSync(opts.output, text);
      else out(text);
    });

  const machines = p.command('machines').description('list and manage machines');
  withRemote(machines.command('list').description('list machines with their MACs, profile and next action'))
    .option('--json', 'JSON output')
    .action(async (opts: ConfigOpts & { json?: boolean }) => {
      const list = await withClient(opts, (c) => c.listMachines());
      if (opts.json) {
        out(JSON.stringify(list, null, 2));
        return;
      }
      const rows = list.map((m) => [
        m.id,
        m.macs.join(','),
        m.profile ?? (m.group ? `group:${m.group}` : '-'),
        m.nextAction ? formatNextAction(m.nextAction) : '-',
        m.lastSeen?.at ?? 'never',
      ]);
      out(table([['ID', 'MACS', 'PROFILE', 'NEXT', 'LAST SEEN'], ...rows]));
    });
  withRemote(machines.command('show').description('show one machine').argument('<id>')).action(
    async (id: string, opts: ConfigOpts) => {
      const m = await withClient(opts, (c) => c.getMachine(id));
      out(JSON.stringify(m, null, 2));
    },
  );
  withRemote(
    machines
      .command('next')
      .description(
        "set a machine's next boot: install (once, then local), install:<profile>, local, menu, profile:<name>, or clear",
      )
      .argument('<id>')
      .argument('<action>'),
  )
    .option('--power-cycle', 'then power-cycle the machine through its power block (network boot once, if the BMC can)')
    .action(async (id: string, action: string, opts: ConfigOpts & { powerCycle?: boolean }) => {
      const next = action === 'clear' ? null : parseNextAction(action);
      if (next === undefined)
        throw new BootherdError(
          'BAD_REQUEST',
          `"${action}" is not install, install:<profile>, local, menu, profile:<name> or clear`,
        );
      if (opts.powerCycle) {
        if (!next) throw new BootherdError('BAD_REQUEST', '--power-cycle needs a next action, not clear');
        const r = await withClient(opts, (c) => c.power(id, 'cycle', next));
        out(`${id}: next boot ${formatNextAction(next)}; ${formatPower(r)}`);
        return;
      }
      await withClient(opts, (c) => c.setNextAction(id, next));
      out(`${id}: next boot ${next ? formatNextAction(next) : 'cleared'}`);
    });
  withRemote(
    p
      .command('power')
      .description('switch a machine through its power block (IPMI, Redfish, Wake-on-LAN): on, off, cycle, status')
      .argument('<id>')
      .argument('<action>'),
  ).action(async (id: string, action: string, opts: ConfigOpts) => {
    if (!['on', 'off', 'cycle', 'status'].includes(action))
      throw new BootherdError('BAD_REQUEST', `"${action}" is not on, off, cycle or status`);
    const r = await withClient(opts, (c) => c.power(id, action as 'on' | 'off' | 'cycle' | 'status'));
    out(`${id}: ${formatPower(r)}`);
  });
  withRemote(machines.command('events').description("a machine's boot events, newest first").argument('<id-or-mac>'))
    .option('-n, --limit <n>', 'how many', '20')
    .option('--json', 'JSON output')
    .action(async (key: string, opts: ConfigOpts & { limit: string; json?: boolean }) => {
      const limit = Number.parseInt(opts.limit, 10);
      const mac = normalizeMac(key);
      const events = await withClient(opts, (c) => c.events({ ...(mac ? { mac } : { machineId: key }), limit }));
      if (opts.json) {
        out(JSON.stringify(events, null, 2));
        return;
      }
      out(
        table([
          ['TIME', 'STAGE', 'MAC', 'DECISION'],
          ...events.map((e) => [e.at, e.stage, e.mac, JSON.stringify(e.decision)]),
        ]),
      );
    });

  const token = p.command('token').description('API tokens: create (shown once), list, revoke');
  withRemote(
    token.command('create').description('create a token; its secret is the last line of the output, shown once'),
  )
    .requiredOption('--scope <scope>', 'read, write or admin')
    .option('--name <name>', 'who or what uses it', 'cli')
    .action(async (opts: ConfigOpts & { scope: string; name: string }) => {
      if (!['read', 'write', 'admin'].includes(opts.scope))
        throw new BootherdError('VALIDATION', `--scope must be read, write or admin, got "${opts.scope}"`);
      const r = await withClient(opts, (c) => c.createToken(opts.name, opts.scope as TokenScope));
      process.stderr.write(
        `token ${r.record.id} "${r.record.name}" (${r.record.scope}); keep it secret, it is not shown again:\n`,
      );
      out(r.token);
    });
  withRemote(token.command('list').description('list tokens (never their secrets)')).action(
    async (opts: ConfigOpts) => {
      const list = await withClient(opts, (c) => c.listTokens());
      out(
        table([
          ['ID', 'NAME', 'SCOPE', 'CREATED', 'LAST USED'],
          ...list.map((t) => [t.id, t.name, t.scope, t.createdAt, t.lastUsedAt ?? 'never']),
        ]),
      );
    },
  );
  withRemote(token.command('revoke').description('revoke a token by its id').argument('<id>')).action(
    async (id: string, opts: ConfigOpts) => {
      await withClient(opts, (c) => c.revokeToken(id));
      out(`token ${id} revoked`);
    },
  );

  withRemote(p.command('servers').description('the servers sharing the store, with their last heartbeat'))
    .option('--json', 'JSON output')
    .action(async (opts: ConfigOpts & { json?: boolean }) => {
      const list = await withClient(opts, (c) => c.listServers());
      out(opts.json ? JSON.stringify(list, null, 2) : table(formatServers(list)));
    });

  withConfig(
    p
      .command('dhcp-config')
      .description("print the config that makes your existing DHCP server take bootherd's boot decisions (off mode)"),
  )
    .requiredOption('--for <server>', 'dnsmasq, isc-dhcpd or kea')
    .option('--tftp-server <ip>', "TFTP server for iPXE binaries (default: the host of bootherd's base URL)")
    .action((opts: ConfigOpts & { for: string; tftpServer?: string }) => {
      if (!['dnsmasq', 'isc-dhcpd', 'kea'].includes(opts.for)) {
        throw new BootherdError('BAD_REQUEST', `--for must be dnsmasq, isc-dhcpd or kea, got "${opts.for}"`);
      }
      const cfg = config(opts);
      out(
        dhcpSnippet(opts.for as SnippetKind, {
          baseUrl: cfg.boot.baseUrl,
          tftpServer: opts.tftpServer ?? new URL(cfg.boot.baseUrl).hostname,
          bootFiles: cfg.boot.bootFiles,
          requiredFeatures: cfg.boot.requiredFeatures,
          ...(cfg.boot.userClass ? { userClass: cfg.boot.userClass } : {}),
        }),
      );
    });

  p.command('ipxe-try-nics')
    .description('print an iPXE script that tries every NIC in turn and chains bootherd (what `ipxe build` embeds)')
    .requiredOption('--url <url>', "bootherd's bootstrap URL, e.g. http://192.0.2.1:8080/boot.ipxe")
    .option('--nics <n>', 'how many NICs to try', '8')
    .action((opts: { url: string; nics: string }) => {
      out(tryEveryNicScript({ bootUrl: opts.url, maxNics: Number.parseInt(opts.nics, 10) }));
    });

  registerMedia(p);
  registerIpxe(p);
  registerImages(p);
  registerMigrate(p);

  p.addHelpText(
    'after',
    `\nConfiguration: a YAML file (--config), overridden by environment variables and --set flags:\n${LEAVES.map(
      (l) => `  ${l.padEnd(24)} ${envName(l)}`,
    ).join('\n')}\n`,
  );
  return p;
}

function readText(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    throw new BootherdError('INVENTORY_INVALID', `cannot read ${file}: ${(err as Error).message}`);
  }
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows
    .map((r) =>
      r
        .map((c, i) => c.padEnd(widths[i]!))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

/** Run the CLI; resolves to the process exit code. */
export async function run(argv: string[]): Promise<number> {
  try {
    await program().parseAsync(argv);
    return 0;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode;
    if (err instanceof YamlError || err instanceof BootherdError) {
      say.error(err.message);
      return (err instanceof BootherdError && POWER_EXIT_CODES[err.code]) || 1;
    }
    if (process.env.BOOTHERD_DEBUG) throw err;
    say.error((err as Error).message ?? String(err));
    return 1;
  }
}
