/** Profiles (what to boot) and groups (which machines get which profile): list, create, read, replace, delete. */
import type { FastifyInstance } from 'fastify';
import { type TSchema, Type } from 'typebox';
import { BootherdError } from '../../errors.ts';
import { GroupSchema, ProfileSchema } from '../../model/schemas.ts';
import type { Group, Profile } from '../../model/types.ts';
import { API, type ApiDeps } from './deps.ts';

const NameParams = Type.Object({ name: Type.String({ maxLength: 63 }) });

interface Collection<T> {
  path: string;
  tag: string;
  schema: TSchema;
  list(): Promise<T[]>;
  get(name: string): Promise<T>;
  put(item: T, mode: 'create' | 'replace'): Promise<{ item: T; created: boolean }>;
  remove(name: string): Promise<void>;
  nameOf(item: T): string;
}

/** The same five routes for each named collection. */
function collection<T>(app: FastifyInstance, c: Collection<T>): void {
  const tags = [c.tag];
  app.get(
    `${API}/${c.path}`,
    { schema: { tags, summary: `List ${c.path}`, response: { 200: Type.Object({ items: Type.Array(c.schema) }) } } },
    async () => ({ items: await c.list() }),
  );
  app.post(
    `${API}/${c.path}`,
    { schema: { tags, summary: `Create one of ${c.path}`, body: c.schema, response: { 201: c.schema } } },
    async (req, reply) => reply.code(201).send((await c.put(req.body as T, 'create')).item),
  );
  app.get(
    `${API}/${c.path}/:name`,
    { schema: { tags, summary: `One of ${c.path}`, params: NameParams, response: { 200: c.schema } } },
    async (req) => c.get((req.params as { name: string }).name),
  );
  app.put(
    `${API}/${c.path}/:name`,
    {
      schema: {
        tags,
        summary: `Create or replace one of ${c.path}`,
        params: NameParams,
        body: c.schema,
        response: { 200: c.schema, 201: c.schema },
      },
    },
    async (req, reply) => {
      const { name } = req.params as { name: string };
      const item = req.body as T;
      if (c.nameOf(item) !== name)
        throw new BootherdError('VALIDATION', `name: "${c.nameOf(item)}" differs from the URL's "${name}"`, {
          field: 'name',
        });
      const r = await c.put(item, 'replace');
      return reply.code(r.created ? 201 : 200).send(r.item);
    },
  );
  app.delete(
    `${API}/${c.path}/:name`,
    { schema: { tags, summary: `Delete one of ${c.path} (refused while in use)`, params: NameParams } },
    async (req, reply) => {
      await c.remove((req.params as { name: string }).name);
      return reply.code(204).send();
    },
  );
}

export async function catalogRoutes(app: FastifyInstance, { inventory }: ApiDeps): Promise<void> {
  collection<Profile>(app, {
    path: 'profiles',
    tag: 'profiles',
    schema: ProfileSchema,
    list: () => inventory.listProfiles(),
    get: (n) => inventory.getProfile(n),
    put: async (p, mode) => {
      const r = await inventory.putProfile(p, mode);
      return { item: r.profile, created: r.created };
    },
    remove: (n) => inventory.deleteProfile(n),
    nameOf: (p) => p.name,
  });
  collection<Group>(app, {
    path: 'groups',
    tag: 'groups',
    schema: GroupSchema,
    list: () => inventory.listGroups(),
    get: (n) => inventory.getGroup(n),
    put: async (g, mode) => {
      const r = await inventory.putGroup(g, mode);
      return { item: r.group, created: r.created };
    },
    remove: (n) => inventory.deleteGroup(n),
    nameOf: (g) => g.name,
  });
}
