/**
 * The REST API under /api/v1: bearer tokens with scopes, one TypeBox schema per route (validation, handler types
 * and the OpenAPI document at /api/v1/openapi.json come from the same definition), JSON errors from the catalog.
 * Every route needs a token: GET needs `read`, other methods `write`, token management `admin` (a route's
 * `config.scope` says so). Tokens never reach a log: the Authorization header is not serialized and failures are
 * logged by client address only.
 */
import swagger from '@fastify/swagger';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { allows } from '../../core/tokens.ts';
import { BootherdError } from '../../errors.ts';
import type { TokenRecord, TokenScope } from '../../model/types.ts';
import { catalogRoutes } from './catalog.ts';
import { API, type ApiDeps } from './deps.ts';
import { eventRoutes } from './events.ts';
import { inventoryRoutes } from './inventory.ts';
import { machineRoutes } from './machines.ts';
import { powerRoutes } from './power.ts';
import { serverRoutes } from './servers.ts';
import { tokenRoutes } from './tokens.ts';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The token scope this route needs; default: read for GET/HEAD, write otherwise. */
    scope?: TokenScope;
  }
  interface FastifyRequest {
    token?: TokenRecord;
  }
}

export type { ApiDeps } from './deps.ts';

export async function apiRoutes(app: FastifyInstance, deps: ApiDeps): Promise<void> {
  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'bootherd API',
        version: '1',
        description: 'Steer what machines boot: inventory, next actions, boot events, leases, tokens.',
      },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
      security: [{ bearer: [] }],
    },
  });

  app.addHook('onRequest', async (req, reply) => authenticate(req, reply, deps));

  app.get(`${API}/openapi.json`, { schema: { hide: true } }, async () => app.swagger());
  app.get(`${API}/whoami`, { schema: { summary: 'The calling token' } }, async (req) => ({
    name: req.token?.name ?? '',
    scope: req.token?.scope ?? 'read',
  }));
  app.get(`${API}/status`, { schema: { summary: 'Server status: services, inventory file' } }, async () => ({
    ...(deps.status?.() ?? { version: '', services: {} }),
    machines: (await deps.inventory.listMachines({ limit: 1 })).total,
  }));

  await machineRoutes(app, deps);
  await powerRoutes(app, deps);
  await catalogRoutes(app, deps);
  await eventRoutes(app, deps);
  await inventoryRoutes(app, deps);
  await tokenRoutes(app, deps);
  await serverRoutes(app, deps);
}

async function authenticate(req: FastifyRequest, reply: FastifyReply, deps: ApiDeps): Promise<void> {
  const key = req.ip;
  if (deps.attempts.blocked(key)) {
    reply.header('retry-after', String(Math.max(1, Math.ceil(deps.attempts.retryAfterMs(key) / 1000))));
    throw new BootherdError('TOO_MANY_ATTEMPTS', 'too many failed authentications from this address; wait a minute');
  }
  const header = req.headers.authorization;
  const m = typeof header === 'string' ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
  const token = m?.[1] ? await deps.tokens.verify(m[1]) : undefined;
  if (!token) {
    deps.attempts.fail(key);
    req.log.warn({ remote: req.ip, reason: header ? 'unknown token' : 'no token' }, 'API authentication failed');
    throw new BootherdError(
      'UNAUTHORIZED',
      header ? 'the token is unknown or revoked' : 'send Authorization: Bearer <token> (bootherd token create)',
    );
  }
  deps.attempts.succeed(key);
  const needed: TokenScope =
    req.routeOptions.config?.scope ?? (req.method === 'GET' || req.method === 'HEAD' ? 'read' : 'write');
  if (!allows(token.scope, needed)) {
    throw new BootherdError('FORBIDDEN', `this needs a ${needed} token; "${token.name}" is ${token.scope}`);
  }
  req.token = token;
}
