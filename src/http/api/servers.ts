/** The servers sharing this store, with their last heartbeat: who serves the fleet, and who went quiet. */
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { STALE_MS, serverView } from '../../core/servers.ts';
import { API, type ApiDeps } from './deps.ts';

export const ServerSchema = Type.Object({
  id: Type.String(),
  name: Type.String({ description: 'host name' }),
  version: Type.String({ description: 'bootherd version' }),
  startedAt: Type.String({ format: 'date-time' }),
  heartbeatAt: Type.String({ format: 'date-time' }),
  stoppedAt: Type.Optional(Type.String({ format: 'date-time', description: 'set by a clean shutdown' })),
  urls: Type.Array(Type.String()),
  dhcpShare: Type.Optional(
    Type.Boolean({ description: 'takes a share of the DHCP clients (full mode with dhcp.load_balance)' }),
  ),
  status: Type.Union([Type.Literal('alive'), Type.Literal('stale'), Type.Literal('stopped')], {
    description: `stale: no heartbeat for ${STALE_MS / 1000} s (killed, hung or cut off from the database)`,
  }),
  age: Type.Number({ description: 'seconds since the last heartbeat' }),
});

export async function serverRoutes(app: FastifyInstance, { inventory }: ApiDeps): Promise<void> {
  app.get(
    `${API}/servers`,
    {
      schema: {
        tags: ['servers'],
        summary: 'The bootherd servers sharing this store, with their last heartbeat',
        response: { 200: Type.Object({ items: Type.Array(ServerSchema) }) },
      },
    },
    async () => {
      const now = new Date();
      return { items: (await inventory.listServers()).map((s) => serverView(s, now)) };
    },
  );
}
