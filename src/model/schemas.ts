/**
 * The wire shapes of the domain as TypeBox schemas: one definition validates API bodies (through Fastify's type
 * provider), types the handlers and is published in the OpenAPI document. Structure only; the identity rules that
 * need code (MAC normalisation, placeholder UUIDs, one identity at least) live in validate.ts, which every writer
 * (API, CLI, inventory file) goes through.
 */
import { type Static, Type } from 'typebox';

/** Profile, group and machine names: they appear in URLs, scripts and file names. */
export const NAME_PATTERN = '^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$';

const Name = Type.String({ pattern: NAME_PATTERN, description: '1-63 letters, digits, ".", "_" or "-"' });
const Text = (max: number) => Type.String({ maxLength: max });
const StringMap = Type.Record(Type.String({ maxLength: 64 }), Text(4096));

export const MenuSettingsSchema = Type.Object(
  {
    timeout: Type.Optional(Type.Integer({ minimum: 0, maximum: 3600, description: 'seconds; 0 waits forever' })),
    default: Type.Optional(Text(64)),
  },
  { additionalProperties: false },
);

export const NextActionSchema = Type.Union(
  [
    Type.Object({ action: Type.Literal('install'), profile: Type.Optional(Name) }, { additionalProperties: false }),
    Type.Object({ action: Type.Literal('local') }, { additionalProperties: false }),
    Type.Object({ action: Type.Literal('menu') }, { additionalProperties: false }),
    Type.Object({ action: Type.Literal('profile'), profile: Name }, { additionalProperties: false }),
  ],
  { description: 'what the machine boots next; `install` is consumed once, then `local`' },
);

export const SeenFactsSchema = Type.Object(
  {
    at: Type.String({ format: 'date-time' }),
    mac: Type.Optional(Type.String()),
    uuid: Type.Optional(Type.String()),
    serial: Type.Optional(Type.String()),
    hostname: Type.Optional(Type.String()),
    arch: Type.Optional(Type.Integer()),
    platform: Type.Optional(Type.String()),
    buildarch: Type.Optional(Type.String()),
    vendorClass: Type.Optional(Type.String()),
    userClass: Type.Optional(Type.String()),
    ipxeFeatures: Type.Optional(Type.Array(Type.String())),
    ip: Type.Optional(Type.String()),
    nic: Type.Optional(Type.String()),
    iface: Type.Optional(Type.String()),
  },
  { additionalProperties: true },
);

/** A reference to a BMC password, never the password: see SecretRef in types.ts. */
const SecretRefSchema = Type.Union(
  [
    Type.Object(
      { file: Type.String({ maxLength: 255, description: 'a file name in <data_dir>/bmc-secrets/' }) },
      { additionalProperties: false },
    ),
    Type.Object(
      { env: Type.String({ maxLength: 128, description: 'an environment variable named BMC_*' }) },
      { additionalProperties: false },
    ),
  ],
  { description: 'where the password is: {file: name} or {env: BMC_NAME}; never the password itself' },
);

export const PowerSchema = Type.Union(
  [
    Type.Object(
      {
        ipmi: Type.Object(
          {
            host: Text(253),
            port: Type.Optional(Type.Integer({ minimum: 1, maximum: 65535 })),
            user: Text(64),
            password: SecretRefSchema,
          },
          { additionalProperties: false },
        ),
      },
      { additionalProperties: false },
    ),
    Type.Object(
      {
        redfish: Type.Object(
          {
            url: Text(2048),
            user: Text(64),
            password: SecretRefSchema,
            system: Type.Optional(Text(128)),
            insecure: Type.Optional(Type.Boolean({ description: "accept the BMC's certificate unchecked" })),
          },
          { additionalProperties: false },
        ),
      },
      { additionalProperties: false },
    ),
    Type.Object(
      {
        wol: Type.Object(
          { mac: Type.Optional(Type.String({ maxLength: 32 })), interface: Text(15) },
          { additionalProperties: false },
        ),
      },
      { additionalProperties: false },
    ),
  ],
  { description: 'how bootherd switches the machine: its BMC (IPMI or Redfish) or Wake-on-LAN' },
);

export const PowerActionSchema = Type.Union([
  Type.Literal('on'),
  Type.Literal('off'),
  Type.Literal('cycle'),
  Type.Literal('status'),
]);

const SecureBoot = Type.Optional(
  Type.Boolean({ description: 'boot through the signed shim and GRUB (UEFI Secure Boot)' }),
);

const BootLoaderField = Type.Optional(
  Type.Union([Type.Literal('ipxe'), Type.Literal('pxelinux')], {
    description: 'BIOS machines: boot through iPXE (default) or hand over to PXELINUX (lpxelinux.0) over HTTP',
  }),
);

const machineFields = {
  id: Name,
  macs: Type.Array(Type.String({ maxLength: 32 }), { maxItems: 64, description: 'e.g. 52:54:00:12:34:56' }),
  uuid: Type.Optional(Text(64)),
  serial: Type.Optional(Text(128)),
  hostname: Type.Optional(Text(253)),
  ip: Type.Optional(Type.String({ format: 'ipv4', description: 'DHCP reservation (full mode), for the first MAC' })),
  prefix: Type.Optional(Type.Integer({ minimum: 1, maximum: 32, description: 'prefix length of ip, for boot media' })),
  gateway: Type.Optional(Type.String({ format: 'ipv4', description: 'gateway, for boot media with a static address' })),
  dns: Type.Optional(Type.String({ format: 'ipv4', description: 'DNS server, for boot media with a static address' })),
  labels: Type.Optional(StringMap),
  profile: Type.Optional(Name),
  group: Type.Optional(Name),
  menu: Type.Optional(MenuSettingsSchema),
  variables: Type.Optional(StringMap),
  nextAction: Type.Optional(NextActionSchema),
  secureBoot: SecureBoot,
  bootLoader: BootLoaderField,
  power: Type.Optional(PowerSchema),
};

/** Optimistic locking: the version a machine was read at; a write naming an older one is refused (409). */
const VersionField = Type.Integer({ minimum: 1, description: 'bumped by every write; also the ETag' });

/** A machine as the API takes it. `lastSeen` and `lastEvent` are the server's: accepted and ignored on writes. */
export const MachineInputSchema = Type.Object(
  {
    ...machineFields,
    lastSeen: Type.Optional(Type.Unknown()),
    lastEvent: Type.Optional(Type.Unknown()),
    version: Type.Optional(VersionField),
  },
  { additionalProperties: false },
);

export const BootEventSchema = Type.Object(
  {
    id: Type.Optional(Type.Integer()),
    at: Type.String({ format: 'date-time' }),
    machineId: Type.Optional(Type.String()),
    mac: Type.String(),
    stage: Type.Union([
      Type.Literal('dhcp'),
      Type.Literal('tftp'),
      Type.Literal('http'),
      Type.Literal('callback'),
      Type.Literal('power'),
    ]),
    facts: Type.Record(Type.String(), Type.Unknown()),
    decision: Type.Record(Type.String(), Type.Unknown()),
  },
  {},
);

export const MachineSchema = Type.Object(
  {
    ...machineFields,
    labels: StringMap,
    lastSeen: Type.Optional(SeenFactsSchema),
    lastEvent: Type.Optional(BootEventSchema),
    version: Type.Optional(VersionField),
  },
  {},
);

export const BootSpecSchema = Type.Union([
  Type.Object(
    {
      kind: Type.Literal('kernel'),
      kernel: Text(2048),
      initrds: Type.Array(Text(2048), { maxItems: 32 }),
      cmdline: Type.Optional(Text(4096)),
    },
    { additionalProperties: false },
  ),
  Type.Object({ kind: Type.Literal('sanboot'), url: Text(2048) }, { additionalProperties: false }),
  Type.Object({ kind: Type.Literal('chain'), url: Text(2048) }, { additionalProperties: false }),
  Type.Object(
    {
      kind: Type.Literal('menu'),
      items: Type.Optional(Type.Array(Name, { maxItems: 256 })),
      title: Type.Optional(Text(256)),
    },
    { additionalProperties: false },
  ),
  Type.Object({ kind: Type.Literal('local') }, { additionalProperties: false }),
  Type.Object({ kind: Type.Literal('template'), template: Text(65536) }, { additionalProperties: false }),
]);

export const ProfileSchema = Type.Object(
  {
    name: Name,
    description: Type.Optional(Text(1024)),
    boot: BootSpecSchema,
    variables: Type.Optional(StringMap),
    consume: Type.Optional(Type.Union([Type.Literal('on-serve'), Type.Literal('on-callback')])),
    private: Type.Optional(Type.Array(Text(1024), { maxItems: 256 })),
    secureBoot: SecureBoot,
    bootLoader: BootLoaderField,
  },
  { additionalProperties: false },
);

export const GroupSchema = Type.Object(
  {
    name: Name,
    description: Type.Optional(Text(1024)),
    selectors: Type.Record(Type.String({ maxLength: 64 }), Text(256)),
    profile: Type.Optional(Name),
    menu: Type.Optional(MenuSettingsSchema),
    variables: Type.Optional(StringMap),
    secureBoot: SecureBoot,
    bootLoader: BootLoaderField,
  },
  { additionalProperties: false },
);

export const TokenScopeSchema = Type.Union([Type.Literal('read'), Type.Literal('write'), Type.Literal('admin')]);

export const TokenSchema = Type.Object(
  {
    id: Type.String(),
    name: Type.String(),
    scope: TokenScopeSchema,
    createdAt: Type.String({ format: 'date-time' }),
    lastUsedAt: Type.Optional(Type.String({ format: 'date-time' })),
  },
  {},
);

export const LeaseSchema = Type.Object(
  {
    ip: Type.String(),
    mac: Type.String(),
    hostname: Type.Optional(Type.String()),
    state: Type.Union(['offered', 'bound', 'released', 'declined', 'expired'].map((s) => Type.Literal(s as 'offered'))),
    expiresAt: Type.String({ format: 'date-time' }),
    machineId: Type.Optional(Type.String()),
  },
  {},
);

export const DiscoveredSchema = Type.Object(
  {
    mac: Type.String(),
    firstSeen: Type.String({ format: 'date-time' }),
    lastSeen: Type.String({ format: 'date-time' }),
    facts: Type.Record(Type.String(), Type.Unknown()),
  },
  {},
);

export const ErrorSchema = Type.Object(
  {
    error: Type.String({ description: 'stable code from the error catalog' }),
    message: Type.String(),
    field: Type.Optional(Type.String({ description: 'path of the offending field, e.g. macs/0' })),
  },
  {},
);

export type MachineInput = Static<typeof MachineInputSchema>;
export type ProfileInput = Static<typeof ProfileSchema>;
export type GroupInput = Static<typeof GroupSchema>;
export type NextActionInput = Static<typeof NextActionSchema>;
