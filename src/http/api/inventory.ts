/** Whole inventory documents: what `bootherd apply` and `bootherd export` send through the API. */
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { GroupSchema, MachineInputSchema, ProfileSchema } from '../../model/schemas.ts';
import type { Inventory } from '../../model/types.ts';
import { API, type ApiDeps } from './deps.ts';

const InventoryDoc = Type.Object(
  {
    profiles: Type.Array(ProfileSchema, { maxItems: 10_000 }),
    groups: Type.Array(GroupSchema, { maxItems: 10_000 }),
    machines: Type.Array(MachineInputSchema, { maxItems: 200_000 }),
  },
  { additionalProperties: false },
);
const Names = Type.Array(Type.String());
const tags = ['inventory'];

export async function inventoryRoutes(app: FastifyInstance, { inventory }: ApiDeps): Promise<void> {
  app.get(
    `${API}/inventory`,
    {
      schema: { tags, summary: 'The whole inventory, as `bootherd export` writes it', response: { 200: InventoryDoc } },
    },
    async () => inventory.export(),
  );
  app.post(
    `${API}/inventory`,
    {
      bodyLimit: 64 << 20,
      schema: {
        tags,
        summary: 'Apply a document: create/update everything in it at once (all or nothing)',
        querystring: Type.Object({ prune: Type.Optional(Type.Boolean()) }, { additionalProperties: false }),
        body: InventoryDoc,
        response: {
          200: Type.Object({ created: Names, updated: Names, unchanged: Names, deleted: Names }),
        },
      },
    },
    async (req) => inventory.apply(req.body as Inventory, (req.query as { prune?: boolean }).prune ?? false),
  );
}
