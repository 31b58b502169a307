/** A full core over an in-memory SQLite store and a temp asset tree, for HTTP tests driven by inject(). */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { BootPolicyConfig } from '../../src/boot/decide.ts';
import { parseInventory } from '../../src/config/inventory-file.ts';
import { AttemptLimiter } from '../../src/core/attempts.ts';
import { InventoryService } from '../../src/core/inventory.ts';
import { Metrics } from '../../src/core/metrics.ts';
import { PowerService } from '../../src/core/power.ts';
import { BootService } from '../../src/core/service.ts';
import { Signer } from '../../src/core/signing.ts';
import { TokenService } from '../../src/core/tokens.ts';
import { EventBus } from '../../src/events/bus.ts';
import { buildApp } from '../../src/http/app.ts';
import { machineMedia } from '../../src/media/machine-media.ts';
import { openSqliteStore } from '../../src/store/sqlite.ts';
import type { Store } from '../../src/store/types.ts';

export const BASE_URL = 'http://192.0.2.1:8080';

export const policy: BootPolicyConfig = {
  baseUrl: BASE_URL,
  requiredFeatures: ['http'],
  bootFiles: { bios: 'undionly.kpxe', 'x64-uefi': 'snponly.efi' },
  unknown: { action: 'menu' },
  menu: { timeout: 10, default: 'local' },
};

export interface TestCore {
  app: FastifyInstance;
  store: Store;
  service: BootService;
  signer: Signer;
  metrics: Metrics;
  inventory: InventoryService;
  tokens: TokenService;
  events: EventBus;
  assets: string;
  close(): Promise<void>;
}

export async function testCore(
  inventoryYaml: string,
  opts: { boot?: Partial<BootPolicyConfig>; now?: () => number; attempts?: { max?: number }; uiDir?: string } = {},
): Promise<TestCore> {
  const store = await openSqliteStore(':memory:');
  const signer = new Signer(Buffer.alloc(32, 7), opts.now);
  const metrics = new Metrics();
  const events = new EventBus(store, (err) => {
    throw err;
  });
  const service = new BootService({ store, boot: { ...policy, ...opts.boot }, signer, events, metrics });
  const inventory = new InventoryService(store, service);
  const tokens = new TokenService(store);
  await inventory.apply(parseInventory(inventoryYaml, 'test.yaml'), false);
  const assets = mkdtempSync(join(tmpdir(), 'bh-assets-'));
  const ipxeDir = mkdtempSync(join(tmpdir(), 'bh-ipxe-'));
  writeFileSync(join(ipxeDir, 'snponly.efi'), Buffer.alloc(1000, 1));
  mkdirSync(join(assets, 'iso'));
  const app = await buildApp({
    service,
    metrics,
    signer,
    assetsDir: assets,
    ipxeDir,
    privateAssets: () => service.privateAssets(),
    logLevel: 'silent' as 'error',
    inventory,
    tokens,
    events,
    attempts: new AttemptLimiter(opts.attempts),
    power: new PowerService({ inventory, events, secretsDir: join(assets, 'bmc-secrets') }),
    ...(opts.uiDir ? { uiDir: opts.uiDir } : {}),
    // BIOS-only images: the UEFI iPXE download and its boots are the e2e tests'.
    media: machineMedia({ bootUrl: `${BASE_URL}/boot.ipxe` }),
  });
  return {
    app,
    store,
    service,
    signer,
    metrics,
    inventory,
    tokens,
    events,
    assets,
    close: async () => {
      await app.close();
      await service.flush();
      await store.close();
    },
  };
}
