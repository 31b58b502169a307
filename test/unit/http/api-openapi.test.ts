/**
 * The OpenAPI document at /api/v1/openapi.json: valid OpenAPI 3, and it describes exactly the routes Fastify serves
 * under /api/v1 (captured from the instance as it is created), each behind the bearer scheme.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Validator } from '@seriousme/openapi-schema-validator';
import { type TestCore, testCore } from '../../lib/core.ts';
import { captureRoutes } from '../../lib/routes.ts';

const API = '/api/v1';
/** The document itself is not described in the document. */
const UNDOCUMENTED = new Set([`GET ${API}/openapi.json`]);
const METHODS = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options', 'trace'];

interface Operation {
  security?: Record<string, string[]>[];
  parameters?: { in: string; name: string; required?: boolean }[];
  requestBody?: { content?: Record<string, { schema?: unknown }> };
  responses?: Record<string, unknown>;
}
interface OpenApiDoc {
  openapi: string;
  security?: Record<string, string[]>[];
  components?: { securitySchemes?: Record<string, { type?: string; scheme?: string }> };
  paths: Record<string, Record<string, Operation>>;
}

/** `/machines/:id/next` → `/machines/{id}/next` */
const templated = (url: string) => url.replace(/:([A-Za-z0-9_]+)/g, '{$1}');

describe('OpenAPI document', () => {
  let t: TestCore;
  let routes: Set<string>;
  let doc: OpenApiDoc;
  let token: string;

  before(async () => {
    const built = await captureRoutes(API, () => testCore('profiles: []\nmachines: []\n'));
    t = built.result;
    routes = built.routes;
    token = (await t.tokens.create('reader', 'read')).token;
    const r = await t.app.inject({ url: `${API}/openapi.json`, headers: { authorization: `Bearer ${token}` } });
    assert.equal(r.statusCode, 200, r.body);
    assert.match(String(r.headers['content-type']), /^application\/json/);
    doc = r.json() as OpenApiDoc;
  });
  after(() => t.close());

  it('needs a token like every other route', async () => {
    assert.equal((await t.app.inject({ url: `${API}/openapi.json` })).statusCode, 401);
  });

  it('is a valid OpenAPI 3 document', async () => {
    assert.match(doc.openapi, /^3\./);
    const validator = new Validator();
    const res = await validator.validate(structuredClone(doc) as unknown as Record<string, unknown>);
    assert.ok(res.valid, JSON.stringify(res.errors, null, 2)?.slice(0, 4000));
    assert.equal(validator.version, '3.0');
  });

  it('describes exactly the routes Fastify serves under /api/v1', () => {
    assert.ok(routes.size >= 30, `only ${routes.size} routes captured`);
    const documented = new Set<string>();
    for (const [path, item] of Object.entries(doc.paths)) {
      assert.ok(path.startsWith(`${API}/`), `a path outside the API: ${path}`);
      for (const method of Object.keys(item).filter((k) => METHODS.includes(k)))
        documented.add(`${method.toUpperCase()} ${path}`);
    }
    const served = new Set([...routes].filter((r) => !UNDOCUMENTED.has(r)).map(templated));
    const missing = [...served].filter((r) => !documented.has(r));
    const extra = [...documented].filter((r) => !served.has(r));
    assert.deepEqual(missing, [], 'routes Fastify serves that the document omits');
    assert.deepEqual(extra, [], 'documented operations Fastify does not serve');
    for (const r of UNDOCUMENTED) assert.ok(routes.has(r), `${r} is no longer served: update UNDOCUMENTED`);
  });

  it('puts every operation behind the bearer scheme', () => {
    const scheme = doc.components?.securitySchemes?.bearer;
    assert.deepEqual({ type: scheme?.type, scheme: scheme?.scheme }, { type: 'http', scheme: 'bearer' });
    const needsBearer = (s: Record<string, string[]>[] | undefined) =>
      Array.isArray(s) && s.length > 0 && s.every((req) => Object.hasOwn(req, 'bearer'));
    for (const [path, item] of Object.entries(doc.paths))
      for (const [method, op] of Object.entries(item).filter(([k]) => METHODS.includes(k))) {
        // An operation's own `security` replaces the global one; `[]` would mean "no auth".
        const effective = op.security ?? doc.security;
        assert.ok(needsBearer(effective), `${method.toUpperCase()} ${path} is not behind bearer`);
      }
  });

  it('declares every path parameter and a request body for every write that takes one', () => {
    for (const [path, item] of Object.entries(doc.paths)) {
      const names = [...path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]);
      for (const [method, op] of Object.entries(item).filter(([k]) => METHODS.includes(k))) {
        for (const name of names) {
          const p = op.parameters?.find((x) => x.in === 'path' && x.name === name);
          assert.ok(p?.required, `${method.toUpperCase()} ${path}: path parameter ${name}`);
        }
        assert.ok(op.responses && Object.keys(op.responses).length, `${method.toUpperCase()} ${path}: responses`);
      }
    }
    for (const [path, method] of [
      [`${API}/machines`, 'post'],
      [`${API}/machines/{id}`, 'put'],
      [`${API}/machines/{id}/next`, 'put'],
      [`${API}/profiles`, 'post'],
      [`${API}/groups/{name}`, 'put'],
      [`${API}/inventory`, 'post'],
      [`${API}/tokens`, 'post'],
    ] as const) {
      const body = doc.paths[path]?.[method]?.requestBody?.content?.['application/json']?.schema;
      assert.ok(body, `${method.toUpperCase()} ${path}: request body schema`);
    }
  });
});
