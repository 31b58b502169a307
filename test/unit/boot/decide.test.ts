import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  type BootPolicyConfig,
  decideDhcp,
  decideScript,
  type InventoryView,
  isCapableIpxe,
} from '../../../src/boot/decide.ts';
import type { ClientFacts, Group, Machine, Profile } from '../../../src/model/types.ts';

const config: BootPolicyConfig = {
  baseUrl: 'http://192.0.2.1:8080',
  requiredFeatures: ['http'],
  bootFiles: { bios: 'undionly.kpxe', 'x64-uefi': 'snponly.efi', 'arm64-uefi': 'snponly-arm64.efi' },
  unknown: { action: 'menu' },
  menu: { timeout: 10, default: 'local' },
};

const profiles: Profile[] = [
  { name: 'install', boot: { kind: 'kernel', kernel: 'k', initrds: ['i'], cmdline: 'x' } },
  { name: 'rescue', boot: { kind: 'sanboot', url: 'iso/r.iso' } },
  { name: 'disk', boot: { kind: 'local' } },
  { name: 'choose', boot: { kind: 'menu', items: ['rescue', 'install'] } },
];

function view(machine?: Machine, groups: Group[] = []): InventoryView {
  return { machine, groups, profiles: new Map(profiles.map((p) => [p.name, p])) };
}

// What real clients send (shared/clients.md).
const ipxeRom: ClientFacts = {
  mac: '52:54:00:12:34:56',
  arch: 0,
  userClass: 'iPXE',
  ipxeFeatures: ['dns', 'http', 'iscsi', 'aoe', 'tftp', 'nfs', 'elf', 'multiboot', 'bzimage', 'pxe', 'pxeext', 'menu'],
};
const ovmf: ClientFacts = { mac: '52:54:00:12:34:56', arch: 7, vendorClass: 'PXEClient:Arch:00007:UNDI:003000' };
const seabiosVendor: ClientFacts = {
  mac: '52:54:00:12:34:56',
  arch: 0,
  vendorClass: 'PXEClient:Arch:00000:UNDI:002001',
};

describe('decideDhcp: which boot file a client gets', () => {
  it('BIOS firmware PXE gets undionly.kpxe over TFTP', () => {
    assert.deepEqual(decideDhcp(seabiosVendor, view(), config), {
      kind: 'ipxe-binary',
      file: 'undionly.kpxe',
      transport: 'tftp',
      reason: 'firmware PXE',
    });
  });
  it('x64 UEFI firmware PXE gets snponly.efi', () => {
    const d = decideDhcp(ovmf, view(), config);
    assert.equal(d.kind === 'ipxe-binary' && d.file, 'snponly.efi');
  });
  it('ARM64 UEFI gets the ARM64 binary', () => {
    const d = decideDhcp({ mac: '52:54:00:00:00:01', arch: 11 }, view(), config);
    assert.equal(d.kind === 'ipxe-binary' && d.file, 'snponly-arm64.efi');
  });
  it('UEFI HTTP boot (arch 16) gets an http URL to the binary', () => {
    const d = decideDhcp({ mac: '52:54:00:00:00:01', arch: 16, vendorClass: 'HTTPClient:Arch:00016' }, view(), config);
    assert.deepEqual(d.kind === 'ipxe-binary' && [d.transport, d.file], [
      'http',
      'http://192.0.2.1:8080/ipxe-bin/snponly.efi',
    ]);
  });
  it('a capable iPXE (user class iPXE + HTTP feature) gets the script URL: the chainload loop is broken', () => {
    assert.deepEqual(decideDhcp(ipxeRom, view(), config), {
      kind: 'script',
      url: 'http://192.0.2.1:8080/boot.ipxe',
      reason: 'capable iPXE',
    });
  });
  it('control: an iPXE without the HTTP feature (a weak vendor build) is re-chained to a capable binary', () => {
    const weak = { ...ipxeRom, ipxeFeatures: ['tftp', 'pxe'] };
    assert.equal(isCapableIpxe(weak, config), false);
    const d = decideDhcp(weak, view(), config);
    assert.deepEqual(d.kind === 'ipxe-binary' && [d.file, d.reason], [
      'undionly.kpxe',
      'iPXE without the required features',
    ]);
  });
  it('loop guard: a weak iPXE that just loaded our binary gets the script, naming what it lacks', () => {
    const weak = { ...ipxeRom, ipxeFeatures: ['http', 'tftp'] };
    const cfg: BootPolicyConfig = { ...config, requiredFeatures: ['http', 'https'] };
    assert.deepEqual(decideDhcp(weak, view(), cfg, { loadedOurBinary: true }), {
      kind: 'script',
      url: 'http://192.0.2.1:8080/boot.ipxe',
      reason:
        'loop guard: the iPXE binary this machine just loaded from bootherd lacks https; its script instead of another chainload',
    });
    // Controls: before it loaded ours (a weak vendor ROM) it is chained; with the guard off it is chained again (the
    // loop); firmware PXE (no user class) is chained whatever it loaded before.
    assert.equal(decideDhcp(weak, view(), cfg).kind, 'ipxe-binary');
    assert.equal(decideDhcp(weak, view(), { ...cfg, loopGuard: false }, { loadedOurBinary: true }).kind, 'ipxe-binary');
    assert.equal(decideDhcp(seabiosVendor, view(), cfg, { loadedOurBinary: true }).kind, 'ipxe-binary');
  });
  it('option 175 alone does not make a client capable: the decision keys on option 77', () => {
    const noClass = { ...ipxeRom, userClass: undefined };
    assert.equal(decideDhcp(noClass, view(), config).kind, 'ipxe-binary');
  });
  it('a configured custom user class marks our own build as capable even without 175', () => {
    const own = { mac: '52:54:00:00:00:02', arch: 7, userClass: 'bootherd' };
    assert.equal(decideDhcp(own, view(), { ...config, userClass: 'bootherd' }).kind, 'script');
    assert.equal(decideDhcp(own, view(), config).kind, 'ipxe-binary');
  });
  it('unknown machines are ignored when unknown.action is ignore, known ones are not', () => {
    const cfg: BootPolicyConfig = { ...config, unknown: { action: 'ignore' } };
    assert.equal(decideDhcp(ovmf, view(), cfg).kind, 'ignore');
    const m: Machine = { id: 'm', macs: [ovmf.mac], labels: {}, profile: 'install' };
    assert.equal(decideDhcp(ovmf, view(m), cfg).kind, 'ipxe-binary');
  });
  it('an architecture with no configured binary is ignored with a reason', () => {
    const d = decideDhcp({ mac: '52:54:00:00:00:03', arch: 10 }, view(), config);
    assert.deepEqual(d, { kind: 'ignore', reason: 'no iPXE binary configured for arm32-uefi' });
  });
});

describe('decideScript: what script a machine gets', () => {
  const facts: ClientFacts = { mac: '52:54:00:12:34:56', platform: 'efi', buildarch: 'x86_64' };
  const base: Machine = { id: 'web1', macs: [facts.mac], labels: { role: 'web' } };
  const groups: Group[] = [
    { name: 'web', selectors: { 'label.role': 'web' }, profile: 'rescue' },
    { name: 'web-efi', selectors: { role: 'web', platform: 'efi' }, profile: 'install', menu: { timeout: 3 } },
    { name: 'all', selectors: {}, profile: 'disk' },
  ];

  it('next action beats the machine profile, which beats the group', () => {
    const m = { ...base, profile: 'rescue', nextAction: { action: 'install' as const } };
    const d = decideScript(facts, view(m, groups), config);
    assert.equal(d.kind === 'profile' && `${d.profile.name}/${d.source}`, 'rescue/next-action');
    const d2 = decideScript(facts, view({ ...base, profile: 'rescue' }, groups), config);
    assert.equal(d2.kind === 'profile' && d2.source, 'machine');
  });
  it('install one-shot carries the action to consume', () => {
    const next = { action: 'install' as const, profile: 'install' };
    const d = decideScript(facts, view({ ...base, nextAction: next }), config);
    assert.deepEqual(d.kind === 'profile' && d.oneShot, next);
  });
  it('install without any profile is an error, not a guess', () => {
    const d = decideScript(facts, view({ ...base, nextAction: { action: 'install' } }), config);
    assert.equal(d.kind, 'error');
  });
  it('the most specific matching group wins', () => {
    const d = decideScript(facts, view(base, groups), config);
    assert.equal(d.kind === 'profile' && `${d.profile.name}/${d.group}`, 'install/web-efi');
    // Control: on BIOS the two-selector group does not match and the one-selector group wins.
    const bios = decideScript({ ...facts, platform: 'pcbios' }, view(base, groups), config);
    assert.equal(bios.kind === 'profile' && bios.group, 'web');
  });
  it('ties between equally specific groups break by name, whatever the storage order', () => {
    const a: Group = { name: 'a', selectors: { mac: facts.mac }, profile: 'rescue' };
    const b: Group = { name: 'b', selectors: { platform: 'efi' }, profile: 'install' };
    for (const order of [
      [a, b],
      [b, a],
    ]) {
      const d = decideScript(facts, view(undefined, order), config);
      assert.equal(d.kind === 'profile' && d.group, 'a');
    }
  });
  it("a machine's explicit group beats selector matching", () => {
    const d = decideScript(facts, view({ ...base, group: 'all' }, groups), config);
    assert.equal(d.kind === 'local' && d.group, 'all');
  });
  it("machine menu settings override its group's, which override the defaults", () => {
    const m = { ...base, nextAction: { action: 'menu' as const }, menu: { default: 'rescue' } };
    const d = decideScript(facts, view(m, groups), config);
    assert.deepEqual(d.kind === 'menu' && d.settings, { timeout: 3, default: 'rescue' });
  });
  it('a menu profile lists its items in order; the default menu lists every bootable profile', () => {
    const d = decideScript(facts, view({ ...base, profile: 'choose' }), config);
    assert.deepEqual(d.kind === 'menu' && d.items.map((p) => p.name), ['rescue', 'install']);
    const u = decideScript({ mac: '52:54:00:99:99:99' }, view(), config);
    assert.deepEqual(u.kind === 'menu' && [u.source, u.items.map((p) => p.name)], [
      'unknown-default',
      ['disk', 'install', 'rescue'],
    ]);
  });
  it('unknown machines get the configured default', () => {
    const unknown = { mac: '52:54:00:99:99:99' };
    assert.equal(decideScript(unknown, view(), { ...config, unknown: { action: 'local' } }).kind, 'local');
    assert.equal(decideScript(unknown, view(), { ...config, unknown: { action: 'ignore' } }).kind, 'ignore');
    const p = decideScript(unknown, view(), { ...config, unknown: { action: 'profile', profile: 'rescue' } });
    assert.equal(p.kind === 'profile' && p.profile.name, 'rescue');
  });
  it('a menu choice boots that profile', () => {
    const d = decideScript(facts, view(base), config, 'rescue');
    assert.equal(d.kind === 'profile' && `${d.profile.name}/${d.source}`, 'rescue/menu-choice');
    assert.equal(decideScript(facts, view(base), config, 'nope').kind, 'error');
  });
  it('machine variables override group variables, which override profile variables', () => {
    const g: Group = { name: 'g', selectors: {}, profile: 'install', variables: { a: 'group', b: 'group' } };
    const m = { ...base, variables: { a: 'machine' } };
    const d = decideScript(facts, view(m, [g]), config);
    assert.deepEqual(d.kind === 'profile' && d.variables, { a: 'machine', b: 'group' });
  });
});
