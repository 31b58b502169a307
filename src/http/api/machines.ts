/** Machines: list with paging and filters, CRUD, the next action, and the script preview. */
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { BootherdError } from '../../errors.ts';
import { MachineInputSchema, MachineSchema, NextActionSchema } from '../../model/schemas.ts';
import type { Machine, NextAction } from '../../model/types.ts';
import { API, type ApiDeps } from './deps.ts';

const IdParams = Type.Object({ id: Type.String({ maxLength: 63 }) });
const tags = ['machines'];

/** A machine's ETag is its version (RFC 9110 8.8.3: an opaque quoted string). */
const etag = (m: Machine) => `"${m.version ?? 1}"`;

/**
 * The version an If-Match names (RFC 9110 13.1.1); undefined without one or for `*` (any current version). A list
 * or a tag that is not one of ours can match no version: 412 straight away.
 */
function ifMatch(header: string | undefined): number | undefined {
  if (header === undefined || header.trim() === '*') return undefined;
  const m = /^\s*(?:W\/)?"(\d{1,15})"\s*$/.exec(header);
  if (!m) throw new BootherdError('PRECONDITION_FAILED', `If-Match ${header} names no version of this machine`);
  return Number(m[1]);
}

export async function machineRoutes(app: FastifyInstance, { inventory, media }: ApiDeps): Promise<void> {
  app.get(
    `${API}/machines`,
    {
      schema: {
        tags,
        summary: 'List machines, ordered by id',
        querystring: Type.Object(
          {
            limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 50 })),
            cursor: Type.Optional(Type.String({ maxLength: 63, description: 'the `next` of the previous page' })),
            label: Type.Optional(Type.String({ maxLength: 200, description: 'key=value' })),
            group: Type.Optional(Type.String({ maxLength: 63 })),
            profile: Type.Optional(Type.String({ maxLength: 63 })),
            seen: Type.Optional(Type.String({ maxLength: 8, description: 'never, or a window: 30m, 24h, 7d' })),
            q: Type.Optional(Type.String({ maxLength: 200, description: 'substring of id, hostname, MAC, …' })),
          },
          { additionalProperties: false },
        ),
        response: {
          200: Type.Object({
            items: Type.Array(MachineSchema),
            next: Type.Optional(Type.String()),
            total: Type.Integer(),
          }),
        },
      },
    },
    async (req, reply) =>
      reply
        .type('application/json; charset=utf-8')
        .send(await inventory.listMachinesJson(req.query as Parameters<typeof inventory.listMachines>[0])),
  );

  app.post(
    `${API}/machines`,
    { schema: { tags, summary: 'Create a machine', body: MachineInputSchema, response: { 201: MachineSchema } } },
    async (req, reply) => {
      const { machine } = await inventory.putMachine(req.body as Machine, 'create');
      return reply.code(201).send(machine);
    },
  );

  app.get(
    `${API}/machines/:id`,
    {
      schema: {
        tags,
        summary: 'One machine; its ETag is its version',
        params: IdParams,
        response: { 200: MachineSchema },
      },
    },
    async (req, reply) => {
      const machine = await inventory.getMachine((req.params as { id: string }).id);
      return reply.header('etag', etag(machine)).send(machine);
    },
  );

  app.put(
    `${API}/machines/:id`,
    {
      schema: {
        tags,
        summary:
          'Create or replace a machine. With If-Match: "<version>" (412 when stale) or a `version` field (409 when ' +
          'stale), only over the version read: a write between the read and this one is not overwritten',
        params: IdParams,
        headers: Type.Object({ 'if-match': Type.Optional(Type.String({ maxLength: 100 })) }),
        body: MachineInputSchema,
        response: { 200: MachineSchema, 201: MachineSchema },
      },
    },
    async (req, reply) => {
      const { id } = req.params as { id: string };
      const body = req.body as Machine;
      if (body.id !== id)
        throw new BootherdError('VALIDATION', `id: "${body.id}" differs from the URL's "${id}"`, { field: 'id' });
      const ifVersion = ifMatch((req.headers as { 'if-match'?: string })['if-match']);
      let result: Awaited<ReturnType<typeof inventory.putMachine>>;
      try {
        result = await inventory.putMachine(body, 'replace', ifVersion === undefined ? {} : { ifVersion });
      } catch (err) {
        // The same refusal, in the status the client's way of asking calls for.
        if (ifVersion !== undefined && err instanceof BootherdError && err.code === 'VERSION_CONFLICT')
          throw new BootherdError('PRECONDITION_FAILED', err.message, err.detail);
        throw err;
      }
      const { machine, created } = result;
      return reply
        .code(created ? 201 : 200)
        .header('etag', etag(machine))
        .send(machine);
    },
  );

  app.delete(
    `${API}/machines/:id`,
    { schema: { tags, summary: 'Delete a machine', params: IdParams } },
    async (req, reply) => {
      await inventory.deleteMachine((req.params as { id: string }).id);
      return reply.code(204).send();
    },
  );

  app.put(
    `${API}/machines/:id/next`,
    {
      schema: {
        tags,
        summary: "Set the machine's next boot: install (once, then local), local, menu, profile",
        params: IdParams,
        body: NextActionSchema,
        response: { 200: MachineSchema },
      },
    },
    async (req) => inventory.setNextAction((req.params as { id: string }).id, req.body as NextAction),
  );

  app.delete(
    `${API}/machines/:id/next`,
    {
      schema: { tags, summary: "Clear the machine's next action", params: IdParams, response: { 200: MachineSchema } },
    },
    async (req) => inventory.setNextAction((req.params as { id: string }).id, null),
  );

  app.get(
    `${API}/machines/:id/preview`,
    {
      schema: {
        tags,
        summary: 'The script the machine would get now (a one-shot is not consumed)',
        params: IdParams,
        querystring: Type.Object(
          { format: Type.Optional(Type.Union([Type.Literal('ipxe'), Type.Literal('pxelinux')])) },
          { additionalProperties: false },
        ),
        response: {
          200: Type.Object({
            format: Type.String(),
            script: Type.String(),
            decision: Type.Record(Type.String(), Type.Unknown()),
          }),
        },
      },
    },
    async (req) => {
      const { format } = req.query as { format?: 'ipxe' | 'pxelinux' };
      return inventory.preview((req.params as { id: string }).id, format ?? 'ipxe');
    },
  );

  app.get(
    `${API}/machines/:id/media.iso`,
    {
      schema: {
        tags,
        summary:
          "The machine's boot stick (BIOS + UEFI hybrid ISO): its static address from the record (ip, prefix, gateway, dns), else DHCP on every NIC",
        params: IdParams,
        produces: ['application/octet-stream'],
      },
    },
    async (req, reply) => {
      const machine = await inventory.getMachine((req.params as { id: string }).id);
      if (!media) throw new BootherdError('NOT_FOUND', 'boot media are not available on this server');
      const { image, sha256 } = await media(machine);
      return reply
        .type('application/octet-stream')
        .header('content-disposition', `attachment; filename="${machine.id}.iso"`)
        .header('x-content-sha256', sha256)
        .send(image);
    },
  );
}
