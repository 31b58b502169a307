/** `boot_loader: pxelinux` in the boot policy and the model: who hands over to PXELINUX, and what is refused. */
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { type BootPolicyConfig, decideLoader, decideScript, type InventoryView } from '../../../src/boot/decide.ts';
import { loadConfig } from '../../../src/config/config.ts';
import { formatInventory, parseInventory } from '../../../src/config/inventory-file.ts';
import { BootherdError } from '../../../src/errors.ts';
import type { ClientFacts, Group, Machine, Profile } from '../../../src/model/types.ts';
import { checkGroup, checkMachine, checkProfile } from '../../../src/model/validate.ts';

const config: BootPolicyConfig = {
  baseUrl: 'http://192.0.2.1:8080',
  requiredFeatures: ['http'],
  bootFiles: { bios: 'undionly.kpxe', 'x64-uefi': 'snponly.efi' },
  unknown: { action: 'menu' },
  menu: { timeout: 10, default: 'local' },
};
const profiles: Profile[] = [
  { name: 'install', boot: { kind: 'kernel', kernel: 'k', initrds: ['i'] } },
  { name: 'rescue', boot: { kind: 'sanboot', url: 'iso/r.iso' } },
  { name: 'pxe-install', boot: { kind: 'kernel', kernel: 'k', initrds: [] }, bootLoader: 'pxelinux' },
];
const MAC = '52:54:00:7c:00:01';
const bios: ClientFacts = { mac: MAC, platform: 'pcbios', buildarch: 'i386' };
const efi: ClientFacts = { mac: MAC, platform: 'efi', buildarch: 'x86_64' };
const machine = (m: Partial<Machine>): Machine => ({ id: 'pxe', macs: [MAC], labels: {}, ...m });
const view = (m?: Machine, groups: Group[] = []): InventoryView => ({
  machine: m,
  groups,
  profiles: new Map(profiles.map((p) => [p.name, p])),
});
const loader = (facts: ClientFacts, inv: InventoryView, c = config, choice?: string) =>
  decideLoader(facts, inv, c, decideScript(facts, inv, c, choice));

describe('boot_loader: who boots the kernel after iPXE', () => {
  it('a BIOS machine set to pxelinux hands over, whatever its decision: kernel, local disk, menu', () => {
    assert.deepEqual(loader(bios, view(machine({ profile: 'install', bootLoader: 'pxelinux' }))), {
      loader: 'pxelinux',
    });
    const local = machine({ profile: 'install', bootLoader: 'pxelinux', nextAction: { action: 'local' } });
    assert.deepEqual(loader(bios, view(local)), { loader: 'pxelinux' });
    const menu = machine({ profile: 'install', bootLoader: 'pxelinux', nextAction: { action: 'menu' } });
    assert.deepEqual(loader(bios, view(menu)), { loader: 'pxelinux' });
  });
  it('control: without the option, iPXE boots it, with no reason to give', () => {
    assert.deepEqual(loader(bios, view(machine({ profile: 'install' }))), { loader: 'ipxe' });
  });
  it('machine, then group, then profile, then boot.boot_loader', () => {
    const on: BootPolicyConfig = { ...config, bootLoader: 'pxelinux' };
    assert.equal(loader(bios, view(machine({ profile: 'install' })), on).loader, 'pxelinux');
    assert.equal(loader(bios, view(), on).loader, 'pxelinux', 'unknown machines too (their menu)');
    assert.equal(loader(bios, view(machine({ profile: 'install', bootLoader: 'ipxe' })), on).loader, 'ipxe');
    const group: Group = { name: 'pxe', selectors: { mac: MAC }, bootLoader: 'pxelinux' };
    assert.equal(loader(bios, view(machine({ profile: 'install' }), [group])).loader, 'pxelinux');
    assert.equal(loader(bios, view(machine({ profile: 'pxe-install' }))).loader, 'pxelinux', "the profile's");
    const ipxeGroup: Group = { ...group, bootLoader: 'ipxe' };
    assert.equal(loader(bios, view(machine({ profile: 'pxe-install' }), [ipxeGroup])).loader, 'ipxe');
  });
  it('a UEFI machine stays with iPXE (lpxelinux.0 is a BIOS program), and says why', () => {
    const d = loader(efi, view(machine({ profile: 'install', bootLoader: 'pxelinux' })));
    assert.deepEqual(d, {
      loader: 'ipxe',
      reason:
        "boot_loader pxelinux: lpxelinux.0 is a BIOS program and this machine's platform is efi (not pcbios); iPXE boots it",
    });
    const unknown = loader({ mac: MAC }, view(machine({ profile: 'install', bootLoader: 'pxelinux' })));
    assert.match(unknown.loader === 'ipxe' ? (unknown.reason ?? '') : '', /platform is unknown/);
  });
  it('a profile only iPXE boots (sanboot) and a choice from an iPXE menu stay with iPXE', () => {
    const d = loader(bios, view(machine({ profile: 'rescue', bootLoader: 'pxelinux' })));
    assert.equal(d.loader === 'ipxe' && d.reason?.includes('"rescue" is a sanboot profile'), true, JSON.stringify(d));
    const chosen = loader(bios, view(machine({ bootLoader: 'pxelinux' })), config, 'install');
    assert.equal(chosen.loader === 'ipxe' && chosen.reason?.includes('iPXE menu'), true, JSON.stringify(chosen));
  });
  it('errors and ignored machines are not handed over', () => {
    const err = machine({ profile: 'ghost', bootLoader: 'pxelinux' });
    assert.deepEqual(loader(bios, view(err)), { loader: 'ipxe' });
    const ignore: BootPolicyConfig = { ...config, unknown: { action: 'ignore' }, bootLoader: 'pxelinux' };
    assert.deepEqual(loader(bios, view(), ignore), { loader: 'ipxe' });
  });
});

describe('boot_loader in records, files and config', () => {
  const refused = (fn: () => unknown, field: string, re: RegExp) =>
    assert.throws(fn, (e: Error) => {
      assert.ok(e instanceof BootherdError, String(e));
      assert.equal(e.detail?.field, field);
      assert.match(e.message, re);
      return true;
    });
  it('only ipxe or pxelinux, with the field named', () => {
    refused(
      () => checkMachine({ ...machine({}), bootLoader: 'grub' as 'ipxe' }),
      'bootLoader',
      /^bootLoader: must be ipxe or pxelinux, got "grub"$/,
    );
    refused(
      () => checkGroup({ name: 'g', selectors: {}, bootLoader: 'syslinux' as 'ipxe' }),
      'bootLoader',
      /must be ipxe or pxelinux/,
    );
    assert.equal(checkMachine(machine({ bootLoader: 'pxelinux' })).bootLoader, 'pxelinux');
  });
  it('a profile only iPXE boots cannot ask for PXELINUX', () => {
    refused(
      () => checkProfile({ name: 'c', boot: { kind: 'chain', url: 'http://192.0.2.9/x' }, bootLoader: 'pxelinux' }),
      'bootLoader',
      /a chain profile is an iPXE profile: PXELINUX cannot boot it/,
    );
  });
  it('the inventory file spells it boot_loader; a bad value names file, line and field; export round-trips', () => {
    const text = `profiles:
  - { name: p, kernel: k, initrds: [], boot_loader: pxelinux }
groups:
  - { name: g, selectors: {}, boot_loader: ipxe }
machines:
  - id: m
    macs: ["${MAC}"]
    boot_loader: pxelinux
`;
    const inv = parseInventory(text, 'inv.yaml');
    assert.equal(inv.machines[0]?.bootLoader, 'pxelinux');
    assert.equal(inv.groups[0]?.bootLoader, 'ipxe');
    assert.equal(inv.profiles[0]?.bootLoader, 'pxelinux');
    const out = formatInventory(inv);
    assert.match(out, /boot_loader: pxelinux/);
    assert.doesNotMatch(out, /bootLoader/);
    assert.deepEqual(parseInventory(out, 'again.yaml'), inv);
    assert.throws(
      () => parseInventory(text.replace('boot_loader: pxelinux\n', 'boot_loader: pxe\n'), 'inv.yaml'),
      /inv\.yaml:8:18: machines\[0\]\.boot_loader: must be ipxe or pxelinux, got "pxe"$/,
    );
  });
  it('config: boot.boot_loader (default ipxe), the lpxelinux.0 and modules paths', () => {
    const c = loadConfig(undefined, {});
    assert.equal(c.boot.bootLoader, 'ipxe');
    assert.deepEqual(c.boot.pxelinuxFiles, {
      loader: '/usr/lib/PXELINUX/lpxelinux.0',
      modules: '/usr/lib/syslinux/modules/bios',
    });
    const dir = mkdtempSync(join(tmpdir(), 'bh-config-'));
    const f = join(dir, 'bootherd.yaml');
    writeFileSync(f, 'boot:\n  boot_loader: pxelinux\n  pxelinux: pxe/lpxelinux.0\n');
    const set = loadConfig(f, {});
    assert.equal(set.boot.bootLoader, 'pxelinux');
    assert.equal(set.boot.pxelinuxFiles?.loader, join(dir, 'pxe/lpxelinux.0'));
    writeFileSync(f, 'boot:\n  boot_loader: grub\n');
    assert.throws(() => loadConfig(f, {}), /bootherd\.yaml:2:16: boot\.boot_loader: must be one of ipxe, pxelinux/);
    assert.equal(loadConfig(undefined, { BOOTHERD_BOOT_BOOT_LOADER: 'pxelinux' }).boot.bootLoader, 'pxelinux');
  });
});
