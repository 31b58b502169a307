/**
 * Whether a Router Advertisement can leave an interface, read from a /proc laid out in a temp dir the way the kernel
 * lays it out (lines of /proc/net/if_inet6 as a bridge in a test namespace showed them).
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { ipv6Obstacle } from '../../../src/net/ra.ts';

const roots: string[] = [];
after(() => {
  for (const r of roots) rmSync(r, { recursive: true, force: true });
});

/** A fake root: `disable` per interface (undefined: no conf folder for it), and the if_inet6 lines. */
function procRoot(disable: Record<string, string>, ifInet6: string[] | undefined, ipv6 = true): string {
  const root = mkdtempSync(join(tmpdir(), 'bh-ra-'));
  roots.push(root);
  mkdirSync(join(root, 'proc/net'), { recursive: true });
  if (ipv6) {
    mkdirSync(join(root, 'proc/sys/net/ipv6/conf/all'), { recursive: true });
    for (const [iface, value] of Object.entries(disable)) {
      mkdirSync(join(root, 'proc/sys/net/ipv6/conf', iface), { recursive: true });
      writeFileSync(join(root, 'proc/sys/net/ipv6/conf', iface, 'disable_ipv6'), `${value}\n`);
    }
  }
  if (ifInet6) writeFileSync(join(root, 'proc/net/if_inet6'), ifInet6.map((l) => `${l}\n`).join(''));
  return root;
}

const LO = '00000000000000000000000000000001 01 80 10 80       lo';
const BR0_LINK_LOCAL = 'fe80000000000000f00ffcfffe67a0b4 02 40 20 80      br0';
const TAP0_LINK_LOCAL = 'fe8000000000000068f121fffeade6dc 03 40 20 80     tap0';
const BR0_GLOBAL = '20010db8000000000000000000000001 02 40 00 80      br0';

describe('ipv6Obstacle', () => {
  test('IPv6 on and a link-local address: nothing in the way', () => {
    assert.equal(ipv6Obstacle('br0', procRoot({ br0: '0' }, [LO, BR0_LINK_LOCAL])), undefined);
  });

  test('disable_ipv6 = 1 on the interface: says so and names the sysctl that enables it', () => {
    // The kernel drops the interface's addresses when IPv6 is disabled: the table has none left.
    const why = ipv6Obstacle('br0', procRoot({ br0: '1' }, [LO]));
    assert.match(why ?? '', /IPv6 is disabled on br0/);
    assert.match(why ?? '', /sysctl -w net\.ipv6\.conf\.br0\.disable_ipv6=0/);
  });

  test('the file is read even if the address table still shows a link-local address', () => {
    assert.match(ipv6Obstacle('br0', procRoot({ br0: '1' }, [BR0_LINK_LOCAL])) ?? '', /disabled on br0/);
  });

  test('a kernel without IPv6 (ipv6.disable=1): no /proc/sys/net/ipv6 at all', () => {
    assert.match(ipv6Obstacle('br0', procRoot({}, undefined, false)) ?? '', /ipv6\.disable=1/);
  });

  test('an interface the kernel has no IPv6 settings for: probably not an interface', () => {
    assert.match(ipv6Obstacle('nope0', procRoot({ br0: '0' }, [BR0_LINK_LOCAL])) ?? '', /nope0 has no IPv6 settings/);
  });

  test('IPv6 on but no link-local address on this interface (a global one and another NIC’s do not count)', () => {
    const why = ipv6Obstacle('br0', procRoot({ br0: '0', tap0: '0' }, [LO, BR0_GLOBAL, TAP0_LINK_LOCAL]));
    assert.match(why ?? '', /br0 has no IPv6 link-local address/);
    assert.match(why ?? '', /addr_gen_mode=0/);
    assert.equal(ipv6Obstacle('tap0', procRoot({ br0: '0', tap0: '0' }, [LO, BR0_GLOBAL, TAP0_LINK_LOCAL])), undefined);
  });

  test('a link-local address whose duplicate address detection failed cannot be sent from', () => {
    const dadFailed = 'fe80000000000000f00ffcfffe67a0b4 02 40 20 88      br0';
    assert.match(ipv6Obstacle('br0', procRoot({ br0: '0' }, [dadFailed])) ?? '', /no IPv6 link-local address/);
  });
});
