/**
 * The system Chromium (Debian's /usr/bin/chromium), driven by playwright-core, running inside a test namespace so
 * it reaches the listeners there. playwright-core talks to it over a pipe (fds 3 and 4), which `ip netns exec`
 * passes through, so the driver stays in the host namespace. No browser is ever downloaded.
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Browser, type BrowserContext, chromium } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';

export interface RunningBrowser {
  browser: Browser;
  context: BrowserContext;
  close(): Promise<void>;
}

/** Throws (so a test fails, never skips) when the system Chromium is missing. */
export async function launchBrowser(opts: { ns: string; timeoutMs?: number }): Promise<RunningBrowser> {
  if (!existsSync(CHROMIUM)) throw new Error(`no ${CHROMIUM}: install the Debian package chromium`);
  const dir = mkdtempSync(join(tmpdir(), 'bh-e2e-chromium-'));
  const wrapper = join(dir, 'chromium-in-ns');
  writeFileSync(wrapper, `#!/bin/sh\nexec ip netns exec ${opts.ns} ${CHROMIUM} "$@"\n`, { mode: 0o755 });
  let browser: Browser | undefined;
  try {
    browser = await chromium.launch({
      executablePath: wrapper,
      headless: true,
      timeout: opts.timeoutMs ?? 60_000,
      // playwright-core gives every launch a fresh temporary profile and removes it on close.
      args: [
        // Root without a user namespace for the sandbox; the pages are our own.
        '--no-sandbox',
        '--disable-gpu',
        '--disable-dev-shm-usage',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
        '--disable-quic',
      ],
    });
    // The certificate is self-signed; its checks are a unit test's job.
    const context = await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 1280, height: 900 } });
    const b = browser;
    return {
      browser: b,
      context,
      close: async () => {
        await b.close().catch(() => {});
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    await browser?.close().catch(() => {});
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}
