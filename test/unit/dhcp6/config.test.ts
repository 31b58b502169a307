/** The `dhcp6` section: defaults, and errors that name the file, line and field. */
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { loadConfig } from '../../../src/config/config.ts';

function file(text: string): string {
  const f = join(mkdtempSync(join(tmpdir(), 'bh-config6-')), 'bootherd.yaml');
  writeFileSync(f, text);
  return f;
}

const SUBNET = '  subnets: [{ prefix: "2001:db8::/64", range: ["2001:db8::100", "2001:db8::1ff"] }]\n';

describe('config dhcp6', () => {
  it('off by default', () => {
    assert.equal(loadConfig(undefined, {}).dhcp6.mode, 'off');
  });

  it('full mode: interfaces from dhcp.interfaces, lifetimes, RAs on, SLAAC off', () => {
    const c = loadConfig(file(`dhcp: { interfaces: [br0] }\ndhcp6:\n  mode: full\n${SUBNET}`), {});
    assert.deepEqual(c.dhcp6, {
      mode: 'full',
      interfaces: ['br0'],
      port: 547,
      subnets: [
        {
          prefix: '2001:db8::/64',
          range: ['2001:db8::100', '2001:db8::1ff'],
          preferredSeconds: 3600,
          validSeconds: 7200,
        },
      ],
      routerAdvertisements: true,
      slaac: false,
    });
  });

  it('errors name the line and the field', () => {
    const bad = (text: string, re: RegExp) => assert.throws(() => loadConfig(file(text), {}), re);
    bad('dhcp6:\n  mode: full\n  interfaces: [br0]\n', /:\d+:\d+: dhcp6\.subnets: full mode needs at least one subnet/);
    bad(`dhcp6:\n  mode: full\n${SUBNET}`, /dhcp6\.interfaces: DHCPv6 needs the interfaces/);
    bad(
      'dhcp6:\n  subnets: [{ prefix: 192.0.2.0/24, range: [a, b] }]\n',
      /:2:\d+: dhcp6\.subnets\[0\]\.prefix: "192\.0\.2\.0\/24" is not an IPv6 prefix/,
    );
    bad(
      'dhcp6:\n  subnets: [{ prefix: "2001:db8::/64", range: ["2001:db8::1", "2001:db9::1"] }]\n',
      /dhcp6\.subnets\[0\]\.range: both ends must be inside/,
    );
    bad(
      'dhcp6:\n  subnets: [{ prefix: "2001:db8::/64", range: ["2001:db8::1", "nope"] }]\n',
      /dhcp6\.subnets\[0\]\.range\[1\]: "nope" is not an IPv6 address/,
    );
    bad(
      'dhcp6:\n  subnets: [{ prefix: "2001:db8::/64", range: ["2001:db8::1", "2001:db8::2"], preferred_lifetime: 600, valid_lifetime: 300 }]\n',
      /valid_lifetime: must not be shorter/,
    );
    bad('dhcp6: { mode: half }\n', /dhcp6\.mode/);
    bad('dhcp6: { slacc: true }\n', /unknown field "slacc"/);
  });
});
