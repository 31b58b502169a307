/**
 * Boot events (per machine and fleet-wide, paged newest first), the live stream (Server-Sent Events: every DHCP,
 * TFTP and HTTP step as it happens), machines that booted but are in no record, and DHCP leases.
 */
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import type { Change } from '../../core/change.ts';
import { BootEventSchema, DiscoveredSchema, LeaseSchema } from '../../model/schemas.ts';
import type { BootEvent } from '../../model/types.ts';
import { API, type ApiDeps } from './deps.ts';

const Page = Type.Object({ items: Type.Array(BootEventSchema), next: Type.Optional(Type.String()) });
const paging = {
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 50 })),
  before: Type.Optional(Type.Integer({ minimum: 1, description: 'the `next` of the previous page' })),
};
const Stage = Type.Union([
  Type.Literal('dhcp'),
  Type.Literal('tftp'),
  Type.Literal('http'),
  Type.Literal('callback'),
  Type.Literal('power'),
]);
/** A comment line keeps proxies and browsers from closing an idle stream. */
const KEEPALIVE_MS = 15_000;
/** A client this far behind is cut off (it reconnects and re-reads the log) instead of growing our memory. */
const MAX_BACKLOG = 1 << 20;

export async function eventRoutes(app: FastifyInstance, { inventory, events }: ApiDeps): Promise<void> {
  app.get(
    `${API}/events`,
    {
      schema: {
        tags: ['events'],
        summary: 'Boot events of the whole fleet, newest first',
        querystring: Type.Object(
          { ...paging, mac: Type.Optional(Type.String({ maxLength: 32 })), stage: Type.Optional(Stage) },
          { additionalProperties: false },
        ),
        response: { 200: Page },
      },
    },
    async (req) =>
      inventory.events(req.query as { limit?: number; before?: number; mac?: string; stage?: BootEvent['stage'] }),
  );

  app.get(
    `${API}/machines/:id/events`,
    {
      schema: {
        tags: ['events'],
        summary: "A machine's boot events, newest first",
        params: Type.Object({ id: Type.String({ maxLength: 63 }) }),
        querystring: Type.Object(paging, { additionalProperties: false }),
        response: { 200: Page },
      },
    },
    async (req) => {
      const { id } = req.params as { id: string };
      await inventory.getMachine(id);
      return inventory.events({ ...(req.query as { limit?: number; before?: number }), machineId: id });
    },
  );

  const streams = new Set<() => void>();
  app.addHook('preClose', async () => {
    for (const end of streams) end();
  });
  app.get(
    `${API}/events/stream`,
    {
      schema: {
        tags: ['events'],
        summary:
          'Live events as Server-Sent Events: `event: boot` (a BootEvent, without an id) and `event: change` (an inventory write: kind, id, op)',
        produces: ['text/event-stream'],
      },
    },
    async (req, reply) => {
      reply.hijack();
      const res = reply.raw;
      res.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-store',
        'x-accel-buffering': 'no',
        connection: 'keep-alive',
      });
      res.write(': bootherd boot events\n\n');
      const end = () => {
        unsubscribe();
        clearInterval(keepalive);
        streams.delete(end);
        res.end();
      };
      const send = (type: string, data: unknown) => {
        if (res.writableLength > MAX_BACKLOG) return end();
        res.write(`event: ${type}\ndata: ${JSON.stringify(data)}\n\n`);
      };
      const unsubscribeBoots = events.subscribe((e) => send('boot', e));
      // Inventory writes from any door (another browser, the CLI, automation), so open pages can refresh.
      const onChange = (c: Change) => send('change', c);
      inventory.changes.on('change', onChange);
      const unsubscribe = () => {
        unsubscribeBoots();
        inventory.changes.off('change', onChange);
      };
      const keepalive = setInterval(() => res.write(': keepalive\n\n'), KEEPALIVE_MS);
      streams.add(end);
      req.raw.on('close', end);
    },
  );

  app.get(
    `${API}/discovered`,
    {
      schema: {
        tags: ['machines'],
        summary: 'MACs that booted but match no machine, with what their requests told',
        querystring: Type.Object(
          { limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 200 })) },
          { additionalProperties: false },
        ),
        response: { 200: Type.Object({ items: Type.Array(DiscoveredSchema) }) },
      },
    },
    async (req) => ({ items: await inventory.discovered((req.query as { limit?: number }).limit) }),
  );

  app.get(
    `${API}/leases`,
    {
      schema: {
        tags: ['leases'],
        summary: 'DHCP leases (full mode)',
        querystring: Type.Object(
          {
            subnet: Type.Optional(Type.String({ maxLength: 18, description: 'CIDR, e.g. 192.0.2.0/24' })),
            mac: Type.Optional(Type.String({ maxLength: 32 })),
          },
          { additionalProperties: false },
        ),
        response: { 200: Type.Object({ items: Type.Array(LeaseSchema) }) },
      },
    },
    async (req) => ({ items: await inventory.leases(req.query as { subnet?: string; mac?: string }) }),
  );
  app.delete(
    `${API}/leases/:ip`,
    {
      schema: {
        tags: ['leases'],
        summary: 'Release a lease: the address returns to the pool',
        params: Type.Object({ ip: Type.String({ format: 'ipv4' }) }),
      },
    },
    async (req, reply) => {
      await inventory.releaseLease((req.params as { ip: string }).ip);
      return reply.code(204).send();
    },
  );
}
