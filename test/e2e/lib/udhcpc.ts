/** busybox udhcpc as a one-shot DHCP client in a client namespace: get a lease, print what was bound, quit. */
import { execFile } from 'node:child_process';
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Write udhcpc's event script into `dir`: it configures the address and prints `EVENT bound ip=…`. */
export function writeUdhcpcScript(dir: string): string {
  const script = join(dir, 'udhcpc.sh');
  writeFileSync(
    script,
    '#!/bin/sh\ncase "$1" in bound|renew) busybox ifconfig "$interface" "$ip" netmask "$subnet"; echo "EVENT $1 ip=$ip" ;; *) echo "EVENT $1" ;; esac\n',
  );
  chmodSync(script, 0o755);
  return script;
}

/**
 * One DORA from a fresh DISCOVER (`-q -n`: quit once bound, fail when nothing answers; 5 tries 1 s apart); resolves
 * with the bound address, or a `no lease: …` text that no address assertion matches.
 */
export async function udhcpcOnce(exec: string[], script: string, extra: string[] = []): Promise<string> {
  const [cmd, ...args] = [...exec, 'busybox', 'udhcpc', '-f', '-q', '-n', '-i', 'eth0', '-s', script];
  const r = await run(cmd as string, [...args, '-t', '5', '-T', '1', ...extra], { timeout: 30_000 }).catch(
    (e: { stdout?: string; stderr?: string }) => ({ stdout: e.stdout ?? '', stderr: e.stderr ?? String(e) }),
  );
  return /EVENT bound ip=(\S+)/.exec(r.stdout)?.[1] ?? `no lease: ${r.stdout}${r.stderr}`;
}
