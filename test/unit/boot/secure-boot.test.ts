/** Secure Boot in the boot policy: who gets the signed shim, and what such a machine may boot. */
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import {
  type BootPolicyConfig,
  decideDhcp,
  decideScript,
  type InventoryView,
  SHIM_GRUB_NAME,
  SHIM_NAME,
} from '../../../src/boot/decide.ts';
import { formatInventory, parseInventory } from '../../../src/config/inventory-file.ts';
import {
  checkSecureBootFiles,
  secureBootFile,
  secureBootRefusals,
  secureBootUsed,
} from '../../../src/core/secure-boot.ts';
import { BootherdError } from '../../../src/errors.ts';
import type { ClientFacts, Group, Machine, Profile } from '../../../src/model/types.ts';
import { checkProfile } from '../../../src/model/validate.ts';

const config: BootPolicyConfig = {
  baseUrl: 'http://192.0.2.1:8080',
  requiredFeatures: ['http'],
  bootFiles: { bios: 'undionly.kpxe', 'x64-uefi': 'snponly.efi', 'arm64-uefi': 'ipxe-arm64.efi' },
  secureBootFiles: { shim: '/s/shimx64.efi.signed', grub: '/g/grubnetx64.efi.signed' },
  unknown: { action: 'menu' },
  menu: { timeout: 10, default: 'local' },
};

const profiles: Profile[] = [
  { name: 'install', boot: { kind: 'kernel', kernel: 'k', initrds: ['i'] } },
  { name: 'rescue', boot: { kind: 'sanboot', url: 'iso/r.iso' } },
  { name: 'other', boot: { kind: 'chain', url: 'http://192.0.2.9/x.ipxe' } },
  { name: 'signed-install', boot: { kind: 'kernel', kernel: 'k', initrds: [] }, secureBoot: true },
];
const MAC = '52:54:00:5b:00:01';
const ovmf: ClientFacts = { mac: MAC, arch: 7, vendorClass: 'PXEClient:Arch:00007:UNDI:003000' };
const machine = (m: Partial<Machine>): Machine => ({ id: 'sb', macs: [MAC], labels: {}, ...m });
const view = (m?: Machine, groups: Group[] = []): InventoryView => ({
  machine: m,
  groups,
  profiles: new Map(profiles.map((p) => [p.name, p])),
});

describe('Secure Boot: the boot file', () => {
  it('a Secure Boot machine on x64 UEFI PXE gets the signed shim over TFTP', () => {
    const d = decideDhcp(ovmf, view(machine({ profile: 'install', secureBoot: true })), config);
    assert.deepEqual(d, { kind: 'shim', file: SHIM_NAME, transport: 'tftp', reason: 'Secure Boot' });
  });
  it('control: the same machine without Secure Boot gets iPXE', () => {
    const d = decideDhcp(ovmf, view(machine({ profile: 'install' })), config);
    assert.equal(d.kind === 'ipxe-binary' && d.file, 'snponly.efi');
  });
  it('UEFI HTTP boot gets the shim by URL, beside which shim finds its GRUB', () => {
    const d = decideDhcp({ mac: MAC, arch: 16 }, view(machine({ profile: 'install', secureBoot: true })), config);
    assert.deepEqual(d, {
      kind: 'shim',
      file: `http://192.0.2.1:8080/secure-boot/${SHIM_NAME}`,
      transport: 'http',
      reason: 'Secure Boot, UEFI HTTP boot',
    });
  });
  it('boot.secure_boot is the default; a machine saying false overrides it', () => {
    const on = { ...config, secureBoot: true };
    assert.equal(decideDhcp(ovmf, view(machine({ profile: 'install' })), on).kind, 'shim');
    assert.equal(decideDhcp(ovmf, view(), on).kind, 'shim', 'unknown machines too');
    assert.equal(decideDhcp(ovmf, view(machine({ profile: 'install', secureBoot: false })), on).kind, 'ipxe-binary');
  });
  it("a group's setting, then the profile's, apply when the machine says nothing", () => {
    const group: Group = { name: 'sb', selectors: { mac: MAC }, secureBoot: true };
    assert.equal(decideDhcp(ovmf, view(machine({ profile: 'install' }), [group]), config).kind, 'shim');
    assert.equal(decideDhcp(ovmf, view(machine({ profile: 'signed-install' })), config).kind, 'shim');
    const off: Group = { ...group, secureBoot: false };
    assert.equal(decideDhcp(ovmf, view(machine({ profile: 'signed-install' }), [off]), config).kind, 'ipxe-binary');
  });
  it('BIOS has no Secure Boot: a Secure Boot machine booting there still gets iPXE', () => {
    const d = decideDhcp({ mac: MAC, arch: 0 }, view(machine({ profile: 'install', secureBoot: true })), config);
    assert.equal(d.kind === 'ipxe-binary' && d.file, 'undionly.kpxe');
  });
});

describe('Secure Boot: what such a machine may boot', () => {
  it('a sanboot profile is refused with a clear error', () => {
    const d = decideScript(ovmf, view(machine({ profile: 'rescue', secureBoot: true })), config);
    assert.equal(d.kind, 'error');
    assert.match(d.kind === 'error' ? d.reason : '', /"rescue" is a sanboot profile, which only iPXE can boot/);
    assert.match(d.kind === 'error' ? d.reason : '', /Secure Boot \(machine "sb"\)/);
  });
  it('so is a chain profile chosen from a menu', () => {
    const d = decideScript(ovmf, view(machine({ secureBoot: true })), config, 'other');
    assert.equal(d.kind, 'error');
  });
  it('control: the same sanboot profile without Secure Boot is served', () => {
    assert.equal(decideScript(ovmf, view(machine({ profile: 'rescue' })), config).kind, 'profile');
  });
  it('a Secure Boot machine set to local gets the local decision', () => {
    const d = decideScript(ovmf, view(machine({ nextAction: { action: 'local' }, secureBoot: true })), config);
    assert.equal(d.kind, 'local');
  });
  it('a Secure Boot profile that only iPXE can boot is refused when written', () => {
    assert.throws(
      () => checkProfile({ name: 'x', boot: { kind: 'sanboot', url: 'iso/a.iso' }, secureBoot: true }),
      /a sanboot profile needs iPXE/,
    );
  });
});

describe('Secure Boot: files and inventory', () => {
  it('the names map to the configured files; other names are not generated', () => {
    assert.equal(secureBootFile(SHIM_NAME, config), '/s/shimx64.efi.signed');
    assert.equal(secureBootFile(SHIM_GRUB_NAME, config), '/g/grubnetx64.efi.signed');
    assert.equal(secureBootFile('snponly.efi', config), undefined);
  });
  it('a missing file is an error naming its package; present files pass', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'bh-sb-'));
    const shim = join(dir, 'shim');
    const grub = join(dir, 'grub');
    writeFileSync(grub, 'x');
    const err = await checkSecureBootFiles({ ...config, secureBootFiles: { shim, grub } }).catch((e: unknown) => e);
    assert.ok(err instanceof BootherdError);
    assert.match(err.message, /boot\.shim .* is missing: install the Debian package shim-signed/);
    writeFileSync(shim, 'x');
    await checkSecureBootFiles({ ...config, secureBootFiles: { shim, grub } });
  });
  it('used when the default or any record asks for it', () => {
    const none = { machines: [machine({})], groups: [], profiles };
    assert.equal(secureBootUsed(config, { ...none, profiles: [] }), false);
    assert.equal(secureBootUsed(config, none), true, 'signed-install asks for it');
    assert.equal(secureBootUsed({ ...config, secureBoot: true }, { machines: [], groups: [], profiles: [] }), true);
  });
  it('bootherd check: a Secure Boot machine whose profile would be refused is named; others are not', () => {
    const machines = [
      machine({ id: 'bad', profile: 'rescue', secureBoot: true }),
      machine({ id: 'fine', macs: ['52:54:00:5b:00:02'], profile: 'install', secureBoot: true }),
      machine({ id: 'ipxe', macs: ['52:54:00:5b:00:03'], profile: 'rescue' }),
    ];
    const refused = secureBootRefusals(config, { machines, groups: [], profiles });
    assert.equal(refused.length, 1);
    assert.match(refused[0] ?? '', /^machine bad: profile "rescue" is a sanboot profile/);
  });
  it('the inventory file reads and writes secure_boot on machines, groups and profiles', () => {
    const text = `
profiles:
  - { name: p, kernel: k, secure_boot: true }
groups:
  - { name: g, selectors: { label.role: sb }, secure_boot: true }
machines:
  - { id: m, macs: ["${MAC}"], secure_boot: false }
`;
    const inv = parseInventory(text, 'inv.yaml');
    assert.equal(inv.profiles[0]?.secureBoot, true);
    assert.equal(inv.groups[0]?.secureBoot, true);
    assert.equal(inv.machines[0]?.secureBoot, false);
    const out = formatInventory(inv);
    assert.match(out, /secure_boot: false/);
    assert.deepEqual(parseInventory(out, 'export.yaml'), inv);
  });
});
