/**
 * `bootherd dhcp-config` output is checked by the real servers' own config checkers: dnsmasq --test, dhcpd -t and
 * kea-dhcp4 -t. A control case per tool shows the check rejects a broken file. (The UEFI e2e test boots a VM with
 * the dnsmasq snippet.)
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import { dhcpSnippet, type SnippetInput } from '../../src/dhcp/snippets.ts';

const run = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), 'bh-snippets-'));
const input: SnippetInput = {
  baseUrl: 'http://192.0.2.1:8080',
  tftpServer: '192.0.2.1',
  bootFiles: { bios: 'undionly.kpxe', 'x64-uefi': 'snponly.efi' },
  requiredFeatures: ['http', 'dns'],
  userClass: 'bootherd',
};

async function accepted(cmd: string, args: string[]): Promise<string | true> {
  return run(cmd, args, { timeout: 20_000 }).then(
    () => true as const,
    (err: { stdout?: string; stderr?: string }) => `${err.stdout ?? ''}${err.stderr ?? ''}`,
  );
}

describe('dhcp-config snippets pass the real servers’ config checks', () => {
  it('dnsmasq --test', async () => {
    const file = join(dir, 'dnsmasq.conf');
    const text = `port=0\ndhcp-range=192.0.2.100,192.0.2.150,1h\n${dhcpSnippet('dnsmasq', input)}`;
    writeFileSync(file, text);
    assert.equal(await accepted('dnsmasq', ['--test', `--conf-file=${file}`]), true);
    writeFileSync(file, `${text}dhcp-boot=tag:bios,,,,,,,\nnot-an-option=1\n`);
    assert.notEqual(await accepted('dnsmasq', ['--test', `--conf-file=${file}`]), true, 'control: a broken file fails');
  });

  it('ISC dhcpd -t', async () => {
    const file = join(dir, 'dhcpd.conf');
    const text = `${dhcpSnippet('isc-dhcpd', input)}subnet 192.0.2.0 netmask 255.255.255.0 { range 192.0.2.100 192.0.2.150; }\n`;
    writeFileSync(file, text);
    const lease = join(dir, 'dhcpd.leases');
    writeFileSync(lease, '');
    assert.equal(await accepted('dhcpd', ['-t', '-4', '-cf', file, '-lf', lease]), true);
    writeFileSync(file, `${text}if option client-arch = {\n`);
    assert.notEqual(await accepted('dhcpd', ['-t', '-4', '-cf', file, '-lf', lease]), true, 'control');
  });

  it('kea-dhcp4 -t', async () => {
    const snippet = JSON.parse(dhcpSnippet('kea', input).replace(/^\/\/.*\n/, '')) as Record<string, unknown>;
    const doc = {
      Dhcp4: {
        'interfaces-config': { interfaces: [] },
        'lease-database': { type: 'memfile', persist: false },
        subnet4: [{ id: 1, subnet: '192.0.2.0/24', pools: [{ pool: '192.0.2.100 - 192.0.2.150' }] }],
        ...snippet,
      },
    };
    const file = join(dir, 'kea.json');
    writeFileSync(file, JSON.stringify(doc));
    assert.equal(await accepted('kea-dhcp4', ['-t', file]), true);
    (doc.Dhcp4['client-classes' as 'subnet4'] as unknown as { test: string }[])[0]!.test = 'option[175].option[19] ==';
    writeFileSync(file, JSON.stringify(doc));
    assert.notEqual(await accepted('kea-dhcp4', ['-t', file]), true, 'control');
  });
});
