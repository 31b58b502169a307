/**
 * Every /api/v1 route against every kind of caller: no token, a bad token (malformed, unknown, revoked, wrong
 * secret), a token of too low a scope, and the right scope. The route table is what Fastify registered (captured
 * from the instance as it is created), so a route added later without a case here fails this test.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import type { InjectOptions } from 'fastify';
import { pino } from 'pino';
import { AttemptLimiter } from '../../../src/core/attempts.ts';
import { buildApp } from '../../../src/http/app.ts';
import type { TokenScope } from '../../../src/model/types.ts';
import { type TestCore, testCore } from '../../lib/core.ts';
import { captureRoutes } from '../../lib/routes.ts';

const API = '/api/v1';

const inventory = `
profiles:
  - name: debian
    kernel: debian/linux
    initrds: [debian/initrd.gz]
  - name: disk
    local: true
groups:
  - name: web
    selectors: { role: web }
    profile: debian
machines:
  - id: web1
    macs: ["52:54:00:12:34:56"]
    labels: { role: web }
    profile: debian
`;

type Method = 'GET' | 'POST' | 'PUT' | 'DELETE';
interface Req {
  method: Method;
  url: string;
  payload?: unknown;
}
interface Case {
  /** The lowest scope that may call it. */
  scope: TokenScope;
  /** Statuses that count as success with that scope. */
  ok: number[];
  /** Builds the request, creating whatever it needs first (each call gets fresh names). */
  make(t: TestCore): Promise<Req>;
  /** Server-Sent Events: checked over a real socket. */
  stream?: boolean;
}

let seq = 0;
const uniq = () => ++seq;
const macOf = (n: number) =>
  `52:54:00:aa:${(n >> 8).toString(16).padStart(2, '0')}:${(n & 255).toString(16).padStart(2, '0')}`;
const get = (url: string, scope: TokenScope = 'read'): Case => ({
  scope,
  ok: [200],
  make: async () => ({ method: 'GET', url }),
});

async function newMachine(t: TestCore): Promise<string> {
  const n = uniq();
  await t.inventory.putMachine({ id: `auth-m${n}`, macs: [macOf(n)], labels: {} }, 'create');
  return `auth-m${n}`;
}

/** One case per route; the keys must be exactly the registered routes. */
const CASES: Record<string, Case> = {
  'GET /api/v1/openapi.json': get(`${API}/openapi.json`),
  'GET /api/v1/whoami': get(`${API}/whoami`),
  'GET /api/v1/servers': get(`${API}/servers`),
  'GET /api/v1/status': get(`${API}/status`),
  'GET /api/v1/machines': get(`${API}/machines?limit=2`),
  'GET /api/v1/machines/:id': get(`${API}/machines/web1`),
  'GET /api/v1/machines/:id/preview': get(`${API}/machines/web1/preview`),
  'GET /api/v1/machines/:id/events': get(`${API}/machines/web1/events`),
  'GET /api/v1/events': get(`${API}/events`),
  'GET /api/v1/events/stream': { ...get(`${API}/events/stream`), stream: true },
  'GET /api/v1/discovered': get(`${API}/discovered`),
  'GET /api/v1/machines/:id/media.iso': get(`${API}/machines/web1/media.iso`),
  'GET /api/v1/leases': get(`${API}/leases`),
  'GET /api/v1/profiles': get(`${API}/profiles`),
  'GET /api/v1/profiles/:name': get(`${API}/profiles/debian`),
  'GET /api/v1/groups': get(`${API}/groups`),
  'GET /api/v1/groups/:name': get(`${API}/groups/web`),
  'GET /api/v1/inventory': get(`${API}/inventory`),
  'GET /api/v1/tokens': get(`${API}/tokens`, 'admin'),

  'POST /api/v1/machines': {
    scope: 'write',
    ok: [201],
    make: async () => {
      const n = uniq();
      return { method: 'POST', url: `${API}/machines`, payload: { id: `auth-m${n}`, macs: [macOf(n)] } };
    },
  },
  'PUT /api/v1/machines/:id': {
    scope: 'write',
    ok: [201],
    make: async () => {
      const n = uniq();
      return { method: 'PUT', url: `${API}/machines/auth-m${n}`, payload: { id: `auth-m${n}`, macs: [macOf(n)] } };
    },
  },
  'DELETE /api/v1/machines/:id': {
    scope: 'write',
    ok: [204],
    make: async (t) => ({ method: 'DELETE', url: `${API}/machines/${await newMachine(t)}` }),
  },
  'PUT /api/v1/machines/:id/next': {
    scope: 'write',
    ok: [200],
    make: async (t) => ({
      method: 'PUT',
      url: `${API}/machines/${await newMachine(t)}/next`,
      payload: { action: 'install', profile: 'debian' },
    }),
  },
  'DELETE /api/v1/machines/:id/next': {
    scope: 'write',
    ok: [200],
    make: async (t) => {
      const id = await newMachine(t);
      await t.inventory.setNextAction(id, { action: 'local' });
      return { method: 'DELETE', url: `${API}/machines/${id}/next` };
    },
  },
  // Power: the scope check passed when the power service answers; web1 has no power block, hence 409.
  'GET /api/v1/machines/:id/power': {
    scope: 'read',
    ok: [409],
    make: async () => ({ method: 'GET', url: `${API}/machines/web1/power` }),
  },
  'POST /api/v1/machines/:id/power': {
    scope: 'write',
    ok: [409],
    make: async () => ({ method: 'POST', url: `${API}/machines/web1/power`, payload: { action: 'status' } }),
  },
  'POST /api/v1/profiles': {
    scope: 'write',
    ok: [201],
    make: async () => ({
      method: 'POST',
      url: `${API}/profiles`,
      payload: { name: `p${uniq()}`, boot: { kind: 'local' } },
    }),
  },
  'PUT /api/v1/profiles/:name': {
    scope: 'write',
    ok: [201],
    make: async () => {
      const name = `p${uniq()}`;
      return {
        method: 'PUT',
        url: `${API}/profiles/${name}`,
        payload: { name, boot: { kind: 'chain', url: 'x.ipxe' } },
      };
    },
  },
  'DELETE /api/v1/profiles/:name': {
    scope: 'write',
    ok: [204],
    make: async (t) => {
      const name = `p${uniq()}`;
      await t.inventory.putProfile({ name, boot: { kind: 'local' } }, 'create');
      return { method: 'DELETE', url: `${API}/profiles/${name}` };
    },
  },
  'POST /api/v1/groups': {
    scope: 'write',
    ok: [201],
    make: async () => ({
      method: 'POST',
      url: `${API}/groups`,
      payload: { name: `g${uniq()}`, selectors: { role: 'db' }, profile: 'disk' },
    }),
  },
  'PUT /api/v1/groups/:name': {
    scope: 'write',
    ok: [201],
    make: async () => {
      const name = `g${uniq()}`;
      return { method: 'PUT', url: `${API}/groups/${name}`, payload: { name, selectors: {} } };
    },
  },
  'DELETE /api/v1/groups/:name': {
    scope: 'write',
    ok: [204],
    make: async (t) => {
      const name = `g${uniq()}`;
      await t.inventory.putGroup({ name, selectors: {} }, 'create');
      return { method: 'DELETE', url: `${API}/groups/${name}` };
    },
  },
  'DELETE /api/v1/leases/:ip': {
    scope: 'write',
    ok: [204],
    make: async (t) => {
      const n = uniq();
      const ip = `198.51.100.${n % 250}`;
      await t.store.commitLeases([{ ip, mac: macOf(n), state: 'bound', expiresAt: Date.now() + 3_600_000 }]);
      return { method: 'DELETE', url: `${API}/leases/${ip}` };
    },
  },
  'POST /api/v1/inventory': {
    scope: 'write',
    ok: [200],
    make: async (t) => ({ method: 'POST', url: `${API}/inventory`, payload: await t.inventory.export() }),
  },
  'POST /api/v1/tokens': {
    scope: 'admin',
    ok: [201],
    make: async () => ({ method: 'POST', url: `${API}/tokens`, payload: { name: `t${uniq()}`, scope: 'read' } }),
  },
  'DELETE /api/v1/tokens/:id': {
    scope: 'admin',
    ok: [204],
    make: async (t) => ({
      method: 'DELETE',
      url: `${API}/tokens/${(await t.tokens.create(`t${uniq()}`, 'read')).record.id}`,
    }),
  },
};

const SCOPES: TokenScope[] = ['read', 'write', 'admin'];
const RANK: Record<TokenScope, number> = { read: 0, write: 1, admin: 2 };

describe('API authentication and scopes, route by route', () => {
  let t: TestCore;
  let routes: Set<string>;
  const tok = {} as Record<TokenScope, string>;
  /** Authorization header values that must all be refused with 401. */
  let bad: [string, string | undefined][];
  let base: string;

  before(async () => {
    // A high limit: this suite fails authentication hundreds of times from one address on purpose.
    const built = await captureRoutes(API, () => testCore(inventory, { attempts: { max: 1_000_000 } }));
    t = built.result;
    routes = built.routes;
    for (const s of SCOPES) tok[s] = (await t.tokens.create(`${s}-token`, s)).token;
    const revoked = await t.tokens.create('revoked', 'admin');
    await t.tokens.revoke(revoked.record.id);
    const [, id] = /^bh_([0-9a-f]{16})_/.exec(tok.admin)!;
    bad = [
      ['no header', undefined],
      ['empty header', ''],
      ['no scheme', tok.admin],
      ['Basic scheme', `Basic ${Buffer.from(`x:${tok.admin}`).toString('base64')}`],
      ['Bearer alone', 'Bearer'],
      ['Bearer and junk', 'Bearer not-a-token'],
      ['two tokens', `Bearer ${tok.admin} ${tok.admin}`],
      ['unknown id', `Bearer bh_${'0'.repeat(16)}_${'A'.repeat(43)}`],
      ['wrong secret', `Bearer bh_${id}_${'B'.repeat(43)}`],
      ['truncated', `Bearer ${tok.admin.slice(0, -1)}`],
      ['revoked', `Bearer ${revoked.token}`],
    ];
    await t.app.listen({ host: '127.0.0.1', port: 0 });
    base = `http://127.0.0.1:${(t.app.server.address() as AddressInfo).port}`;
  });
  after(() => t.close());

  const call = (req: Req, authorization?: string) =>
    t.app.inject({
      method: req.method,
      url: req.url,
      ...(req.payload === undefined ? {} : { payload: req.payload as InjectOptions['payload'] }),
      headers: authorization === undefined ? {} : { authorization },
    });

  it('the case table is exactly the set of routes Fastify registered under /api/v1', () => {
    assert.ok(routes.size >= 30, `only ${routes.size} routes captured: ${[...routes].join(', ')}`);
    for (const r of routes) assert.ok(Object.hasOwn(CASES, r), `route ${r} has no auth case in this test`);
    for (const r of Object.keys(CASES)) assert.ok(routes.has(r), `case ${r} names no registered route`);
    for (const r of routes) {
      const [method, url] = r.split(' ') as [Method, string];
      assert.ok(t.app.hasRoute({ method, url }), r);
    }
  });

  for (const [route, c] of Object.entries(CASES)) {
    it(`${route}: 401 without a valid token, 403 below ${c.scope}, ${c.ok.join('/')} with ${c.scope}`, async () => {
      const req = await c.make(t);
      for (const [what, header] of bad) {
        const r = await call(req, header);
        assert.equal(r.statusCode, 401, `${what}: ${r.body}`);
        assert.match(String(r.headers['content-type']), /^application\/json/);
        assert.equal(r.json().error, 'UNAUTHORIZED', what);
        assert.ok(!r.body.includes(tok.admin), 'the token is never echoed');
      }
      for (const s of SCOPES.filter((x) => RANK[x] < RANK[c.scope])) {
        const r = await call(req, `Bearer ${tok[s]}`);
        assert.equal(r.statusCode, 403, `${s}: ${r.body}`);
        assert.equal(r.json().error, 'FORBIDDEN');
      }
      if (c.stream) {
        // The live stream never ends by itself: a real socket, read the preamble, then hang up.
        for (const s of SCOPES.filter((x) => RANK[x] >= RANK[c.scope])) {
          const abort = new AbortController();
          const res = await fetch(`${base}${req.url}`, {
            headers: { authorization: `Bearer ${tok[s]}` },
            signal: abort.signal,
          });
          try {
            assert.equal(res.status, 200, s);
            assert.match(res.headers.get('content-type') ?? '', /^text\/event-stream/);
            const reader = res.body!.getReader();
            const first = await reader.read();
            assert.match(new TextDecoder().decode(first.value), /^: /);
            // A boot is on the stream as it happens.
            await t.app.inject(`/ipxe?mac=52-54-00-12-34-56&platform=efi`);
            let text = '';
            while (!/event: boot\ndata: .*\n\n/.test(text)) {
              const chunk = await reader.read();
              assert.ok(!chunk.done, 'the stream ended early');
              text += new TextDecoder().decode(chunk.value);
            }
            const data = JSON.parse(/event: boot\ndata: (.*)\n\n/.exec(text)![1]!);
            assert.equal(data.machineId, 'web1');
            assert.equal(data.stage, 'http');
            // An inventory write from another door is on the stream too, so open pages can refresh.
            await t.inventory.setNextAction('web1', { action: 'menu' });
            while (!/event: change\ndata: .*\n\n/.test(text)) {
              const chunk = await reader.read();
              assert.ok(!chunk.done, 'the stream ended early');
              text += new TextDecoder().decode(chunk.value);
            }
            const change = JSON.parse(/event: change\ndata: (.*)\n\n/.exec(text)![1]!);
            assert.deepEqual(change, { kind: 'machine', id: 'web1', op: 'put' });
          } finally {
            abort.abort();
          }
        }
        return;
      }
      // A case's request succeeds once only (a create, a delete): the stronger scopes each get a fresh one.
      for (const s of SCOPES.filter((x) => RANK[x] >= RANK[c.scope])) {
        const r = await call(s === c.scope ? req : await c.make(t), `Bearer ${tok[s]}`);
        assert.ok(c.ok.includes(r.statusCode), `${s}: ${r.statusCode} ${r.body}`);
      }
    });
  }

  it('HEAD twins of GET routes need a token too', async () => {
    for (const url of [`${API}/machines`, `${API}/tokens`, `${API}/whoami`, `${API}/openapi.json`]) {
      const r = await t.app.inject({ method: 'HEAD', url });
      assert.equal(r.statusCode, 401, url);
    }
    const r = await t.app.inject({
      method: 'HEAD',
      url: `${API}/tokens`,
      headers: { authorization: `Bearer ${tok.write}` },
    });
    assert.equal(r.statusCode, 403);
  });

  it('whoami names the calling token and its scope; the scheme is case-insensitive', async () => {
    for (const s of SCOPES) {
      const r = await t.app.inject({ url: `${API}/whoami`, headers: { authorization: `bearer ${tok[s]}` } });
      assert.equal(r.statusCode, 200);
      assert.deepEqual(r.json(), { name: `${s}-token`, scope: s });
    }
  });

  it('a token revoked through the API stops working at once', async () => {
    const { token, record } = await t.tokens.create('short-lived', 'read');
    const use = () => t.app.inject({ url: `${API}/whoami`, headers: { authorization: `Bearer ${token}` } });
    assert.equal((await use()).statusCode, 200);
    const del = await t.app.inject({
      method: 'DELETE',
      url: `${API}/tokens/${record.id}`,
      headers: { authorization: `Bearer ${tok.admin}` },
    });
    assert.equal(del.statusCode, 204);
    assert.equal((await use()).statusCode, 401);
  });

  it('a token created through the API works with its scope, and its secret is never listed', async () => {
    const created = await t.app.inject({
      method: 'POST',
      url: `${API}/tokens`,
      headers: { authorization: `Bearer ${tok.admin}` },
      payload: { name: 'ci', scope: 'write' },
    });
    assert.equal(created.statusCode, 201);
    assert.equal(created.headers['cache-control'], 'no-store');
    const { token, id } = created.json() as { token: string; id: string };
    const who = await t.app.inject({ url: `${API}/whoami`, headers: { authorization: `Bearer ${token}` } });
    assert.deepEqual(who.json(), { name: 'ci', scope: 'write' });
    const list = await t.app.inject({ url: `${API}/tokens`, headers: { authorization: `Bearer ${tok.admin}` } });
    const secret = token.slice('bh_0123456789abcdef_'.length); // base64url: the secret may hold '_' itself
    assert.ok(!list.body.includes(secret));
    assert.ok(!list.body.includes(createHash('sha256').update(secret).digest('hex')));
    assert.ok((list.json() as { items: { id: string }[] }).items.some((x) => x.id === id));
  });
});

describe('failed-attempt limiter', () => {
  let t: TestCore;
  let good: string;
  const MAX = 3;
  before(async () => {
    t = await testCore(inventory, { attempts: { max: MAX } });
    good = (await t.tokens.create('good', 'read')).token;
  });
  after(() => t.close());

  const whoami = (remoteAddress: string, authorization?: string) =>
    t.app.inject({
      url: `${API}/whoami`,
      remoteAddress,
      headers: authorization === undefined ? {} : { authorization },
    });

  it(`after ${MAX} failures from one address even a good token gets 429; other addresses are unaffected`, async () => {
    for (let i = 0; i < MAX; i++) assert.equal((await whoami('192.0.2.50', 'Bearer wrong')).statusCode, 401);
    const blocked = await whoami('192.0.2.50', `Bearer ${good}`);
    assert.equal(blocked.statusCode, 429);
    assert.equal(blocked.json().error, 'TOO_MANY_ATTEMPTS');
    const retry = Number(blocked.headers['retry-after']);
    assert.ok(retry >= 1 && retry <= 60, `Retry-After: ${blocked.headers['retry-after']}`);
    assert.equal((await whoami('192.0.2.50')).statusCode, 429);
    const w = await t.app.inject({
      method: 'POST',
      url: `${API}/machines`,
      remoteAddress: '192.0.2.50',
      headers: { authorization: `Bearer ${good}` },
      payload: {},
    });
    assert.equal(w.statusCode, 429, 'writes are blocked as well');
    assert.equal((await whoami('192.0.2.51', `Bearer ${good}`)).statusCode, 200);
  });

  it('a success resets the count: failures must be consecutive', async () => {
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < MAX - 1; i++) assert.equal((await whoami('192.0.2.60')).statusCode, 401);
      assert.equal((await whoami('192.0.2.60', `Bearer ${good}`)).statusCode, 200);
    }
  });

  it('a request with too low a scope is not a failed authentication', async () => {
    for (let i = 0; i < MAX + 2; i++) {
      const r = await t.app.inject({
        method: 'DELETE',
        url: `${API}/machines/web1`,
        remoteAddress: '192.0.2.70',
        headers: { authorization: `Bearer ${good}` },
      });
      assert.equal(r.statusCode, 403);
    }
  });
});

describe('tokens never reach the log', () => {
  it('neither a good nor a wrong token, nor their hashes, appear in any log line', async () => {
    const t = await testCore(inventory, { attempts: { max: 2 } });
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk, _enc, done) {
        lines.push(String(chunk));
        done();
      },
    });
    const ipxeDir = mkdtempSync(join(tmpdir(), 'bh-ipxe-'));
    const app = await buildApp({
      service: t.service,
      metrics: t.metrics,
      signer: t.signer,
      assetsDir: t.assets,
      ipxeDir,
      privateAssets: () => t.service.privateAssets(),
      logger: pino({ level: 'trace' }, sink),
      // debug: per-request lines too, the most a log ever holds.
      logLevel: 'debug',
      inventory: t.inventory,
      tokens: t.tokens,
      events: t.events,
      attempts: new AttemptLimiter({ max: 2 }),
    });
    try {
      const good = (await t.tokens.create('logged', 'read')).token;
      const wrong = `bh_${'1'.repeat(16)}_${'C'.repeat(43)}`;
      const secrets = [good, wrong].flatMap((x) => {
        const secret = x.slice('bh_0123456789abcdef_'.length); // base64url: the secret may hold '_' itself
        return [
          x,
          secret,
          createHash('sha256').update(secret).digest('hex'),
          createHash('sha256').update(x).digest('hex'),
        ];
      });
      const send = (authorization: string, extra: Partial<InjectOptions> = {}) =>
        app.inject({ url: `${API}/whoami`, remoteAddress: '192.0.2.9', ...extra, headers: { authorization } });
      assert.equal((await send(`Bearer ${good}`)).statusCode, 200);
      assert.equal((await send(`Bearer ${good}`, { method: 'DELETE', url: `${API}/machines/web1` })).statusCode, 403);
      assert.equal((await send(`Bearer ${good}`, { url: `${API}/machines?seen=bogus` })).statusCode, 400);
      assert.equal((await send(`Bearer ${wrong}`)).statusCode, 401);
      assert.equal((await send(good)).statusCode, 401);
      assert.equal((await send(`Bearer ${good}`)).statusCode, 429);
      const log = lines.join('');
      assert.match(log, /API authentication failed/, 'the failures were logged (the capture works)');
      assert.match(log, /192\.0\.2\.9/, 'failures are logged by address');
      for (const s of secrets) assert.ok(!log.includes(s), `the log holds ${s.slice(0, 12)}…:\n${log}`);
    } finally {
      await app.close();
      await t.close();
    }
  });
});
