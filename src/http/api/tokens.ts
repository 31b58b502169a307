/** Token management (admin scope): list, create (the secret is in this one response only), revoke. */
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { toPublic } from '../../core/tokens.ts';
import { TokenSchema, TokenScopeSchema } from '../../model/schemas.ts';
import type { TokenScope } from '../../model/types.ts';
import { API, type ApiDeps } from './deps.ts';

const tags = ['tokens'];
const config = { scope: 'admin' as const };

export async function tokenRoutes(app: FastifyInstance, { tokens }: ApiDeps): Promise<void> {
  app.get(
    `${API}/tokens`,
    {
      config,
      schema: {
        tags,
        summary: 'List tokens (never their secrets)',
        response: { 200: Type.Object({ items: Type.Array(TokenSchema) }) },
      },
    },
    async () => ({ items: await tokens.list() }),
  );
  app.post(
    `${API}/tokens`,
    {
      config,
      schema: {
        tags,
        summary: 'Create a token; the response holds its secret, shown this once',
        body: Type.Object(
          { name: Type.String({ minLength: 1, maxLength: 64 }), scope: TokenScopeSchema },
          { additionalProperties: false },
        ),
        response: { 201: Type.Object({ ...TokenSchema.properties, token: Type.String() }) },
      },
    },
    async (req, reply) => {
      const { name, scope } = req.body as { name: string; scope: TokenScope };
      const { token, record } = await tokens.create(name, scope);
      return reply
        .code(201)
        .header('cache-control', 'no-store')
        .send({ ...toPublic(record), token });
    },
  );
  app.delete(
    `${API}/tokens/:id`,
    {
      config,
      schema: { tags, summary: 'Revoke a token', params: Type.Object({ id: Type.String({ maxLength: 64 }) }) },
    },
    async (req, reply) => {
      await tokens.revoke((req.params as { id: string }).id);
      return reply.code(204).send();
    },
  );
}
