/**
 * PXELINUX over HTTP: a BIOS VM (SeaBIOS + the iPXE ROM on e1000) gets its address from bootherd (full DHCP); its
 * iPXE gets the machine's script, which sets options 210/209 and chains Debian's lpxelinux.0 over HTTP; PXELINUX
 * reads the config bootherd generates from the boot policy and fetches kernel and initrd over HTTP; the payload
 * prints the machine's command line. A one-shot install is consumed by PXELINUX's config fetch, not by the iPXE step.
 * A machine at its menu gets menu.c32 and its default, the local disk. Control: the same VM without `boot_loader`
 * boots through iPXE's own script, with no lpxelinux fetch.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { type RunningBootherd, startFull } from './lib/bootherd.ts';
import { createTestNet, type TestNet } from './lib/netns.ts';
import { linkPayload, MARKER } from './lib/payload.ts';
import { consoleUntil, startVm } from './lib/qemu.ts';

const LPXELINUX = '/usr/lib/PXELINUX/lpxelinux.0';
const MODULES = '/usr/lib/syslinux/modules/bios';
const INSTALL = '52:54:00:e2:7c:01';
const MENU = '52:54:00:e2:7c:02';
const PLAIN = '52:54:00:e2:7c:03';
const CMDLINE = 'console=ttyS0 panic=-1 bootherd.via=pxelinux';

const inventory = `
profiles:
  - name: tiny-linux
    kernel: linux/vmlinuz
    initrds: [linux/initrd.gz]
    cmdline: '${CMDLINE}'
machines:
  - id: vm-pxe
    macs: ["${INSTALL}"]
    profile: tiny-linux
    boot_loader: pxelinux
    next: install
  - id: vm-menu
    macs: ["${MENU}"]
    profile: tiny-linux
    boot_loader: pxelinux
    next: menu
    menu: { timeout: 1, default: local }
  - id: vm-plain
    macs: ["${PLAIN}"]
    profile: tiny-linux
`;

/** HTTP request paths the server logged (debug), in order, from VMs (not the test's own requests from the server). */
function httpRequests(server: RunningBootherd, serverIp: string): string[] {
  return server
    .log()
    .split('\n')
    .filter((l) => l.includes('"msg":"incoming request"') && !l.includes(`"remote":"${serverIp}"`))
    .map((l) => /"url":"([^"]+)"/.exec(l)?.[1] ?? '');
}

/** TFTP file names the server was asked for (debug log). */
function tftpRequests(server: RunningBootherd): string[] {
  return [...server.log().matchAll(/"file":"\/?([^"]+)"[^\n]*tftp: RRQ/g)].map((m) => m[1] as string);
}

function fetchText(net: TestNet, path: string): string {
  return execFileSync(net.exec[0] as string, [
    ...net.exec.slice(1),
    'curl',
    '-sf',
    `http://${net.serverIp}:8080${path}`,
  ]).toString();
}

/** Boot the VM until `until` shows on its console; the console, the HTTP requests it made and the seconds it took. */
async function boot(
  net: TestNet,
  server: RunningBootherd,
  mac: string,
  until: RegExp,
): Promise<{ console: string; http: string[]; seconds: string }> {
  const before = httpRequests(server, net.serverIp).length;
  const started = Date.now();
  const vm = startVm({
    exec: net.exec,
    tap: 'tap0',
    mac,
    romfile: '/usr/lib/ipxe/qemu/pxe-e1000.rom',
    deadlineMs: 240_000,
  });
  const failure = /bootherd: could not start PXELINUX/;
  const seen = await consoleUntil(vm, { until, failure, serverLog: server.log, started });
  return { ...seen, http: httpRequests(server, net.serverIp).slice(before) };
}

describe('PXELINUX over HTTP (SeaBIOS, iPXE ROM → lpxelinux.0 → generated config → kernel over HTTP)', () => {
  it('boots the payload with the machine command line; a menu machine reaches LOCALBOOT; control without the option', {
    timeout: 900_000,
  }, async (t) => {
    // pxelinux and syslinux-common (scripts/e2e-deps.sh): fail, never skip.
    execFileSync('test', ['-f', LPXELINUX]);
    execFileSync('test', ['-f', `${MODULES}/ldlinux.c32`]);
    const net = createTestNet();
    let server: RunningBootherd | undefined;
    try {
      net.addTap('tap0');
      server = await startFull(
        net,
        inventory,
        // TFTP on, to show it serves nothing of PXELINUX's. The ROM is Debian's iPXE (with HTTP): it gets the script
        // directly, as in dhcp-boot.test.ts. Not undionly.kpxe over that ROM: lpxelinux's own TCP/IP stack, on the
        // PXE API of an undionly.kpxe that itself drives an iPXE ROM's UNDI, stops receiving mid-transfer here (a
        // capture shows the client's ACKs stop; pixiecore notes undionly.kpxe loses the network over a native iPXE).
        `tftp: { enabled: true, listen: ${net.serverIp}, port: 69 }
log: { level: debug }
`,
      );
      linkPayload(server.dir);
      const base = `http://${net.serverIp}:8080`;
      const cfgPath = `/pxelinux/pxelinux.cfg/01-${INSTALL.replace(/:/g, '-')}`;

      // The iPXE step hands over without consuming the one-shot: asked twice, it hands over twice.
      for (let i = 0; i < 2; i++) {
        const script = fetchText(net, `/ipxe?mac=${INSTALL.replace(/:/g, '-')}&platform=pcbios`);
        assert.match(script, new RegExp(`\\nset 210:string ${base}/pxelinux/\\n`));
        assert.match(script, new RegExp(`\\nset 209:string pxelinux\\.cfg/01-${INSTALL.replace(/:/g, '-')}\\n`));
        assert.match(script, new RegExp(`\\nchain ${base}/pxelinux/lpxelinux\\.0 \\|\\| goto failed\\n`));
      }

      // 1. iPXE → lpxelinux.0 → its config → kernel + initrd, all over HTTP; the payload shows the command line.
      const booted = await boot(net, server, INSTALL, new RegExp(`${MARKER} cmdline=\\[.*\\]`));
      const line = new RegExp(`${MARKER} cmdline=\\[(.*)\\]`).exec(booted.console)?.[1] ?? '';
      // PXELINUX puts the kernel's name first and the INITRD directive last as `initrd=`, the machine's line between.
      assert.equal(
        line,
        `BOOT_IMAGE=${base}/assets/linux/vmlinuz ${CMDLINE} initrd=${base}/assets/linux/initrd.gz`,
        "the machine's command line reached the kernel",
      );
      const order = ['/pxelinux/lpxelinux.0', '/pxelinux/ldlinux.c32', cfgPath, '/assets/linux/vmlinuz'];
      const at = order.map((p) => booted.http.indexOf(p));
      assert.ok(
        at.every((i, n) => i >= 0 && (n === 0 || i > (at[n - 1] as number))),
        `lpxelinux, ldlinux, config, kernel in that order over HTTP: ${booted.http.join(', ')}`,
      );
      assert.ok(booted.http.includes('/assets/linux/initrd.gz'), `initrd over HTTP: ${booted.http.join(', ')}`);
      assert.equal(booted.http.filter((p) => p === cfgPath).length, 1, 'PXELINUX read its config once');
      const tftp = tftpRequests(server);
      assert.ok(
        tftp.every((f) => f === 'undionly.kpxe'),
        `TFTP served only the iPXE binary: ${tftp.join(', ')}`,
      );
      // SERIAL in the config: what PXELINUX says (its SAY line) reaches the serial console.
      assert.match(booted.console, /PXELINUX 6\.\d+ lwIP/, 'PXELINUX ran');
      assert.match(booted.console, /bootherd: vm-pxe: tiny-linux/);
      // The config fetch consumed the one-shot: the machine's config is now its local disk.
      assert.match(fetchText(net, cfgPath), /\nLABEL local\n {2}LOCALBOOT 0\n$/);
      t.diagnostic(`firmware to payload kernel through PXELINUX: ${booted.seconds}`);
      t.diagnostic(`HTTP: ${booted.http.join(', ')}; TFTP: ${tftp.join(', ') || 'nothing'}`);

      // 2. A machine at its menu: menu.c32 over HTTP, the timeout picks the default, PXELINUX's local boot.
      const menuCfg = fetchText(net, `/pxelinux/pxelinux.cfg/01-${MENU.replace(/:/g, '-')}`);
      assert.match(menuCfg, /\nUI menu\.c32\n/);
      const menu = await boot(net, server, MENU, /bootherd: PXELINUX returned for a local boot/);
      assert.doesNotMatch(menu.console, new RegExp(MARKER));
      assert.match(menu.console, /bootherd: vm-menu/, "menu.c32 showed the machine's menu");
      for (const f of ['menu.c32', 'libutil.c32'])
        assert.ok(menu.http.includes(`/pxelinux/${f}`), `${f} over HTTP: ${menu.http.join(', ')}`);
      t.diagnostic(`firmware to PXELINUX local boot through its menu: ${menu.seconds}`);

      // 3. Control: without boot_loader the same VM boots through iPXE's own script; no PXELINUX at all.
      const plain = await boot(net, server, PLAIN, new RegExp(`${MARKER} cmdline=\\[.*\\]`));
      assert.ok(!plain.http.some((p) => p.startsWith('/pxelinux')), `no PXELINUX fetch: ${plain.http.join(', ')}`);
      assert.ok(
        plain.http.some((p) => p.startsWith('/ipxe?')),
        'iPXE fetched its script',
      );
      assert.doesNotMatch(plain.console, /PXELINUX/);
      t.diagnostic(`control, iPXE alone: ${plain.seconds}`);
    } finally {
      await server?.stop();
      net.destroy();
    }
  });
});
