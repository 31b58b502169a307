import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { formatInventory, parseInventory, parseNextAction } from '../../../src/config/inventory-file.ts';

const example = readFileSync('examples/inventory.yaml', 'utf8');

describe('inventory file', () => {
  it('parses the example and normalises identities', () => {
    const inv = parseInventory(example, 'inventory.yaml');
    assert.deepEqual(
      inv.profiles.map((p) => `${p.name}:${p.boot.kind}`),
      ['debian-installer:kernel', 'rescue-iso:sanboot', 'netboot-xyz:chain', 'disk:local'],
    );
    const db1 = inv.machines.find((m) => m.id === 'db1');
    assert.deepEqual(db1?.macs, ['52:54:00:12:34:57', '52:54:00:12:34:58']);
    assert.deepEqual(inv.machines[0]?.nextAction, { action: 'install' });
  });
  it('export → parse is a fixed point', () => {
    const inv = parseInventory(example, 'inventory.yaml');
    const again = parseInventory(formatInventory(inv), 'export.yaml');
    assert.deepEqual(again, inv);
  });
  it('errors name line, column and field', () => {
    const cases: [string, RegExp][] = [
      [
        'machines:\n  - id: a\n    macs: [nope]\n',
        /^YamlError: f:3:12: machines\[0\]\.macs\[0\]: "nope" is not a MAC address$/,
      ],
      [
        'machines:\n  - id: a\n    uuid: 00000000-0000-0000-0000-000000000000\n',
        /machines\[0\]\.uuid: not a UUID, or a placeholder/,
      ],
      [
        'machines:\n  - id: a\n    serial: To Be Set By OEM\n',
        /machines\[0\]\.serial: a placeholder serial identifies nothing/,
      ],
      [
        'profiles:\n  - name: p\n    kernel: k\n    sanboot: s\n',
        /^YamlError: f:2:5: profiles\[0\]: a profile needs exactly one of/,
      ],
      [
        'machines:\n  - id: a\n    macs: [52:54:00:00:00:01]\n    profile: ghost\n',
        /machines\[0\]\.profile: profile "ghost" is not defined/,
      ],
      [
        'machines:\n  - id: a\n    macs: ["52:54:00:00:00:01"]\n  - id: b\n    macs: ["52-54-00-00-00-01"]\n',
        /MAC 52:54:00:00:00:01 is already used by machine "a"/,
      ],
      [
        'machines:\n  - id: a\n    macs: ["52:54:00:00:00:01"]\n    next: reinstall\n',
        /machines\[0\]\.next: must be install/,
      ],
      ['profiles:\n  - name: "bad name"\n    local: true\n', /profiles\[0\]\.name: must be 1-63 letters/],
      ['machines:\n  - id: a\n', /a machine needs at least one of macs, uuid, serial or hostname/],
      ['profiles:\n  - name: p\n    local: true\n  - name: p\n    local: true\n', /"p" is defined twice/],
      ['hosts: []\n', /unknown field "hosts"/],
    ];
    for (const [text, re] of cases) assert.throws(() => parseInventory(text, 'f'), re, text);
  });
  it('next actions', () => {
    assert.deepEqual(parseNextAction('install:debian'), { action: 'install', profile: 'debian' });
    assert.deepEqual(parseNextAction('profile:rescue'), { action: 'profile', profile: 'rescue' });
    assert.deepEqual(parseNextAction('local'), { action: 'local' });
    assert.equal(parseNextAction('profile'), undefined);
    assert.equal(parseNextAction('local:x'), undefined);
  });
});
