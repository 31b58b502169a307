/**
 * The web UI in a real Chromium against the real `bootherd serve` (HTTPS, self-signed) inside a test namespace:
 * - login: a wrong token shows an error and no data, the right one opens the console;
 * - fleet steering, live: create a machine with the "New machine" form, press "Install once", then boot a QEMU VM
 *   (iPXE ROM, bootherd's DHCP) while the page stays open: the timeline grows row by row from the event stream,
 *   the payload kernel prints its marker, and the next action turns to `local` without a reload;
 * - XSS: a hostname and a label made of markup are shown as text; nothing is injected, no dialog fires;
 * - profiles and groups: made, edited and deleted in their forms, the server's 400 and the form's own check shown beside
 *   the input they name, a new profile set and cleared as a machine's next action, what the store holds read back
 *   through the API.
 * Screenshots go to test-results/ on every run.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Page } from 'playwright-core';
import { type RunningBootherd, startBootherd } from './lib/bootherd.ts';
import { launchBrowser, type RunningBrowser } from './lib/browser.ts';
import { createTestNet, type TestNet } from './lib/netns.ts';
import { linkPayload, MARKER } from './lib/payload.ts';
import { startVm, type Vm } from './lib/qemu.ts';

const ROOT = new URL('../../', import.meta.url).pathname;
const RESULTS = join(ROOT, 'test-results');

const VM_MAC = '52:54:00:e2:e0:21';
const VM_ID = 'ui-vm1';
const VM_HOSTNAME = 'ui-vm1-host';
const XSS_ID = 'xss1';
const XSS_HOSTNAME = '<img src=x onerror=alert(1)>';
const XSS_LABEL = '<script>alert(2)</script>';

/** The page's own record of what must never happen, installed before any of its scripts run. */
interface Tripwires {
  __bhCsp: string[];
  __bhNoReload?: string;
}

/** The server serves web/dist: rebuild it when it is missing or older than its sources. */
function ensureUiBuilt(): void {
  const newest = (path: string): number => {
    const st = statSync(path);
    if (!st.isDirectory()) return st.mtimeMs;
    return Math.max(st.mtimeMs, ...readdirSync(path).map((f) => newest(join(path, f))));
  };
  let built = 0;
  try {
    built = statSync(join(ROOT, 'web/dist/index.html')).mtimeMs;
  } catch {
    // not built yet
  }
  const sources = Math.max(
    newest(join(ROOT, 'web/src')),
    newest(join(ROOT, 'web/index.html')),
    newest(join(ROOT, 'web/vite.config.ts')),
  );
  if (built >= sources) return;
  // As `npm run build` does: the bundle, then the pre-compressed copies the server prefers.
  const steps = [
    [join(ROOT, 'node_modules/vite/bin/vite.js'), 'build', '--config', 'web/vite.config.ts', '--logLevel', 'warn'],
    ...(existsSync(join(ROOT, 'scripts/compress-ui.mjs')) ? [[join(ROOT, 'scripts/compress-ui.mjs')]] : []),
  ];
  for (const args of steps)
    execFileSync(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'], timeout: 120_000 });
}

/** Poll `probe` until it returns a value, at most `timeoutMs` and `maxTries` times. */
async function waitUntil<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  opts: { timeoutMs: number; intervalMs?: number; maxTries?: number },
): Promise<T> {
  const interval = opts.intervalMs ?? 250;
  const maxTries = opts.maxTries ?? Math.ceil(opts.timeoutMs / interval) + 1;
  const deadline = Date.now() + opts.timeoutMs;
  for (let i = 0; i < maxTries && Date.now() < deadline; i++) {
    const v = await probe();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, interval));
  }
  throw new Error(`timed out after ${opts.timeoutMs} ms waiting for ${what}`);
}

const PROFILE = `
profiles:
  - name: tiny-linux
    kernel: linux/vmlinuz
    initrds: [linux/initrd.gz]
    cmdline: console=ttyS0 panic=-1 host={{hostname}}
`;

const tail = (s: string, lines: number) => s.split('\n').slice(-lines).join('\n');

describe('web UI in Chromium against the real server', () => {
  let net: TestNet | undefined;
  let server: RunningBootherd | undefined;
  let browser: RunningBrowser | undefined;
  let page: Page;
  let vm: Vm | undefined;
  let base = '';
  let token = '';
  const dialogs: string[] = [];
  const pageErrors: string[] = [];
  const failedRequests: string[] = [];

  /** On failure: what the VM, the server and the page said, and what the page looked like. */
  async function explain(name: string, err: unknown): Promise<never> {
    const parts = [`--- bootherd log (tail) ---\n${tail(server?.log() ?? '', 60)}`];
    if (vm) parts.unshift(`--- VM console (tail) ---\n${tail(vm.console(), 40)}`);
    if (failedRequests.length) parts.push(`--- failed requests ---\n${failedRequests.slice(-20).join('\n')}`);
    if (pageErrors.length) parts.push(`--- page console errors ---\n${pageErrors.slice(-20).join('\n')}`);
    process.stderr.write(`\n[${name}] failed:\n${parts.join('\n')}\n`);
    await page?.screenshot({ path: join(RESULTS, `ui-failure-${name}.png`), fullPage: true }).catch(() => {});
    throw err;
  }

  const shot = (file: string) => page.screenshot({ path: join(RESULTS, file), fullPage: true });
  const text = async (testid: string) => ((await page.getByTestId(testid).textContent()) ?? '').trim();

  let config = '';
  before(async () => {
    ensureUiBuilt();
    mkdirSync(RESULTS, { recursive: true });
    // A failure picture from an earlier run would mislead.
    for (const f of readdirSync(RESULTS)) if (f.startsWith('ui-failure-')) rmSync(join(RESULTS, f));
    net = createTestNet();
    net.addTap('tap0');
    const ip = net.serverIp;
    config = `
data_dir: data
inventory: inventory.yaml
log: { level: info }
http:
  listen: ${ip}
  port: 8080
  advertise: "http://${ip}:8080"
  assets: assets
  tls: { port: 8443 }
dhcp:
  mode: full
  interfaces: [br0]
  subnets: [{ subnet: 192.0.2.0/24, range: [192.0.2.100, 192.0.2.150] }]
boot:
  unknown: local
`;
    server = await startBootherd({
      exec: net.exec,
      config,
      // The profile only: the machine is created in the UI.
      inventory: PROFILE,
      readyPattern: /DHCP\s+full mode/,
    });
    linkPayload(server.dir);
    const url = /HTTPS listening on \S+ API and web UI at (https:\/\/\S+\/)/.exec(server.log())?.[1];
    assert.ok(url, `no HTTPS URL in the log:\n${server.log()}`);
    base = url;
    // What an operator does: the CLI opens the local store beside the running server and prints the secret last.
    const out = execFileSync(
      process.execPath,
      [
        '--import',
        'tsx',
        'src/cli/bin.ts',
        'token',
        'create',
        '--scope',
        'admin',
        '--name',
        'ui-e2e',
        '-c',
        server.config,
      ],
      { cwd: ROOT, timeout: 30_000, stdio: ['ignore', 'pipe', 'pipe'] },
    ).toString();
    token = out.trim().split('\n').pop() ?? '';
    assert.ok(token.length >= 16, `no token from the CLI: ${JSON.stringify(out)}`);

    browser = await launchBrowser({ ns: net.ns });
    await browser.context.addInitScript(() => {
      const w = window as unknown as Tripwires;
      w.__bhCsp = [];
      document.addEventListener('securitypolicyviolation', (e) =>
        w.__bhCsp.push(`${e.violatedDirective} ${e.blockedURI}`),
      );
    });
    page = await browser.context.newPage();
    page.setDefaultTimeout(15_000);
    page.setDefaultNavigationTimeout(30_000);
    page.on('dialog', (d) => {
      dialogs.push(`${d.type()}: ${d.message()}`);
      void d.dismiss().catch(() => {});
    });
    page.on('response', (r) => {
      // A 401 is the wrong-token check doing its job.
      if (r.status() >= 400 && r.status() !== 401)
        failedRequests.push(`${r.request().method()} ${r.url()} ${r.status()}`);
    });
    page.on('pageerror', (e) => pageErrors.push(`pageerror: ${e.message}`));
    page.on('console', (m) => {
      // The wrong-token check's 401 is expected.
      if (m.type() === 'error' && !/status of 401/.test(m.text())) pageErrors.push(m.text());
    });
  });

  after(async () => {
    if (vm) {
      vm.kill();
      await vm.exited;
    }
    await browser?.close();
    await server?.stop();
    net?.destroy();
  });

  it('login: a wrong token shows an error and no data; the right one opens the console', {
    timeout: 60_000,
  }, async () => {
    try {
      await page.goto(base);
      // goto waits for the load event: the UI's script and stylesheet have been answered by now.
      assert.deepEqual(failedRequests, [], "the UI's own files load over HTTPS");
      await page.getByTestId('login-token').fill('bh_not-a-real-token-0000000000');
      await page.getByTestId('login-submit').click();
      await page.getByTestId('login-error').waitFor();
      assert.match(await text('login-error'), /not valid/);
      assert.equal(await page.getByTestId('nav-fleet').count(), 0, 'no console without a valid token');
      assert.equal(await page.getByTestId('fleet').count(), 0, 'no fleet data without a valid token');
      assert.equal(await page.evaluate(() => sessionStorage.length), 0, 'a wrong token is not kept');

      await page.getByTestId('login-token').fill(token);
      await page.getByTestId('login-submit').click();
      await page.getByTestId('nav-fleet').waitFor();
      await page.getByTestId('fleet').waitFor();
      assert.equal(await page.getByTestId('login-error').count(), 0);
      assert.equal(await text('scope'), 'admin');
    } catch (err) {
      await explain('login', err);
    }
  });

  it('fleet steering: create in the form, Install once, boot the VM, watch the timeline live', {
    timeout: 300_000,
  }, async (t) => {
    try {
      // Signed in by the previous test; this one does not depend on its assertions, only on the session.
      if ((await page.getByTestId('nav-fleet').count()) === 0) {
        await page.goto(base);
        await page.getByTestId('login-token').fill(token);
        await page.getByTestId('login-submit').click();
      }
      await page.getByTestId('nav-fleet').click();
      await page.getByTestId('new-machine').click();
      await page.getByTestId('machine-id').fill(VM_ID);
      // A bad MAC first: the server's 400 names the field and the form shows it beside the input.
      await page.getByTestId('machine-macs').fill('52:54:00:zz');
      await page.getByTestId('machine-save').click();
      await page.getByTestId('field-error-macs').waitFor();
      await page.getByTestId('machine-macs').fill(VM_MAC.toUpperCase());
      await page.getByTestId('machine-hostname').fill(VM_HOSTNAME);
      // Waits for the profile list to load into the select.
      await page.getByTestId('machine-profile').selectOption('tiny-linux');
      await page.getByTestId('machine-save').click();
      const row = page.getByTestId(`machine-row-${VM_ID}`);
      await row.waitFor();
      const rowText = (await row.textContent()) ?? '';
      assert.ok(rowText.includes(VM_MAC), `the MAC is stored in its normal form: ${rowText}`);
      assert.ok(rowText.includes('tiny-linux'), rowText);
      await shot('ui-fleet.png');

      await row.getByRole('link', { name: VM_ID }).click();
      await page.waitForURL(`**/#/machines/${VM_ID}`);
      await page.getByTestId('next-action').waitFor();
      assert.equal(await text('machine-hostname-value'), VM_HOSTNAME);
      assert.equal(await text('next-action'), '—');
      await page.getByTestId('btn-install').click();
      await waitUntil(
        'next-action = install',
        async () => ((await text('next-action')) === 'install' ? true : undefined),
        {
          timeoutMs: 15_000,
        },
      );
      assert.match(await text('preview'), /vmlinuz/, 'the preview shows the install script');
      assert.equal(await page.getByTestId('timeline-row').count(), 0, 'no boot yet');
      await waitUntil('the event stream', async () => ((await text('stream-state')) === 'live' ? true : undefined), {
        timeoutMs: 15_000,
      });
      await shot('ui-machine-install.png');

      // From here on the page must not reload: a full load would drop this mark.
      await page.evaluate(() => {
        (window as unknown as Tripwires).__bhNoReload = 'still here';
      });
      const started = Date.now();
      vm = startVm({
        exec: net!.exec,
        tap: 'tap0',
        mac: VM_MAC,
        romfile: '/usr/lib/ipxe/qemu/pxe-e1000.rom',
        deadlineMs: 240_000,
      });
      let markerAt = 0;
      void vm.waitFor(new RegExp(`${MARKER} cmdline=`)).then(
        () => (markerAt = Date.now()),
        () => {},
      );
      const counts: number[] = [];
      const state = await waitUntil(
        'the timeline, the payload marker and next-action = local',
        async () => {
          const s = await page.evaluate(() => {
            const rows = [...document.querySelectorAll('[data-testid="timeline-row"]')];
            return {
              rows: rows.map((r) => `${r.getAttribute('data-stage')} ${r.textContent ?? ''}`),
              next: document.querySelector('[data-testid="next-action"]')?.textContent?.trim() ?? '',
            };
          });
          if (counts[counts.length - 1] !== s.rows.length) counts.push(s.rows.length);
          const done =
            markerAt > 0 &&
            s.next === 'local' &&
            s.rows.some((r) => r.startsWith('dhcp')) &&
            s.rows.some((r) => /^http .*script profile tiny-linux/.test(r)) &&
            s.rows.some((r) => /^http .*asset linux\/vmlinuz/.test(r));
          return done ? s : undefined;
        },
        { timeoutMs: 240_000, intervalMs: 200 },
      );
      t.diagnostic(
        `VM start to marker ${((markerAt - started) / 1000).toFixed(1)} s, to page done ${((Date.now() - started) / 1000).toFixed(1)} s; rows seen: ${counts.join(' → ')}`,
      );
      assert.match(
        vm.console(),
        new RegExp(`${MARKER} cmdline=\\[[^\\]]*host=${VM_HOSTNAME}`),
        'the hostname typed in the form reached the kernel',
      );
      assert.equal(
        await page.evaluate(() => (window as unknown as Tripwires).__bhNoReload),
        'still here',
        'the page was not reloaded',
      );
      // Rows arrived one burst after another while we watched, never shrinking.
      assert.deepEqual(
        counts,
        [...counts].sort((a, b) => a - b),
        `timeline rows only grow: ${counts.join(' → ')}`,
      );
      assert.equal(counts[0], 0);
      assert.ok(counts.length >= 3, `the timeline grew in steps while the page was open: ${counts.join(' → ')}`);
      const dhcp = state.rows.filter((r) => r.startsWith('dhcp'));
      assert.ok(
        dhcp.some((r) => /DISCOVER → OFFER/.test(r)) && dhcp.some((r) => /REQUEST → ACK/.test(r)),
        dhcp.join('\n'),
      );
      assert.ok(
        state.rows.some((r) => /script profile tiny-linux .*one-shot consumed/.test(r)),
        state.rows.join('\n'),
      );
      await shot('ui-machine-booted.png');

      // The fleet (a hash route, still no reload) shows the consumed one-shot too.
      await page.getByTestId('nav-fleet').click();
      await waitUntil(
        'the fleet row with next action local',
        async () => {
          const r = (await page.getByTestId(`machine-row-${VM_ID}`).textContent()) ?? '';
          return /local/.test(r) ? r : undefined;
        },
        { timeoutMs: 15_000 },
      );
      assert.equal(await page.evaluate(() => (window as unknown as Tripwires).__bhNoReload), 'still here');
    } catch (err) {
      await explain('fleet', err);
    } finally {
      // The payload powers off by itself; this is for a VM still running after a failure.
      vm?.kill();
      await vm?.exited;
      vm = undefined;
    }
  });

  it('XSS: markup in a hostname and a label is shown as text, nothing runs', { timeout: 60_000 }, async () => {
    try {
      if ((await page.getByTestId('nav-fleet').count()) === 0) {
        await page.goto(base);
        await page.getByTestId('login-token').fill(token);
        await page.getByTestId('login-submit').click();
        await page.getByTestId('nav-fleet').waitFor();
      }
      // The fleet is open when the machine is created elsewhere: the stream's change event must bring its row.
      await page.getByTestId('nav-fleet').click();
      await page.getByTestId(`machine-row-${VM_ID}`).waitFor();
      // Through the API with the token, from the page's origin (the server is reachable only inside the namespace).
      const created = await page.evaluate(
        async ({ token, id, hostname, label }) => {
          const res = await fetch('/api/v1/machines', {
            method: 'POST',
            headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
            body: JSON.stringify({ id, macs: ['52:54:00:e2:e0:2f'], hostname, labels: { note: label } }),
          });
          return { status: res.status, body: await res.text() };
        },
        { token, id: XSS_ID, hostname: XSS_HOSTNAME, label: XSS_LABEL },
      );
      assert.equal(created.status, 201, created.body);

      const injected = () =>
        page.evaluate(() => ({
          imgs: document.querySelectorAll('img[src="x"]').length,
          // The UI's own bundle is one same-origin file; anything inline or elsewhere was injected.
          scripts: [...document.scripts]
            .filter((s) => !s.src || new URL(s.src).origin !== location.origin || (s.textContent ?? '') !== '')
            .map((s) => s.outerHTML),
          csp: (window as unknown as Tripwires).__bhCsp,
        }));

      // No reload, no search: the row arrives by itself.
      const row = page.getByTestId(`machine-row-${XSS_ID}`);
      await row.waitFor();
      assert.ok(((await row.textContent()) ?? '').includes(XSS_HOSTNAME), 'the fleet shows the hostname as text');
      assert.deepEqual(await injected(), { imgs: 0, scripts: [], csp: [] }, 'fleet: nothing injected');

      await row.getByRole('link', { name: XSS_ID }).click();
      await page.getByTestId('machine-hostname-value').waitFor();
      assert.equal(await page.getByTestId('machine-hostname-value').textContent(), XSS_HOSTNAME);
      assert.ok(
        ((await page.locator('table.kv').first().textContent()) ?? '').includes(`note=${XSS_LABEL}`),
        'the label is shown as text',
      );
      // Give an injected handler a moment to fire, were there one.
      await page.waitForTimeout(500);
      assert.deepEqual(await injected(), { imgs: 0, scripts: [], csp: [] }, 'machine page: nothing injected');
      await shot('ui-xss.png');
      assert.deepEqual(dialogs, [], 'no dialog fired');
    } catch (err) {
      await explain('xss', err);
    }
  });

  it('profiles and groups: create in their forms, field errors beside the input, edit, delete, pick as next action', {
    timeout: 90_000,
  }, async () => {
    try {
      if ((await page.getByTestId('nav-fleet').count()) === 0) {
        await page.goto(base);
        await page.getByTestId('login-token').fill(token);
        await page.getByTestId('login-submit').click();
      }
      const failedBefore = failedRequests.length;
      const stored = (path: string) =>
        page.evaluate(
          async ({ token, path }) => {
            const res = await fetch(`/api/v1${path}`, { headers: { Authorization: `Bearer ${token}` } });
            return { status: res.status, body: res.ok ? await res.json() : undefined };
          },
          { token, path },
        );

      await page.getByTestId('nav-profiles').click();
      await page.getByTestId('profile-row-tiny-linux').waitFor();
      await page.getByTestId('new-profile').click();
      await page.getByTestId('profile-name').fill('rescue');
      // No kernel path: the server's 400 names boot/kernel, and the form shows it beside that input.
      await page.getByTestId('profile-save').click();
      await page.getByTestId('field-error-boot/kernel').waitFor();
      await page.getByTestId('profile-kernel').fill('rescue/vmlinuz');
      await page.getByTestId('profile-cmdline').fill('console=ttyS0 rescue');
      await page.getByTestId('profile-save').click();
      const profileRow = page.getByTestId('profile-row-rescue');
      await profileRow.waitFor();
      assert.match((await profileRow.textContent()) ?? '', /kernel rescue\/vmlinuz/);
      const profile = await stored('/profiles/rescue');
      assert.equal(profile.status, 200);
      assert.deepEqual(profile.body.boot, {
        kind: 'kernel',
        kernel: 'rescue/vmlinuz',
        initrds: [],
        cmdline: 'console=ttyS0 rescue',
      });

      // Edit: the name is fixed, the rest is the stored profile's.
      await profileRow.getByRole('button', { name: 'Edit' }).click();
      assert.equal(await page.getByTestId('profile-name').inputValue(), 'rescue');
      assert.equal(await page.getByTestId('profile-kernel').inputValue(), 'rescue/vmlinuz');
      await page.getByTestId('profile-description').fill('Rescue shell');
      await page.getByTestId('profile-save').click();
      await waitUntil(
        'the edited description in the row',
        async () => (/Rescue shell/.test((await profileRow.textContent()) ?? '') ? true : undefined),
        { timeoutMs: 10_000 },
      );

      // The new profile is offered as a machine's next action, set and cleared from the machine's page.
      const made = await page.evaluate(
        async ({ token }) =>
          (
            await fetch('/api/v1/machines', {
              method: 'POST',
              headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
              body: JSON.stringify({ id: 'ui-next1', macs: ['52:54:00:e2:e0:2e'] }),
            })
          ).status,
        { token },
      );
      assert.equal(made, 201);
      await page.goto(`${base}#/machines/ui-next1`);
      await page.getByTestId('btn-profile').click();
      await page.getByTestId('next-profile-select').selectOption('rescue');
      await page.getByTestId('btn-profile-apply').click();
      await waitUntil(
        'next action = profile:rescue',
        async () => ((await text('next-action')) === 'profile:rescue' ? true : undefined),
        {
          timeoutMs: 10_000,
        },
      );
      assert.deepEqual((await stored('/machines/ui-next1')).body.nextAction, { action: 'profile', profile: 'rescue' });
      await page.getByTestId('btn-clear').click();
      await waitUntil('next action cleared', async () => ((await text('next-action')) === '—' ? true : undefined), {
        timeoutMs: 10_000,
      });
      assert.equal((await stored('/machines/ui-next1')).body.nextAction, undefined);

      await page.getByTestId('nav-groups').click();
      await page.getByTestId('new-group').click();
      await page.getByTestId('group-name').fill('rack-a');
      await page.getByTestId('group-selectors').fill('rack=a');
      await page.getByTestId('group-profile').selectOption('rescue');
      // Checked in the form before anything is sent.
      await page.getByTestId('group-menu-timeout').fill('soon');
      await page.getByTestId('group-save').click();
      await page.getByTestId('field-error-menu/timeout').waitFor();
      await page.getByTestId('group-menu-timeout').fill('5');
      await page.getByTestId('group-save').click();
      const groupRow = page.getByTestId('group-row-rack-a');
      await groupRow.waitFor();
      const groupText = (await groupRow.textContent()) ?? '';
      assert.ok(/rack=a/.test(groupText) && /rescue/.test(groupText) && /5 s/.test(groupText), groupText);
      const group = await stored('/groups/rack-a');
      assert.equal(group.status, 200);
      assert.deepEqual(
        { selectors: group.body.selectors, profile: group.body.profile, menu: group.body.menu },
        { selectors: { rack: 'a' }, profile: 'rescue', menu: { timeout: 5 } },
      );
      await shot('ui-groups.png');

      // Delete asks once more inline; the row goes and so does the stored group.
      await groupRow.getByRole('button', { name: 'Delete' }).click();
      await groupRow.getByRole('button', { name: 'Really delete?' }).click();
      await waitUntil('the deleted row gone', async () => ((await groupRow.count()) === 0 ? true : undefined), {
        timeoutMs: 10_000,
      });
      assert.equal((await stored('/groups/rack-a')).status, 404);
      assert.deepEqual(
        failedRequests.slice(failedBefore).map((r) => r.replace(/https:\/\/[^/]+/, '')),
        ['POST /api/v1/profiles 400', 'GET /api/v1/groups/rack-a 404'],
        'the one refused save and the lookup of the deleted group',
      );
    } catch (err) {
      await explain('profiles-groups', err);
    }
  });

  it('a bad inventory file: the server keeps serving and the console says which line, until then it says nothing', {
    timeout: 90_000,
  }, async () => {
    try {
      await page.goto(base);
      await page.getByTestId('nav-fleet').waitFor();
      // The control: a good file, no banner.
      assert.equal(await page.getByTestId('inventory-file-error').count(), 0);
      const [before, ns] = [server, net];
      assert.ok(before && ns);
      await before.stop();
      server = await startBootherd({
        exec: ns.exec,
        config,
        dir: before.dir,
        inventory: `${PROFILE}machines:\n  - id: broken\n    uuid: 00000000-0000-0000-0000-000000000000\n`,
        readyPattern: /DHCP\s+full mode/,
      });
      await page.reload();
      const banner = page.getByTestId('inventory-file-error');
      await banner.waitFor();
      assert.match(
        (await banner.textContent()) ?? '',
        /inventory\.yaml:\d+:\d+: machines\[0\]\.uuid: not a UUID, or a placeholder/,
      );
      // Still the same console and fleet: what the store holds is served.
      await page.getByTestId(`machine-row-${VM_ID}`).waitFor();
      await shot('ui-inventory-error.png');
    } catch (err) {
      await explain('inventory-file', err);
    }
  });
});
