// Build of bootherd's web UI: `npx vite build --config web/vite.config.ts` (from the repo root) -> web/dist/.
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const root = fileURLToPath(new URL('.', import.meta.url));

export default defineConfig({
  root,
  base: '/',
  publicDir: false,
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: false,
    // Every asset is a file under /ui/: no data: URLs, so a strict CSP (img-src 'self') holds.
    assetsInlineLimit: 0,
    // Not /assets/: that prefix is the boot assets' (kernels, ISOs) on the same listener.
    assetsDir: 'ui',
    modulePreload: { polyfill: false },
  },
});
