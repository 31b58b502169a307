/**
 * The fleet the benchmarks seed: profiles, groups and `count` machines with MACs, serials, hostnames and labels, a
 * group or a profile for most, a few one-shots. One generator so bench/api and bench/scale measure the same inventory.
 */

export const ROLES = ['web', 'db', 'cache', 'batch', 'storage'];

/** The i-th machine's MAC (`prefix` for its second NIC). */
export const mac = (i: number, prefix = '52:54:00') =>
  `${prefix}:${((i >> 16) & 0xff).toString(16).padStart(2, '0')}:${((i >> 8) & 0xff).toString(16).padStart(2, '0')}:${(i & 0xff).toString(16).padStart(2, '0')}`;

export const machineId = (i: number) => `node-${String(i).padStart(5, '0')}`;

export function fleetYaml(count: number): string {
  const lines = [
    'profiles:',
    '  - name: debian',
    '    kernel: debian/linux',
    '    initrds: [debian/initrd.gz]',
    '    cmdline: auto=true hostname={{hostname}} url={{base_url}}/assets/preseed/{{machine_id}}.cfg',
    '  - name: rescue',
    '    kernel: rescue/vmlinuz',
    '    initrds: [rescue/initrd.img]',
    '  - name: disk',
    '    local: true',
    '  - name: netboot',
    '    chain: https://boot.netboot.xyz/ipxe/netboot.xyz.lkrn',
    'groups:',
    '  - name: web-efi',
    '    selectors: { platform: efi, label.role: web }',
    '    profile: debian',
    '  - name: db',
    '    selectors: { label.role: db }',
    '    profile: disk',
    '  - name: batch',
    '    selectors: { label.role: batch }',
    '    profile: rescue',
    'machines:',
  ];
  for (let i = 0; i < count; i++) {
    const id = machineId(i);
    const role = ROLES[i % ROLES.length]!;
    const macs = i % 10 === 0 ? `["${mac(i)}", "${mac(i, '52:54:01')}"]` : `["${mac(i)}"]`;
    const where =
      i % 4 === 0
        ? `group: ${role === 'db' ? 'db' : role === 'batch' ? 'batch' : 'web-efi'}`
        : `profile: ${i % 3 ? 'debian' : 'disk'}`;
    const next = i % 50 === 1 ? ', next: install' : '';
    lines.push(
      `  - { id: ${id}, macs: ${macs}, hostname: ${id}.dc1.example, serial: SN${100000 + i}, labels: { role: ${role}, rack: r${Math.floor(i / 40)} }, ${where}${next} }`,
    );
  }
  return `${lines.join('\n')}\n`;
}
