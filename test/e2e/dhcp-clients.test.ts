/**
 * bootherd's full-mode DHCP against real clients, each in its own namespace on the test bridge: busybox udhcpc
 * (DORA, renew on SIGUSR1, release) and ISC dhclient (DORA, release); a reservation from the inventory; and a
 * restart that keeps every acknowledged lease.
 */
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { openSqliteStore } from '../../src/store/sqlite.ts';
import type { StoredLease } from '../../src/store/types.ts';
import { type RunningBootherd, startBootherd } from './lib/bootherd.ts';
import { createTestNet, type TestNet } from './lib/netns.ts';

const run = promisify(execFile);

const CONFIG = (ip: string) => `
data_dir: data
inventory: inventory.yaml
http: { listen: ${ip}, port: 8080, advertise: "http://${ip}:8080", assets: assets }
dhcp:
  mode: full
  interfaces: [br0]
  subnets:
    - subnet: 192.0.2.0/24
      range: [192.0.2.100, 192.0.2.120]
      lease_time: 600
      routers: [192.0.2.1]
      dns: [192.0.2.1]
      domain: test.example
`;
const INVENTORY = `
profiles:
  - name: disk
    local: true
machines:
  - id: reserved1
    macs: ["02:00:00:00:00:07"]
    hostname: reserved1
    ip: 192.0.2.7
    profile: disk
`;

describe('DHCP full mode with real clients (udhcpc, dhclient)', () => {
  let net: TestNet;
  let server: RunningBootherd;
  let dir: string;

  before(async () => {
    net = createTestNet();
    server = await startBootherd({
      exec: net.exec,
      config: CONFIG(net.serverIp),
      inventory: INVENTORY,
      readyPattern: /DHCP\s+full mode/,
    });
    dir = server.dir;
    // udhcpc's event script: configure the address (renew is unicast from it) and report what it got.
    writeFileSync(
      join(dir, 'udhcpc.sh'),
      '#!/bin/sh\ncase "$1" in bound|renew) busybox ifconfig "$interface" "$ip" netmask "$subnet"; echo "EVENT $1 ip=$ip router=$router dns=$dns domain=$domain lease=$lease" ;; *) echo "EVENT $1" ;; esac\n',
    );
    chmodSync(join(dir, 'udhcpc.sh'), 0o755);
    writeFileSync(
      join(dir, 'dhclient.sh'),
      '#!/bin/sh\ncase "$reason" in BOUND|RENEW|REBOOT) ip addr replace "$new_ip_address/24" dev "$interface" ;; esac\necho "REASON $reason new=$new_ip_address"\n',
    );
    chmodSync(join(dir, 'dhclient.sh'), 0o755);
  });

  after(async () => {
    await server?.stop();
    net?.destroy();
  });

  const leases = async (): Promise<StoredLease[]> => {
    // A second connection to the live database: WAL lets it read what the server committed.
    const s = await openSqliteStore(join(dir, 'data', 'bootherd.db'));
    try {
      return await s.loadLeases();
    } finally {
      await s.close();
    }
  };

  it('udhcpc: DORA with the subnet options, renew, release', { timeout: 60_000 }, async () => {
    const exec = net.addClient('u1', '02:00:00:00:00:01');
    const [cmd, ...args] = [
      ...exec,
      'busybox',
      'udhcpc',
      '-f',
      '-i',
      'eth0',
      '-s',
      join(dir, 'udhcpc.sh'),
      '-t',
      '5',
      '-T',
      '1',
      '-R',
    ];
    const child = spawn(cmd as string, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (out += c.toString()));
    try {
      const waitFor = async (re: RegExp) => {
        for (let i = 0; i < 100 && !re.test(out); i++) await sleep(100);
        assert.match(out, re, out);
      };
      await waitFor(/EVENT bound ip=192\.0\.2\.1\d\d/);
      assert.match(out, /router=192\.0\.2\.1 dns=192\.0\.2\.1 domain=test\.example lease=600/);
      const ip = /EVENT bound ip=(\S+)/.exec(out)?.[1];
      assert.equal((await leases()).find((l) => l.ip === ip)?.state, 'bound', 'the lease is in the store');
      child.kill('SIGUSR1'); // renew now: a unicast REQUEST from the bound address
      await waitFor(/EVENT renew ip=/);
      assert.equal(/EVENT renew ip=(\S+)/.exec(out)?.[1], ip, 'renewed the same address');
      child.kill('SIGTERM'); // -R: release on exit
      await new Promise((r) => child.once('exit', r));
      for (let i = 0; i < 20 && (await leases()).find((l) => l.ip === ip)?.state !== 'released'; i++) await sleep(100);
      assert.equal((await leases()).find((l) => l.ip === ip)?.state, 'released');
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('dhclient: DORA, then release', { timeout: 60_000 }, async () => {
    const exec = net.addClient('d1', '02:00:00:00:00:02');
    const common = ['-sf', join(dir, 'dhclient.sh'), '-lf', join(dir, 'd1.leases'), '-pf', join(dir, 'd1.pid')];
    const [cmd, ...args] = [...exec, 'dhclient', '-v', '-1', ...common, 'eth0'];
    const r = await run(cmd as string, args, { timeout: 30_000 });
    const got = /REASON BOUND new=(\S+)/.exec(r.stdout)?.[1];
    assert.match(got ?? '', /^192\.0\.2\.1\d\d$/, r.stdout + r.stderr);
    assert.equal((await leases()).find((l) => l.ip === got)?.state, 'bound');
    const [rcmd, ...rargs] = [...exec, 'dhclient', '-r', ...common, 'eth0'];
    await run(rcmd as string, rargs, { timeout: 30_000 });
    for (let i = 0; i < 20 && (await leases()).find((l) => l.ip === got)?.state !== 'released'; i++) await sleep(100);
    assert.equal((await leases()).find((l) => l.ip === got)?.state, 'released');
  });

  it('a reservation from the inventory, and a restart keeps every acknowledged lease', {
    timeout: 90_000,
  }, async () => {
    const udhcpc = async (exec: string[], extra: string[] = []) => {
      const [cmd, ...args] = [
        ...exec,
        'busybox',
        'udhcpc',
        '-f',
        '-q',
        '-n',
        '-i',
        'eth0',
        '-s',
        join(dir, 'udhcpc.sh'),
        '-t',
        '5',
        '-T',
        '1',
        ...extra,
      ];
      const r = await run(cmd as string, args, { timeout: 30_000 });
      return /EVENT bound ip=(\S+)/.exec(r.stdout)?.[1] ?? `no lease: ${r.stdout}${r.stderr}`;
    };
    const reserved = net.addClient('r1', '02:00:00:00:00:07');
    assert.equal(await udhcpc(reserved), '192.0.2.7', 'the inventory reservation');
    const k1 = net.addClient('k1', '02:00:00:00:00:0a');
    const held = await udhcpc(k1);
    assert.match(held, /^192\.0\.2\.1\d\d$/);

    await server.stop();
    server = await startBootherd({
      exec: net.exec,
      config: CONFIG(net.serverIp),
      inventory: INVENTORY,
      readyPattern: /DHCP\s+full mode/,
      dir,
    });
    // Control: another client asks for k1's address by name. A server that forgot its leases would give it away.
    const k2 = net.addClient('k2', '02:00:00:00:00:0b');
    const other = await udhcpc(k2, ['-r', held]);
    assert.match(other, /^192\.0\.2\.1\d\d$/);
    assert.notEqual(other, held, 'an acknowledged lease survives the restart');
    assert.equal(await udhcpc(k1, ['-r', held]), held, 'its owner gets it back');
  });

  it('answers an IPv6 Router Solicitation with a bare RA: router lifetime 0, no flags, no options', {
    timeout: 30_000,
  }, async () => {
    const exec = net.addClient('ra1', '02:00:00:00:00:0c');
    // Link-local addresses need a moment (DAD) before anything can be sent.
    await sleep(2500);
    const probe = `
import socket, struct, time
s = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_HOPS, 255)
s.settimeout(3)
s.sendto(bytes([133, 0, 0, 0, 0, 0, 0, 0]), ('ff02::2', 0, 0, socket.if_nametoindex('eth0')))
end = time.time() + 3
while time.time() < end:
    try:
        d, a = s.recvfrom(1500)
    except socket.timeout:
        break
    if d[0] == 134:
        print('RA', len(d), d[4], d[5], struct.unpack('!H', d[6:8])[0])
        break
else:
    print('none')
`;
    const [cmd, ...args] = [...exec, '/usr/bin/python3', '-c', probe];
    const { stdout } = await run(cmd as string, args, { timeout: 15_000 });
    // length 16 (no options), hop limit 0, flags 0 (M = O = 0), router lifetime 0.
    assert.equal(stdout.trim(), 'RA 16 0 0 0');
  });
});
