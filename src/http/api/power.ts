/** A machine's power: read its state, switch it on, off or around, optionally setting its next boot first. */
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { BootherdError } from '../../errors.ts';
import { NextActionSchema, PowerActionSchema } from '../../model/schemas.ts';
import type { NextAction } from '../../model/types.ts';
import type { PowerAction } from '../../power/index.ts';
import { API, type ApiDeps } from './deps.ts';

const IdParams = Type.Object({ id: Type.String({ maxLength: 63 }) });
const tags = ['machines'];

const PowerResultSchema = Type.Object(
  {
    machine: Type.String(),
    action: PowerActionSchema,
    method: Type.String({ description: 'ipmi, redfish or wol' }),
    state: Type.Optional(Type.Union([Type.Literal('on'), Type.Literal('off')])),
    netboot: Type.Optional(Type.Boolean({ description: 'whether the BMC took the one-time network boot' })),
    nextAction: Type.Optional(NextActionSchema),
  },
  {},
);

export async function powerRoutes(app: FastifyInstance, { power }: ApiDeps): Promise<void> {
  const service = () => {
    if (!power) throw new BootherdError('NOT_FOUND', 'power control is not available on this server');
    return power;
  };
  app.get(
    `${API}/machines/:id/power`,
    {
      schema: {
        tags,
        summary: "The machine's power state, as its BMC reports it",
        params: IdParams,
        response: { 200: PowerResultSchema },
      },
    },
    async (req) => service().run((req.params as { id: string }).id, 'status'),
  );
  app.post(
    `${API}/machines/:id/power`,
    {
      schema: {
        tags,
        summary: 'Switch the machine on, off or around (cycle); with `next`, set its next boot first (e.g. install)',
        params: IdParams,
        body: Type.Object(
          { action: PowerActionSchema, next: Type.Optional(NextActionSchema) },
          { additionalProperties: false },
        ),
        response: { 200: PowerResultSchema },
      },
    },
    async (req) => {
      const body = req.body as { action: PowerAction; next?: NextAction };
      return service().run((req.params as { id: string }).id, body.action, body.next);
    },
  );
}
