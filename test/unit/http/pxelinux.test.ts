/**
 * PXELINUX over HTTP through the app: the iPXE step hands over without consuming a one-shot, the config fetch
 * consumes it exactly once, Debian's lpxelinux.0 and modules are served from disk, other names get a quick 404.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { BASE_URL, type TestCore, testCore } from '../../lib/core.ts';

const LPXELINUX = '/usr/lib/PXELINUX/lpxelinux.0';
const MODULES = '/usr/lib/syslinux/modules/bios';

const inventory = `
profiles:
  - name: debian
    kernel: debian/linux
    initrds: [debian/initrd.gz]
    cmdline: auto=true host={{hostname}}
  - name: over-https
    kernel: https://192.0.2.9/linux
    initrds: []
machines:
  - id: pxe1
    macs: ["52:54:00:7c:10:01"]
    hostname: pxe1
    profile: debian
    boot_loader: pxelinux
    next: install
  - id: plain
    macs: ["52:54:00:7c:10:02"]
    profile: debian
    next: install
  - id: tls
    macs: ["52:54:00:7c:10:03"]
    profile: over-https
    boot_loader: pxelinux
    next: install
`;

const ipxe = (mac: string, platform: string) => `/ipxe?mac=${mac.replace(/:/g, '-')}&platform=${platform}`;
const cfg = (mac: string) => `/pxelinux/pxelinux.cfg/01-${mac.replace(/:/g, '-')}`;

describe('PXELINUX over HTTP: routes', () => {
  let t: TestCore;
  before(async () => {
    t = await testCore(inventory, { boot: { pxelinuxFiles: { loader: LPXELINUX, modules: MODULES } } });
  });
  after(() => t.close());

  it('the iPXE step hands over and leaves the one-shot; the config fetch consumes it exactly once', async () => {
    for (let i = 0; i < 3; i++) {
      const r = await t.app.inject(ipxe('52:54:00:7c:10:01', 'pcbios'));
      assert.equal(r.statusCode, 200, r.body);
      assert.match(r.body, /\nset 209:string pxelinux\.cfg\/01-52-54-00-7c-10-01\n/);
      assert.ok(r.body.includes(`\nchain ${BASE_URL}/pxelinux/lpxelinux.0 || goto failed\n`), r.body);
    }
    assert.deepEqual((await t.store.getMachine('pxe1'))?.nextAction, { action: 'install' });
    const first = await t.app.inject(cfg('52:54:00:7c:10:01'));
    assert.equal(first.statusCode, 200);
    assert.equal(first.headers['cache-control'], 'no-store');
    assert.match(first.body, /\n {2}LINUX http:\/\/192\.0\.2\.1:8080\/assets\/debian\/linux\n/);
    assert.match(first.body, /\n {2}APPEND auto=true host=pxe1\n/);
    assert.deepEqual((await t.store.getMachine('pxe1'))?.nextAction, { action: 'local' });
    const second = await t.app.inject(cfg('52:54:00:7c:10:01'));
    assert.match(second.body, /\nLABEL local\n {2}LOCALBOOT 0\n$/);
    assert.doesNotMatch(second.body, /LINUX/);
    await t.events.flush();
    const events = (await t.store.listEvents({ machineId: 'pxe1' })).reverse();
    assert.deepEqual(
      events.map((e) => [e.decision.kind, e.decision.loader ?? e.decision.format, e.decision.consumed]),
      [
        ['profile', 'pxelinux', false],
        ['profile', 'pxelinux', false],
        ['profile', 'pxelinux', false],
        ['profile', 'pxelinux', true],
        ['local', 'pxelinux', undefined],
      ],
    );
  });

  it('a config PXELINUX could not use is refused before the one-shot is consumed', async () => {
    const r = await t.app.inject(cfg('52:54:00:7c:10:03'));
    assert.equal(r.statusCode, 422, r.body);
    assert.match(JSON.parse(r.body).message, /PXELINUX fetches http, ftp or tftp URLs only/);
    assert.deepEqual((await t.store.getMachine('tls'))?.nextAction, { action: 'install' });
  });

  it("a UEFI machine set to PXELINUX gets iPXE's own script, the reason in its event", async () => {
    await t.inventory.setNextAction('pxe1', { action: 'install' });
    const r = await t.app.inject(ipxe('52:54:00:7c:10:01', 'efi'));
    assert.match(r.body, /^kernel /m);
    assert.doesNotMatch(r.body, /lpxelinux/);
    await t.events.flush();
    const [last] = await t.store.listEvents({ machineId: 'pxe1' });
    assert.match(String(last?.decision.loaderReason), /lpxelinux\.0 is a BIOS program/);
  });

  it('control: a machine without the option gets the kernel script on BIOS', async () => {
    const r = await t.app.inject(ipxe('52:54:00:7c:10:02', 'pcbios'));
    assert.match(r.body, /^kernel /m);
    assert.doesNotMatch(r.body, /lpxelinux|209:string/);
  });

  it("serves Debian's lpxelinux.0 and COM32 modules byte for byte, with their length", async () => {
    for (const [url, file] of [
      ['/pxelinux/lpxelinux.0', LPXELINUX],
      ['/pxelinux/ldlinux.c32', `${MODULES}/ldlinux.c32`],
      ['/pxelinux/menu.c32', `${MODULES}/menu.c32`],
    ] as const) {
      const r = await t.app.inject(url);
      assert.equal(r.statusCode, 200, url);
      assert.ok(r.rawPayload.equals(readFileSync(file)), url);
      assert.equal(r.headers['content-length'], String(readFileSync(file).length));
    }
  });

  it("PXELINUX's other guesses and names outside the modules get a 404 with a reason", async () => {
    for (const url of [
      '/pxelinux/pxelinux.cfg/default',
      '/pxelinux/pxelinux.cfg/C000028',
      '/pxelinux/pxelinux.cfg/C0000264',
      '/pxelinux/pxelinux.cfg/b9aa6a3a-5a61-4b1f-9f0a-1e7c3d1c2b01',
      '/pxelinux/nope.c32',
      '/pxelinux/pxelinux.0',
      '/pxelinux/..%2fetc%2fpasswd',
      '/pxelinux/%2e%2e%2fldlinux.c32',
    ]) {
      const r = await t.app.inject(url);
      assert.equal(r.statusCode, 404, `${url}: ${r.body}`);
      assert.equal(JSON.parse(r.body).error, 'NOT_FOUND', url);
    }
  });

  it('preview shows the handoff for iPXE and the config for PXELINUX, consuming nothing', async () => {
    await t.inventory.setNextAction('pxe1', { action: 'install' });
    const m = await t.store.getMachine('pxe1');
    assert.ok(m);
    const seen = { ...m, lastSeen: { at: new Date().toISOString(), platform: 'pcbios' } };
    assert.match((await t.service.preview(seen, 'ipxe')).script, /\nset 210:string /);
    assert.match((await t.service.preview(seen, 'pxelinux')).script, /\n {2}LINUX /);
    assert.deepEqual((await t.store.getMachine('pxe1'))?.nextAction, { action: 'install' });
  });
});
