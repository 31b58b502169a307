/** The routes an app registers, as Fastify itself announces them: a route list a test cannot silently fall behind. */
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import type { FastifyInstance } from 'fastify';

/** `METHOD <prefix>...` of every route Fastify registers while `build` runs (HEAD twins left out). */
export async function captureRoutes<T>(
  prefix: string,
  build: () => Promise<T>,
): Promise<{ result: T; routes: Set<string> }> {
  const routes = new Set<string>();
  const onInit = (message: unknown) => {
    const { fastify } = message as { fastify: FastifyInstance };
    fastify.addHook('onRoute', (route) => {
      for (const method of [route.method].flat())
        if (method !== 'HEAD' && route.url.startsWith(`${prefix}/`)) routes.add(`${method} ${route.url}`);
    });
  };
  subscribe('fastify.initialization', onInit);
  try {
    return { result: await build(), routes };
  } finally {
    unsubscribe('fastify.initialization', onInit);
  }
}
