/**
 * The script row's fleet, shared by bench/http (beside nginx), bench/http/service (in process) and bench/http/paired
 * (two builds): 1000 machines with a MAC, hostname and rack label, one kernel profile whose command line names three
 * of their variables, one group holding them all; and the wrk script that asks for each machine's script in turn.
 */
import { writeFileSync } from 'node:fs';
import { mac } from '../lib/fleet.ts';

export const MACHINES = 1000;

export const macOf = (i: number) => mac(i);

/** The i-th machine's script request, as iPXE's bootstrap script asks for it. */
export function scriptPath(i: number): string {
  return `/ipxe?mac=${macOf(i).replaceAll(':', '-')}&platform=pcbios&buildarch=i386`;
}

export function scriptRowInventory(): string {
  const machines = Array.from(
    { length: MACHINES },
    (_, i) => `  - id: m${i}\n    macs: ["${macOf(i)}"]\n    hostname: m${i}\n    labels: { rack: r${i % 40} }\n`,
  ).join('');
  return (
    'profiles:\n  - name: debian\n    kernel: debian/linux\n    initrds: [debian/initrd.gz]\n' +
    '    cmdline: auto=true hostname={{hostname}} rack={{label_rack}} url={{base_url}}/assets/preseed/{{machine_id}}.cfg\n' +
    `groups:\n  - name: all\n    profile: debian\n    selectors: {}\nmachines:\n${machines}`
  );
}

/** A wrk script that walks `paths` round-robin, one per request. */
export function luaPaths(file: string, paths: string[]): void {
  writeFileSync(
    file,
    `local paths = {${paths.map((p) => `"${p}"`).join(',')}}\nlocal i = 0\n` +
      'request = function()\n  i = i % #paths + 1\n  return wrk.format("GET", paths[i])\nend\n',
  );
}
