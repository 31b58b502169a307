/**
 * Redfish power through the REST API, as a protocol check: a small Redfish service in this test (HTTPS with a
 * self-signed certificate, Basic auth) records what bootherd sends — method, path, body, credentials. It is not a
 * BMC: it answers the few resources DSP0266 defines for a ComputerSystem's power and boot override, no more.
 * Also: the password reference is resolved only when an action runs, and the password itself never shows up in
 * API responses, events, the exported inventory or the server's log; each failure has its own code.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import pino from 'pino';
import { generate } from 'selfsigned';
import { formatInventory } from '../../../src/config/inventory-file.ts';
import { AttemptLimiter } from '../../../src/core/attempts.ts';
import { PowerService } from '../../../src/core/power.ts';
import { buildApp } from '../../../src/http/app.ts';
import { type TestCore, testCore } from '../../lib/core.ts';

const API = '/api/v1';
const SECRET = 'rf-Secret-7f3a9!';

interface Seen {
  method: string;
  path: string;
  auth: string;
  body: unknown;
}

/** The Redfish service: one system, its power state changed by the reset actions it is sent. */
async function redfishService(): Promise<{ server: Server; url: string; seen: Seen[]; state: { power: string } }> {
  const pems = await generate([{ name: 'commonName', value: 'bmc.test' }], { keyType: 'ec', curve: 'P-256' });
  const seen: Seen[] = [];
  const state = { power: 'On' };
  const system = '/redfish/v1/Systems/1';
  const server = createServer({ key: pems.private, cert: pems.cert }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString();
      const entry = {
        method: req.method ?? '',
        path: req.url ?? '',
        auth: req.headers.authorization ?? '',
        body: text ? JSON.parse(text) : undefined,
      };
      seen.push(entry);
      const send = (status: number, body?: unknown) => {
        res.writeHead(status, body === undefined ? {} : { 'content-type': 'application/json' });
        res.end(body === undefined ? undefined : JSON.stringify(body));
      };
      if (entry.auth !== `Basic ${Buffer.from(`admin:${SECRET}`).toString('base64')}`)
        return send(401, { error: { message: 'no' } });
      if (req.method === 'GET' && req.url === '/redfish/v1/Systems')
        return send(200, { Members: [{ '@odata.id': system }] });
      if (req.method === 'GET' && req.url === system)
        return send(200, {
          Id: '1',
          PowerState: state.power,
          Boot: { 'BootSourceOverrideTarget@Redfish.AllowableValues': ['None', 'Pxe', 'Hdd'] },
          Actions: {
            '#ComputerSystem.Reset': {
              target: `${system}/Actions/ComputerSystem.Reset`,
              'ResetType@Redfish.AllowableValues': ['On', 'ForceOff', 'ForceRestart'],
            },
          },
        });
      if (req.method === 'PATCH' && req.url === system) return send(200, {});
      if (req.method === 'POST' && req.url === `${system}/Actions/ComputerSystem.Reset`) {
        const type = (entry.body as { ResetType: string }).ResetType;
        state.power = type === 'ForceOff' ? 'Off' : 'On';
        return send(204);
      }
      send(404, { error: { message: 'not here' } });
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, url: `https://127.0.0.1:${(server.address() as AddressInfo).port}`, seen, state };
}

describe('power through the API: Redfish protocol, secrets, errors', () => {
  let core: TestCore;
  let app: FastifyInstance;
  let bmc: Awaited<ReturnType<typeof redfishService>>;
  let token: string;
  let log = '';

  before(async () => {
    bmc = await redfishService();
    const dataDir = mkdtempSync(join(tmpdir(), 'bh-power-'));
    mkdirSync(join(dataDir, 'bmc-secrets'));
    writeFileSync(join(dataDir, 'bmc-secrets', 'rf1'), `${SECRET}\n`);
    process.env.BMC_RF_TEST = SECRET;
    const machine = (id: string, mac: string, power: string) =>
      `  - id: ${id}\n    macs: ["${mac}"]\n    power: ${power}\n`;
    const redfish = (extra: string) => `{ redfish: { url: "${bmc.url}", user: admin, ${extra} } }`;
    core = await testCore(`
profiles:
  - name: inst
    kernel: k
    initrds: [i]
machines:
${machine('rf1', '52:54:00:00:00:01', redfish('password: { file: rf1 }, insecure: true'))}${machine('rf-env', '52:54:00:00:00:02', redfish('password: { env: BMC_RF_TEST }, insecure: true'))}${machine('rf-strict', '52:54:00:00:00:03', redfish('password: { file: rf1 }'))}${machine('rf-bad', '52:54:00:00:00:04', redfish('password: { env: BMC_RF_UNSET_TEST }, insecure: true'))}${machine('rf-down', '52:54:00:00:00:05', '{ redfish: { url: "https://127.0.0.1:9", user: admin, password: { file: rf1 }, insecure: true } }')}${machine('wol1', '52:54:00:00:00:06', '{ wol: { interface: lo } }')}  - id: plain
    macs: ["52:54:00:00:00:07"]
`);
    const power = new PowerService({
      inventory: core.inventory,
      events: core.events,
      secretsDir: join(dataDir, 'bmc-secrets'),
    });
    app = await buildApp({
      service: core.service,
      metrics: core.metrics,
      signer: core.signer,
      assetsDir: core.assets,
      ipxeDir: core.assets,
      privateAssets: () => core.service.privateAssets(),
      logLevel: 'debug',
      logger: pino(
        { level: 'debug' },
        {
          write: (line: string) => {
            log += line;
          },
        },
      ),
      inventory: core.inventory,
      tokens: core.tokens,
      events: core.events,
      attempts: new AttemptLimiter(),
      power,
    });
    token = (await core.tokens.create('t', 'write')).token;
  });

  after(async () => {
    await app?.close();
    await core?.close();
    bmc?.server.close();
    delete process.env.BMC_RF_TEST;
  });

  const call = (method: 'GET' | 'POST', url: string, payload?: unknown) =>
    app.inject({
      method,
      url: `${API}${url}`,
      headers: { authorization: `Bearer ${token}` },
      ...(payload ? { payload: payload as object } : {}),
    });

  it('install + power cycle: next action set, PXE once, then ForceRestart, all with Basic auth', async () => {
    bmc.seen.length = 0;
    const r = await call('POST', '/machines/rf1/power', { action: 'cycle', next: { action: 'install' } });
    assert.equal(r.statusCode, 200, r.body);
    assert.deepEqual(r.json(), {
      machine: 'rf1',
      action: 'cycle',
      method: 'redfish',
      netboot: true,
      nextAction: { action: 'install' },
    });
    const basic = `Basic ${Buffer.from(`admin:${SECRET}`).toString('base64')}`;
    assert.ok(bmc.seen.every((s) => s.auth === basic));
    assert.deepEqual(
      bmc.seen.map((s) => [s.method, s.path, s.body]),
      [
        ['GET', '/redfish/v1/Systems', undefined],
        ['GET', '/redfish/v1/Systems/1', undefined],
        [
          'PATCH',
          '/redfish/v1/Systems/1',
          { Boot: { BootSourceOverrideTarget: 'Pxe', BootSourceOverrideEnabled: 'Once' } },
        ],
        ['GET', '/redfish/v1/Systems/1', undefined],
        ['POST', '/redfish/v1/Systems/1/Actions/ComputerSystem.Reset', { ResetType: 'ForceRestart' }],
      ],
    );
    const m = await call('GET', '/machines/rf1');
    assert.deepEqual(m.json().nextAction, { action: 'install' });
  });

  it('off, status, cycle of an off machine (password from the environment): actions are power events', async () => {
    bmc.seen.length = 0;
    assert.equal((await call('POST', '/machines/rf-env/power', { action: 'off' })).statusCode, 200);
    assert.deepEqual((await call('GET', '/machines/rf-env/power')).json(), {
      machine: 'rf-env',
      action: 'status',
      method: 'redfish',
      state: 'off',
    });
    assert.equal((await call('POST', '/machines/rf-env/power', { action: 'cycle' })).statusCode, 200);
    const resets = bmc.seen.filter((s) => s.method === 'POST').map((s) => (s.body as { ResetType: string }).ResetType);
    // A cycle of a machine that is off switches it on.
    assert.deepEqual(resets, ['ForceOff', 'On']);
    await core.events.flush();
    const ev = (await call('GET', '/machines/rf-env/events?limit=10')).json().items as {
      stage: string;
      decision: { kind: string; outcome: string };
    }[];
    assert.deepEqual(
      ev.filter((e) => e.stage === 'power').map((e) => `${e.decision.kind}:${e.decision.outcome}`),
      ['cycle:ok', 'off:ok'],
    );
  });

  it('each failure has its own code and status', async () => {
    const codes: Record<string, [number, string]> = {};
    for (const [id, action] of [
      ['rf-strict', 'status'],
      ['rf-bad', 'status'],
      ['rf-down', 'status'],
      ['wol1', 'off'],
      ['wol1', 'status'],
      ['plain', 'cycle'],
    ] as const) {
      const r =
        action === 'status'
          ? await call('GET', `/machines/${id}/power`)
          : await call('POST', `/machines/${id}/power`, { action });
      codes[`${id}:${action}`] = [r.statusCode, r.json().error];
    }
    assert.deepEqual(codes, {
      'rf-strict:status': [502, 'POWER_CERT'],
      'rf-bad:status': [500, 'POWER_SECRET'],
      'rf-down:status': [502, 'POWER_UNREACHABLE'],
      'wol1:off': [422, 'POWER_UNSUPPORTED'],
      'wol1:status': [422, 'POWER_UNSUPPORTED'],
      'plain:cycle': [409, 'POWER_NOT_CONFIGURED'],
    });
    // A failed action is on the timeline too, with its code.
    await core.events.flush();
    const wolEvents = (await call('GET', '/machines/wol1/events?limit=10')).json().items as {
      stage: string;
      decision: { kind: string; outcome: string; error?: string };
    }[];
    assert.deepEqual(
      wolEvents
        .filter((e) => e.stage === 'power')
        .map((e) => `${e.decision.kind}:${e.decision.outcome}:${e.decision.error}`),
      ['off:error:POWER_UNSUPPORTED'],
    );
    process.env.BMC_RF_UNSET_TEST = 'wrong-password';
    try {
      const r = await call('GET', '/machines/rf-bad/power');
      assert.deepEqual([r.statusCode, r.json().error], [502, 'POWER_AUTH']);
    } finally {
      delete process.env.BMC_RF_UNSET_TEST;
    }
  });

  it('refuses a password written in clear, without repeating it', async () => {
    const r = await call('POST', '/machines', {
      id: 'leak',
      macs: ['52:54:00:00:00:09'],
      power: { ipmi: { host: '192.0.2.9', user: 'admin', password: SECRET } },
    });
    assert.equal(r.statusCode, 400);
    assert.equal(r.json().error, 'VALIDATION');
    assert.ok(!r.body.includes(SECRET));
    const file = await call('POST', '/machines', {
      id: 'escape',
      macs: ['52:54:00:00:00:0a'],
      power: { ipmi: { host: '192.0.2.9', user: 'admin', password: { file: '../secret.key' } } },
    });
    assert.deepEqual([file.statusCode, file.json().field], [400, 'power/ipmi/password/file']);
    const env = await call('POST', '/machines', {
      id: 'escape',
      macs: ['52:54:00:00:00:0a'],
      power: { ipmi: { host: '192.0.2.9', user: 'admin', password: { env: 'BOOTHERD_TOKEN' } } },
    });
    assert.deepEqual([env.statusCode, env.json().field], [400, 'power/ipmi/password/env']);
  });

  it('the password is in no API response, event, export or log line', async () => {
    await core.events.flush();
    const bodies = [
      (await call('GET', '/machines?limit=50')).body,
      (await call('GET', '/machines/rf1')).body,
      (await call('GET', '/inventory')).body,
      (await call('GET', '/events?limit=100')).body,
      formatInventory(await core.inventory.export()),
    ];
    assert.match(bodies[1] ?? '', /"file":"rf1"/, 'the reference is shown, not the password');
    for (const b of [...bodies, log]) assert.ok(!b.includes(SECRET), b.slice(0, 300));
    assert.ok(log.length > 0, 'the server logged its requests');
  });
});
