/**
 * The web UI: the static files `npm run build` puts in web/dist, served at `/` by the HTTPS listener (no second
 * server, no CDN). The UI routes by URL hash, so every page is index.html.
 */
import { existsSync } from 'node:fs';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance } from 'fastify';

export async function uiRoutes(app: FastifyInstance, dir: string): Promise<void> {
  if (!existsSync(`${dir}/index.html`)) {
    app.get('/', async (_req, reply) =>
      reply.code(503).type('text/plain').send('the web UI is not built: run `npm run build`\n'),
    );
    return;
  }
  await app.register(fastifyStatic, {
    root: dir,
    prefix: '/',
    decorateReply: false,
    index: ['index.html'],
    // npm run build writes .br and .gz beside each file: sent to browsers that accept them, never compressed per request.
    preCompressed: true,
    dotfiles: 'deny',
    // Hashed asset names never change content: cache them; index.html must be revalidated to pick up a new build.
    setHeaders: (res, path) => {
      res.header('cache-control', path.endsWith('index.html') ? 'no-cache' : 'public, max-age=31536000, immutable');
      res.header('x-content-type-options', 'nosniff');
      res.header('referrer-policy', 'no-referrer');
      res.header(
        'content-security-policy',
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
      );
    },
  });
}
