/**
 * The machine page's Power section in Chromium against the real `bootherd serve`, with OpenIPMI's ipmi_sim as the
 * machine's BMC in the test namespace: the state comes from the BMC, "Install + power cycle" sets the one-shot
 * install and cycles the chassis in one click (ipmi_sim runs its start command again), and neither the password
 * nor its reference's target appears on the page.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Page } from 'playwright-core';
import { type RunningBootherd, startBootherd } from './lib/bootherd.ts';
import { launchBrowser, type RunningBrowser } from './lib/browser.ts';
import { type IpmiSim, requireIpmiTools, standInMachine, startIpmiSim } from './lib/ipmi-sim.ts';
import { createTestNet, type TestNet } from './lib/netns.ts';

const ROOT = new URL('../../', import.meta.url).pathname;
const BMC_IP = '192.0.2.10';
const PASSWORD = 'ui-bmc-Pw-5e0b7';

/** The server serves web/dist: build it when it is older than its sources (as ui.test.ts does). */
function ensureUiBuilt(): void {
  const newest = (path: string): number => {
    const st = statSync(path);
    return st.isDirectory() ? Math.max(st.mtimeMs, ...readdirSync(path).map((f) => newest(join(path, f)))) : st.mtimeMs;
  };
  const index = join(ROOT, 'web/dist/index.html');
  if (existsSync(index) && statSync(index).mtimeMs >= newest(join(ROOT, 'web/src'))) return;
  execFileSync(
    process.execPath,
    [join(ROOT, 'node_modules/vite/bin/vite.js'), 'build', '--config', 'web/vite.config.ts', '--logLevel', 'warn'],
    { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'], timeout: 120_000 },
  );
  execFileSync(process.execPath, [join(ROOT, 'scripts/compress-ui.mjs')], { cwd: ROOT, timeout: 60_000 });
}

describe('web UI: power section of a machine with an IPMI BMC', () => {
  let net: TestNet;
  let server: RunningBootherd;
  let browser: RunningBrowser | undefined;
  let sim: IpmiSim | undefined;
  let page: Page;
  let dir = '';

  const starts = () =>
    existsSync(join(dir, 'starts')) ? readFileSync(join(dir, 'starts'), 'utf8').trim().split('\n') : [];

  before(async () => {
    requireIpmiTools();
    ensureUiBuilt();
    net = createTestNet();
    execFileSync('ip', ['-n', net.ns, 'addr', 'add', `${BMC_IP}/24`, 'dev', 'br0']);
    server = await startBootherd({
      exec: net.exec,
      config: `
data_dir: data
inventory: inventory.yaml
http: { listen: ${net.serverIp}, port: 8080, advertise: "http://${net.serverIp}:8080", assets: assets, tls: { port: 8443 } }
`,
      inventory: `
profiles:
  - name: inst
    kernel: k
    initrds: [i]
machines:
  - id: vm1
    macs: ["52:54:00:e2:e4:01"]
    profile: inst
    power: { ipmi: { host: ${BMC_IP}, user: admin, password: { file: vm1-bmc } } }
`,
      readyPattern: /HTTPS listening/,
    });
    dir = server.dir;
    mkdirSync(join(dir, 'data', 'bmc-secrets'), { recursive: true });
    writeFileSync(join(dir, 'data', 'bmc-secrets', 'vm1-bmc'), `${PASSWORD}\n`, { mode: 0o600 });
    // ipmi_sim's "machine": started on power-on (and at ipmi_sim's start), ended on power-off.
    sim = startIpmiSim({
      exec: net.exec,
      dir,
      address: BMC_IP,
      password: PASSWORD,
      startcmd: standInMachine(dir),
      startOn: true,
    });

    const token = execFileSync(
      process.execPath,
      ['--import', 'tsx', 'src/cli/bin.ts', 'token', 'create', '--scope', 'write', '-c', server.config],
      { cwd: ROOT, timeout: 30_000, stdio: ['ignore', 'pipe', 'pipe'] },
    )
      .toString()
      .trim()
      .split('\n')
      .pop();
    browser = await launchBrowser({ ns: net.ns });
    page = await browser.context.newPage();
    page.setDefaultTimeout(30_000);
    await page.goto(`https://${net.serverIp}:8443/`);
    await page.getByTestId('login-token').fill(token ?? '');
    await page.getByTestId('login-submit').click();
    await page.getByTestId('nav-fleet').waitFor();
  });

  after(async () => {
    await browser?.close();
    sim?.kill();
    for (const pid of dir ? starts() : []) {
      try {
        process.kill(Number(pid), 'SIGKILL');
      } catch {
        // ended by a power-off
      }
    }
    await server?.stop();
    net?.destroy();
  });

  it('shows the BMC state; Install + power cycle sets install and cycles the chassis', {
    timeout: 120_000,
  }, async () => {
    await page.goto(`https://${net.serverIp}:8443/#/machines/vm1`);
    await page.getByTestId('power-box').waitFor();
    // startnow: ipmi_sim powered the machine on at its start.
    await page.getByTestId('power-state').filter({ hasText: /^on$/ }).waitFor();
    assert.equal(starts().length, 1);
    await page.getByTestId('btn-power-install').click();
    await page.getByTestId('btn-power-install-confirm').click();
    await page.getByTestId('power-done').filter({ hasText: 'cycle done, next boot install' }).waitFor();
    await page
      .getByTestId('next-action')
      .filter({ hasText: /install/i })
      .waitFor();
    // The chassis went off and on: ipmi_sim ran the machine's start command again (bounded wait).
    for (let i = 0; i < 100 && starts().length < 2; i++) await new Promise((r) => setTimeout(r, 200));
    assert.equal(starts().length, 2, 'the power cycle restarted the machine');
    const html = await page.content();
    assert.ok(!html.includes(PASSWORD), 'no password on the page');
    // The cycle is a power event on the machine's timeline, read as what happened.
    assert.match((await page.getByTestId('timeline').textContent()) ?? '', /powercycle via ipmi next → install done/);
    mkdirSync(join(ROOT, 'test-results'), { recursive: true });
    await page.screenshot({ path: join(ROOT, 'test-results', 'ui-power.png'), fullPage: true });
  });
});
