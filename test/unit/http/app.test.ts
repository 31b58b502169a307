import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { BASE_URL, type TestCore, testCore } from '../../lib/core.ts';

const inventory = `
profiles:
  - name: debian
    kernel: debian/linux
    initrds: [debian/initrd.gz]
    cmdline: auto=true url={{base_url}}/assets/preseed/{{machine_id}}.cfg host={{hostname}} role={{label_role}}
    private: [preseed/web1.cfg]
  - name: careful
    kernel: debian/linux
    initrds: [debian/initrd.gz]
    cmdline: done={{callback_url}}
    consume: on-callback
  - name: rescue
    sanboot: iso/rescue.iso
  - name: disk
    local: true
machines:
  - id: web1
    macs: ["52:54:00:12:34:56"]
    hostname: web1
    labels: { role: web }
    profile: debian
  - id: once
    macs: ["52:54:00:00:00:01"]
    profile: debian
    next: install
  - id: cautious
    macs: ["52:54:00:00:00:02"]
    profile: careful
    next: install
`;

const ipxe = (mac: string, extra = '') => `/ipxe?mac=${mac.replace(/:/g, '-')}&platform=efi&buildarch=x86_64${extra}`;

describe('HTTP boot service', () => {
  let t: TestCore;
  before(async () => {
    t = await testCore(inventory);
  });
  after(() => t.close());

  it('serves the bootstrap script that chains back with the client facts', async () => {
    const r = await t.app.inject('/boot.ipxe');
    assert.equal(r.statusCode, 200);
    assert.match(r.body, /^#!ipxe\n/);
    assert.ok(r.body.includes(`${BASE_URL}/ipxe?mac=\${netX/mac:hexhyp}`), r.body);
    for (const s of ['${uuid}', '${serial:uristring}', '${hostname:uristring}', '${buildarch}', '${platform}'])
      assert.ok(r.body.includes(s), s);
  });

  it("renders a machine's kernel profile with its variables", async () => {
    const r = await t.app.inject(ipxe('52:54:00:12:34:56'));
    assert.equal(r.statusCode, 200, r.body);
    assert.ok(r.body.includes(`${BASE_URL}/assets/debian/linux`), r.body);
    assert.ok(r.body.includes(`${BASE_URL}/assets/debian/initrd.gz`), r.body);
    assert.match(r.body, /initrd=initrd\.gz/);
    assert.match(r.body, /host=web1 role=web/);
    assert.ok(r.body.includes(`url=${BASE_URL}/assets/preseed/web1.cfg`));
    assert.equal(r.headers['cache-control'], 'no-store');
  });

  it('bad parameters get a 4xx with a reason, never a 500', async () => {
    const cases: [string, number, string][] = [
      ['/ipxe', 400, 'BAD_MAC'],
      ['/ipxe?mac=zz-zz', 400, 'BAD_MAC'],
      ['/ipxe?mac=52-54-00-12-34-56&mac=52-54-00-12-34-57', 400, 'BAD_REQUEST'],
      [`/ipxe?mac=52-54-00-12-34-56&hostname=${'a'.repeat(300)}`, 400, 'BAD_REQUEST'],
      ['/ipxe?mac=52-54-00-12-34-56&nic=eth0;reboot', 400, 'BAD_REQUEST'],
      ['/ipxe?mac=52-54-00-12-34-56&profile=ghost', 404, 'PROFILE_NOT_FOUND'],
      ['/pxelinux.cfg/default', 404, 'NOT_FOUND'],
      ['/callback/web1', 403, 'SIGNATURE_INVALID'],
      ['/callback/web1?exp=1&sig=abc', 403, 'SIGNATURE_INVALID'],
      ['/nope', 404, 'NOT_FOUND'],
    ];
    for (const [url, status, code] of cases) {
      const r = await t.app.inject(url);
      assert.equal(r.statusCode, status, `${url}: ${r.body}`);
      assert.equal(JSON.parse(r.body).error, code, url);
    }
  });

  it('install once: the installer is served once, then the local disk; events record both', async () => {
    const first = await t.app.inject(ipxe('52:54:00:00:00:01'));
    assert.match(first.body, /^kernel /m);
    const second = await t.app.inject(ipxe('52:54:00:00:00:01'));
    assert.doesNotMatch(second.body, /^kernel /m);
    assert.match(second.body, /^exit/m, second.body);
    assert.deepEqual((await t.store.getMachine('once'))?.nextAction, { action: 'local' });
    await t.events.flush();
    const events = await t.store.listEvents({ machineId: 'once' });
    assert.deepEqual(events.map((e) => [e.stage, e.decision.kind, e.decision.source]).reverse(), [
      ['http', 'profile', 'next-action'],
      ['http', 'local', 'next-action'],
    ]);
  });

  it('concurrent requests for a one-shot install: exactly one gets the installer', async () => {
    await t.inventory.setNextAction('once', { action: 'install' });
    const rs = await Promise.all(Array.from({ length: 10 }, () => t.app.inject(ipxe('52:54:00:00:00:01'))));
    assert.equal(rs.filter((r) => /^kernel /m.test(r.body)).length, 1);
  });

  it('consume on-callback: the installer repeats until the signed callback is called', async () => {
    const a = await t.app.inject(ipxe('52:54:00:00:00:02'));
    const b = await t.app.inject(ipxe('52:54:00:00:00:02'));
    assert.match(a.body, /^kernel /m);
    assert.match(b.body, /^kernel /m, 'a failed install boots the installer again');
    const url = /done=(\S+)/.exec(b.body)?.[1] ?? '';
    assert.ok(url.startsWith(`${BASE_URL}/callback/cautious?exp=`), b.body);
    // One character of the signature changed (to another one: a signature that starts with A must not stay itself).
    const forged = await t.app.inject(
      url.replace(BASE_URL, '').replace(/sig=(.)/, (_m, c: string) => `sig=${c === 'A' ? 'B' : 'A'}`),
    );
    assert.equal(forged.statusCode, 403);
    const ok = await t.app.inject({ method: 'POST', url: url.replace(BASE_URL, '') });
    assert.equal(ok.statusCode, 200, ok.body);
    assert.deepEqual(JSON.parse(ok.body).nextAction, { action: 'local' });
    const c = await t.app.inject(ipxe('52:54:00:00:00:02'));
    assert.doesNotMatch(c.body, /^kernel /m);
  });

  it('unknown machines get the menu with every profile and the built-in items', async () => {
    const r = await t.app.inject(ipxe('52:54:00:99:99:99'));
    assert.equal(r.statusCode, 200);
    for (const p of ['debian', 'careful', 'rescue', 'disk']) assert.ok(r.body.includes(`profile=${p}`), p);
    assert.match(r.body, /^menu /m);
    assert.match(r.body, /^choose /m);
    const pick = await t.app.inject(ipxe('52:54:00:99:99:99', '&profile=rescue'));
    assert.match(pick.body, /^sanboot /m);
    assert.ok(pick.body.includes(`${BASE_URL}/assets/iso/rescue.iso`));
  });

  it('PXELINUX over HTTP gets the same decision', async () => {
    const r = await t.app.inject('/pxelinux.cfg/01-52-54-00-12-34-56');
    assert.equal(r.statusCode, 200);
    assert.match(r.body, /^\s*LINUX http:\/\/192\.0\.2\.1:8080\/assets\/debian\/linux$/m);
    assert.match(r.body, /^\s*APPEND auto=true .* host=web1 role=web$/m);
    const unknown = await t.app.inject('/pxelinux.cfg/01-52-54-00-99-99-98');
    assert.match(unknown.body, /LOCALBOOT 0|LABEL/);
  });

  it('PXELINUX: a one-shot install is served once, then the local disk (as for iPXE)', async () => {
    await t.inventory.setNextAction('once', { action: 'install' });
    const first = await t.app.inject('/pxelinux.cfg/01-52-54-00-00-00-01');
    assert.match(first.body, /^\s*LINUX http:\/\/192\.0\.2\.1:8080\/assets\/debian\/linux$/m);
    const second = await t.app.inject('/pxelinux.cfg/01-52-54-00-00-00-01');
    assert.match(second.body, /LOCALBOOT 0/);
    assert.doesNotMatch(second.body, /LINUX/);
    assert.deepEqual((await t.store.getMachine('once'))?.nextAction, { action: 'local' });
  });

  it('metrics count requests, decisions and errors', async () => {
    const r = await t.app.inject('/metrics');
    assert.equal(r.statusCode, 200);
    assert.match(r.body, /bootherd_http_requests_total\{route="\/ipxe",status="200"\} \d+/);
    assert.match(r.body, /bootherd_boot_decisions_total\{stage="http",kind="profile",source="[a-z-]*"\} \d+/);
    assert.match(r.body, /bootherd_errors_total\{code="BAD_MAC"\} \d+/);
    assert.deepEqual(JSON.parse((await t.app.inject('/healthz')).body), { status: 'ok' });
  });
});

describe('HTTP assets', () => {
  let t: TestCore;
  const data = Buffer.from(Array.from({ length: 100_000 }, (_, i) => i % 251));
  before(async () => {
    t = await testCore(inventory);
    writeFileSync(join(t.assets, 'iso', 'rescue.iso'), data);
    const { mkdirSync } = await import('node:fs');
    mkdirSync(join(t.assets, 'preseed'));
    writeFileSync(join(t.assets, 'preseed', 'web1.cfg'), 'd-i passwd/root-password password s3cret\n');
  });
  after(() => t.close());

  it('GET and HEAD send Content-Length, ETag, Last-Modified, Accept-Ranges and Cache-Control', async () => {
    const g = await t.app.inject('/assets/iso/rescue.iso');
    assert.equal(g.statusCode, 200);
    assert.equal(
      createHash('sha256').update(g.rawPayload).digest('hex'),
      createHash('sha256').update(data).digest('hex'),
    );
    assert.equal(g.headers['content-length'], String(data.length));
    assert.ok(g.headers.etag);
    assert.ok(g.headers['last-modified']);
    assert.equal(g.headers['accept-ranges'], 'bytes');
    assert.equal(g.headers['cache-control'], 'public, max-age=300');
    const h = await t.app.inject({ method: 'HEAD', url: '/assets/iso/rescue.iso' });
    assert.equal(h.statusCode, 200);
    assert.equal(h.headers['content-length'], String(data.length));
    assert.equal(h.body, '');
  });

  it('Range requests get 206 with the exact bytes, as sanboot needs', async () => {
    const r = await t.app.inject({ url: '/assets/iso/rescue.iso', headers: { range: 'bytes=32768-98303' } });
    assert.equal(r.statusCode, 206);
    assert.equal(r.headers['content-range'], `bytes 32768-98303/${data.length}`);
    assert.equal(r.headers['content-length'], '65536');
    assert.ok(r.rawPayload.equals(data.subarray(32768, 98304)));
    const tail = await t.app.inject({ url: '/assets/iso/rescue.iso', headers: { range: 'bytes=-10' } });
    assert.ok(tail.rawPayload.equals(data.subarray(-10)));
    const bad = await t.app.inject({ url: '/assets/iso/rescue.iso', headers: { range: 'bytes=200000-' } });
    assert.equal(bad.statusCode, 416);
  });

  it('If-None-Match with the ETag gets 304', async () => {
    const g = await t.app.inject('/assets/iso/rescue.iso');
    const r = await t.app.inject({
      url: '/assets/iso/rescue.iso',
      headers: { 'if-none-match': String(g.headers.etag) },
    });
    assert.equal(r.statusCode, 304);
  });

  it('paths cannot leave the asset root', async () => {
    for (const url of [
      '/assets/../package.json',
      '/assets/%2e%2e/package.json',
      '/assets/..%2fpackage.json',
      '/assets/.secret',
    ]) {
      const r = await t.app.inject(url);
      assert.ok(r.statusCode === 404 || r.statusCode === 403 || r.statusCode === 400, `${url}: ${r.statusCode}`);
      assert.doesNotMatch(r.body, /"name": "bootherd"/);
    }
  });

  it('a private asset needs a valid, unexpired signed URL', async () => {
    const plain = await t.app.inject('/assets/preseed/web1.cfg');
    assert.equal(plain.statusCode, 403);
    assert.doesNotMatch(plain.body, /s3cret/);
    const signed = await t.app.inject(`/assets/preseed/web1.cfg?${t.signer.sign('/assets/preseed/web1.cfg', 60)}`);
    assert.equal(signed.statusCode, 200);
    assert.match(signed.body, /s3cret/);
    assert.equal(signed.headers['cache-control'], 'private, no-store');
    const expired = await t.app.inject(`/assets/preseed/web1.cfg?${t.signer.sign('/assets/preseed/web1.cfg', -10)}`);
    assert.equal(expired.statusCode, 403);
    const other = await t.app.inject(`/assets/preseed/web1.cfg?${t.signer.sign('/assets/preseed/other.cfg', 60)}`);
    assert.equal(other.statusCode, 403);
  });

  it('a profile that lists a private asset hands out a signed URL for it', async () => {
    const r = await t.app.inject('/ipxe?mac=52-54-00-12-34-56');
    // The cmdline reference is built by the template, not as an asset: only kernel/initrd/sanboot refs get signed.
    assert.doesNotMatch(r.body, /sig=/);
  });

  it('iPXE binaries are served for UEFI HTTP boot', async () => {
    const r = await t.app.inject('/ipxe-bin/snponly.efi');
    assert.equal(r.statusCode, 200);
    assert.equal(r.headers['content-length'], '1000');
  });
});

describe('HTTP: hostile hostnames and labels never change a served script', () => {
  const profile = `
profiles:
  - name: debian
    kernel: debian/linux
    initrds: [debian/initrd.gz]
    cmdline: host={{hostname}} role={{label_role}}
machines:
  - id: good
    macs: ["52:54:00:00:10:01"]
    hostname: good
    labels: { role: web }
    profile: debian
`;
  const hostile = ['x && reboot', 'x || shell', 'x ; chain http://198.51.100.9/evil', 'x #cut', '&&'];
  it('terminators and comments are defused; line breaks get a 4xx and no script', async () => {
    const machines = hostile
      .map(
        (v, i) =>
          `  - id: evil${i}\n    macs: ["52:54:00:00:20:0${i}"]\n    labels: { role: ${JSON.stringify(v)} }\n    profile: debian\n`,
      )
      .join('');
    const newline = `  - id: newline\n    macs: ["52:54:00:00:30:01"]\n    labels: { role: "a\\nreboot" }\n    profile: debian\n`;
    // Line breaks are refused where records enter (file, API, CLI), naming the field…
    await assert.rejects(
      testCore(`${profile}${machines}${newline}`),
      /machines\[6\]\.labels\.role: control characters/,
    );
    const t = await testCore(`${profile}${machines}`);
    // …and the renderer refuses them too, for a value that reached the store another way (an older database).
    await t.store.putMachine({
      id: 'newline',
      macs: ['52:54:00:00:30:01'],
      labels: { role: 'a\nreboot' },
      profile: 'debian',
    });
    try {
      const { commandNames } = await import('../../lib/ipxe-shell.ts');
      const good = await t.app.inject(ipxe('52:54:00:00:10:01'));
      assert.equal(good.statusCode, 200, good.body);
      for (let i = 0; i < hostile.length; i++) {
        const r = await t.app.inject(ipxe(`52:54:00:00:20:0${i}`));
        assert.equal(r.statusCode, 200, r.body);
        assert.deepEqual(commandNames(r.body), commandNames(good.body), `${hostile[i]}:\n${r.body}`);
      }
      const nl = await t.app.inject(ipxe('52:54:00:00:30:01'));
      assert.equal(nl.statusCode, 422, nl.body);
      assert.equal(JSON.parse(nl.body).error, 'SCRIPT_VALUE');
      assert.doesNotMatch(nl.body, /^reboot/m);
    } finally {
      await t.close();
    }
  });
});
