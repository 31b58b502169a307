/**
 * The HTTP service as an app factory (no listen), so tests drive it with inject() and main.ts owns the sockets.
 * One Fastify instance per listener, assembled from route plugins: boot routes (open, plain-text errors iPXE can
 * show), the REST API (JSON errors, tokens), the UI's static files, and health/metrics. The plain-HTTP listener
 * firmware uses carries boot + ops; the HTTPS one carries everything.
 */
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Ajv } from 'ajv';
import addFormats from 'ajv-formats';
import Fastify, { type FastifyInstance, type FastifyRequest, LogController } from 'fastify';
import type { Logger } from 'pino';
import { BootherdError } from '../errors.ts';
import { type ApiDeps, apiRoutes } from './api/index.ts';
import { type BootRoutesDeps, bootRoutes, IPXE_TYPE } from './boot-routes.ts';
import { type OpsDeps, opsRoutes } from './ops.ts';
import { uiRoutes } from './ui.ts';

export interface HttpDeps extends BootRoutesDeps, OpsDeps, Partial<ApiDeps> {
  logger?: Logger;
  logLevel?: 'debug' | 'info' | 'warn' | 'error' | 'silent';
  trustProxy?: boolean;
  /** Which parts this listener serves. Default: all that have their dependencies. */
  parts?: { boot?: boolean; api?: boolean; ui?: boolean };
  /** The built web UI (index.html and assets); the UI part needs it. */
  uiDir?: string;
  /** Where the API lives when this listener does not serve it (plain HTTP → the HTTPS URL). */
  apiElsewhere?: string;
  /** HTTPS options; absent: plain HTTP. */
  https?: { key: string; cert: string };
}

/** The signature of a private asset URL is a capability: never write it to a log. */
export function redactUrl(url: string): string {
  return url.replace(/([?&]sig=)[^&]*/g, '$1[redacted]');
}

export async function buildApp(deps: HttpDeps): Promise<FastifyInstance> {
  // Request lines carry no headers (no Authorization) and no URL signature.
  const serializers = {
    req: (req: FastifyRequest) => ({ method: req.method, url: redactUrl(req.url), remote: req.ip }),
  };
  const options = {
    ...(deps.logger
      ? { loggerInstance: deps.logger.child({ service: 'http' }, { serializers }) }
      : { logger: { level: deps.logLevel ?? 'info', serializers } }),
    trustProxy: deps.trustProxy ?? false,
    // Per-request lines only at debug: a boot storm at info would bury everything else.
    logController: new LogController({ disableRequestLogging: deps.logLevel !== 'debug' }),
    return503OnClosing: true,
  };
  const app = (deps.https
    ? Fastify({ ...options, https: deps.https })
    : Fastify(options)
  ).withTypeProvider<TypeBoxTypeProvider>() as unknown as FastifyInstance;

  // Unknown fields are refused, not silently dropped: a typo in an API call must not pass as success. Query strings
  // and paths are text, so `limit=100` is coerced to a number there; a JSON body says what it means (`"id": 123` is
  // an error, not the id "123").
  const validators = { text: ajv('array'), body: ajv(false) };
  app.setValidatorCompiler(({ schema, httpPart }) =>
    (httpPart === 'body' ? validators.body : validators.text).compile(schema),
  );
  // Response schemas document the API (OpenAPI); they do not serialize it. fast-json-stringify picks a union's
  // branch (a next action, an event's stage) by running a validator per value: a page of 100 machines cost ~300 µs
  // more than JSON.stringify in a profile. Handlers return the model's own types, which carry nothing private.
  app.setSerializerCompiler(() => (data) => JSON.stringify(data));
  app.addHook('onResponse', async (req, reply) => {
    const route = req.routeOptions.url ?? 'unmatched';
    deps.metrics.httpRequests.inc({ route, status: String(reply.statusCode) });
    deps.metrics.httpDuration.observe({ route }, reply.elapsedTime / 1000);
  });

  app.setErrorHandler((err: Error & { statusCode?: number; validation?: unknown }, req, reply) => {
    const api = req.url.startsWith('/api/');
    const send = (status: number, code: string, message: string, field?: string) => {
      deps.metrics.errors.inc({ code });
      if (api)
        return reply
          .code(status)
          .type('application/json')
          .send({ error: code, message, ...(field ? { field } : {}) });
      return reply.code(status).type(IPXE_TYPE).send(errorBody(code, message));
    };
    if (err instanceof BootherdError) {
      if (err.status >= 500) req.log.error({ err }, err.message);
      const field = typeof err.detail?.field === 'string' ? err.detail.field : undefined;
      return send(err.status, err.code, err.message, field);
    }
    if (err.validation) {
      const v = validationField(err);
      return send(400, api ? 'VALIDATION' : 'BAD_REQUEST', v.message, v.field);
    }
    const status = err.statusCode ?? 500;
    if (status < 500) return send(status, 'BAD_REQUEST', err.message);
    req.log.error({ err }, 'unhandled error');
    return send(500, 'INTERNAL', 'internal error');
  });
  app.setNotFoundHandler((req, reply) => {
    const message = `no route or file for ${req.method} ${redactUrl(req.url)}`;
    if (req.url.startsWith('/api/'))
      return reply.code(404).type('application/json').send({ error: 'NOT_FOUND', message });
    return reply.code(404).type(IPXE_TYPE).send(errorBody('NOT_FOUND', message));
  });

  const parts = deps.parts ?? {};
  await app.register(async (a) => opsRoutes(a, deps));
  if (parts.boot ?? true) await app.register(async (a) => bootRoutes(a, deps));
  const apiDeps = apiDepsOf(deps);
  if ((parts.api ?? true) && apiDeps) await app.register(async (a) => apiRoutes(a, apiDeps));
  else if (deps.apiElsewhere) {
    const where = deps.apiElsewhere;
    app.all('/api/*', async () => {
      throw new BootherdError('TLS_REQUIRED', `the API and the UI are served over HTTPS only: ${where}`);
    });
  }
  if ((parts.ui ?? true) && deps.uiDir) await app.register(async (a) => uiRoutes(a, deps.uiDir!));
  return app;
}

function ajv(coerceTypes: 'array' | false): Ajv {
  const a = new Ajv({ coerceTypes, removeAdditional: false, useDefaults: true, allErrors: false, strict: false });
  addFormats.default(a);
  return a;
}

function apiDepsOf(d: Partial<ApiDeps>): ApiDeps | undefined {
  if (!d.inventory || !d.tokens || !d.events || !d.attempts) return undefined;
  return {
    inventory: d.inventory,
    tokens: d.tokens,
    events: d.events,
    attempts: d.attempts,
    status: d.status,
    ...(d.media ? { media: d.media } : {}),
    ...(d.power ? { power: d.power } : {}),
  };
}

/** ajv's first error as the field path our clients see (`macs/0`, `boot/kernel`) and a one-line reason. */
function validationField(err: { message: string; validation?: unknown; validationContext?: string }): {
  field?: string;
  message: string;
} {
  const first = (Array.isArray(err.validation) ? err.validation[0] : undefined) as
    | { instancePath?: string; message?: string; params?: { additionalProperty?: string; missingProperty?: string } }
    | undefined;
  if (!first) return { message: err.message };
  const extra = first.params?.additionalProperty ?? first.params?.missingProperty;
  const path = [first.instancePath?.replace(/^\//, ''), extra].filter((x) => x).join('/');
  const where = path || err.validationContext || 'body';
  const reason = first.params?.additionalProperty ? 'unknown field' : (first.message ?? 'invalid');
  return { ...(path ? { field: path } : {}), message: `${where}: ${reason}` };
}

function errorBody(code: string, message: string): string {
  // A body iPXE can show on its console and an operator can grep: one line, no script commands.
  return `${JSON.stringify({ error: code, message })}\n`;
}
