/**
 * The routes machines use while they boot: the bootstrap and per-machine iPXE scripts, PXELINUX over HTTP
 * (lpxelinux.0, its modules and the generated configs under /pxelinux/), install callbacks, boot assets (Range, ETag,
 * Last-Modified, Cache-Control) and the iPXE binaries for UEFI HTTP boot. Open (firmware has no credentials), plain
 * HTTP (Debian's iPXE has no HTTPS); private assets need a signed URL. Errors are one line of text iPXE can show on
 * its console.
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { PXELINUX_PREFIX, pxelinuxFile } from '../core/pxelinux.ts';
import { secureBootFile } from '../core/secure-boot.ts';
import { type BootService, pxelinuxConfigMac } from '../core/service.ts';
import type { Signer } from '../core/signing.ts';
import { BootherdError } from '../errors.ts';
import { normalizeMac } from '../model/identity.ts';
import type { ClientFacts } from '../model/types.ts';
import { fileRoutes } from './assets.ts';

export interface BootRoutesDeps {
  service: BootService;
  signer: Signer;
  assetsDir: string;
  ipxeDir: string;
  /** Asset paths (relative) that need a signed URL; re-read per request so inventory changes apply. */
  privateAssets: () => Promise<Set<string>>;
}

export const IPXE_TYPE = 'text/plain; charset=utf-8';
/** Query values iPXE sends: settings expand to text; anything longer than this is not a real client. */
const MAX_FACT = 256;

export async function bootRoutes(app: FastifyInstance, deps: BootRoutesDeps): Promise<void> {
  app.get('/boot.ipxe', async (_req, reply) => reply.type(IPXE_TYPE).send(deps.service.bootstrap));

  app.get('/ipxe', async (req, reply) => {
    const q = req.query as Record<string, unknown>;
    const facts = factsFromQuery(q, req.ip);
    const choice = optional(q, 'profile');
    const result = await deps.service.script(facts, choice);
    if (result.decision.kind === 'error') throw new BootherdError('PROFILE_NOT_FOUND', result.decision.reason);
    return reply.type(IPXE_TYPE).header('cache-control', 'no-store').send(result.script);
  });

  // PXELINUX over HTTP: pxelinux.cfg/01-<mac> as lpxelinux asks for it, under the path prefix bootherd's handoff
  // script sets (option 210) or at the root for a DHCP server that sets its own. Its other guesses (UUID, the address
  // in hex, `default`) get a quick 404: it asks for them only when the MAC's config failed, and they would fail alike.
  const pxelinuxConfig = async (req: FastifyRequest, reply: FastifyReply) => {
    const { name } = req.params as { name: string };
    const mac = pxelinuxConfigMac(name);
    if (!mac) throw new BootherdError('NOT_FOUND', `pxelinux.cfg/${name}: only 01-<mac> names are generated`);
    const text = await deps.service.pxelinux({ mac, ip: req.ip });
    return reply.type(IPXE_TYPE).header('cache-control', 'no-store').send(text);
  };
  app.get('/pxelinux.cfg/:name', pxelinuxConfig);
  app.get(`${PXELINUX_PREFIX}pxelinux.cfg/:name`, pxelinuxConfig);
  // lpxelinux.0 (package pxelinux) and the COM32 modules it loads (ldlinux.c32, menu.c32 …: syslinux-common).
  app.get(`${PXELINUX_PREFIX}:name`, async (req, reply) => {
    const { name } = req.params as { name: string };
    const file = pxelinuxFile(name, deps.service.boot);
    if (!file) throw new BootherdError('NOT_FOUND', `pxelinux/${name}: not a PXELINUX file bootherd serves`);
    return sendFile(reply, file, 'application/octet-stream', `pxelinux/${name}`);
  });

  // GRUB's network images fetch their configs under the prefix `/grub` (over HTTP when GRUB was itself loaded so).
  app.get('/grub/*', async (req, reply) => {
    const name = (req.params as { '*': string })['*'];
    const body = await deps.service.grubFile(name, req.ip);
    if (body === undefined)
      throw new BootherdError('NOT_FOUND', `grub/${name}: not a GRUB config or module bootherd serves`);
    if (name.endsWith('.mod')) return reply.type('application/octet-stream').send(body);
    return reply.type(IPXE_TYPE).header('cache-control', 'no-store').send(body);
  });

  // UEFI HTTP boot of a Secure Boot machine: the signed shim by URL, then the GRUB shim loads from beside it.
  app.get('/secure-boot/:name', async (req, reply) => {
    const { name } = req.params as { name: string };
    const file = secureBootFile(name, deps.service.boot);
    if (!file) throw new BootherdError('NOT_FOUND', `secure-boot/${name}: not a Secure Boot file bootherd serves`);
    return sendFile(reply, file, 'application/efi', `secure-boot/${name}`);
  });

  const callback = async (req: FastifyRequest) => {
    const { id } = req.params as { id: string };
    const q = req.query as Record<string, unknown>;
    const next = await deps.service.callback(id, optional(q, 'exp'), optional(q, 'sig'));
    return { machine: id, nextAction: next };
  };
  app.get('/callback/:id', callback);
  app.post('/callback/:id', callback);

  // Private assets need a valid signature; everything else is public and cacheable by a proxy in front.
  app.addHook('onRequest', async (req: FastifyRequest, reply: FastifyReply) => {
    if (!req.url.startsWith('/assets/')) return;
    const url = new URL(req.url, 'http://x');
    const rel = decodeURIComponent(url.pathname.slice('/assets/'.length));
    if (!(await deps.privateAssets()).has(rel)) return;
    const verdict = deps.signer.verify(
      url.pathname,
      url.searchParams.get('exp') ?? undefined,
      url.searchParams.get('sig') ?? undefined,
    );
    if (verdict !== 'ok')
      throw new BootherdError('SIGNATURE_INVALID', `asset ${rel} needs a valid signed URL (${verdict})`);
    reply.header('cache-control', 'private, no-store');
  });
  // Range for sanboot, validators for caches; dotfiles and listings never (assets.ts).
  await fileRoutes(app, { prefix: '/assets/', root: deps.assetsDir, cacheControl: 'public, max-age=300' });
  await fileRoutes(app, { prefix: '/ipxe-bin/', root: deps.ipxeDir, cacheControl: 'public, max-age=3600' });
  // A fetched asset is a step of the machine's boot timeline (kernel, initrd, ISO, lpxelinux.0), once per file, not
  // per Range. PXELINUX's configs are recorded as the decisions they are.
  app.addHook('onResponse', async (req, reply) => {
    const pxelinux = req.url.startsWith(PXELINUX_PREFIX) && !req.url.includes('/pxelinux.cfg/');
    if (!(req.url.startsWith('/assets/') || pxelinux) || req.method !== 'GET' || reply.statusCode >= 400) return;
    if (req.headers.range && !/^bytes=0-/.test(req.headers.range)) return;
    const path = new URL(req.url, 'http://x').pathname;
    const file = decodeURIComponent(pxelinux ? path.slice(1) : path.slice('/assets/'.length));
    deps.service.assetServed(req.ip, file, {
      status: reply.statusCode,
      ...(reply.getHeader('content-length') ? { bytes: Number(reply.getHeader('content-length')) } : {}),
    });
  });
}

/** A file from a Debian package, streamed with its length (firmware and PXELINUX want one); missing → 404. */
async function sendFile(reply: FastifyReply, file: string, type: string, name: string): Promise<FastifyReply> {
  const st = await stat(file).catch(() => undefined);
  if (!st?.isFile()) throw new BootherdError('NOT_FOUND', `${name}: not installed on this server`);
  return reply.type(type).header('content-length', st.size).send(createReadStream(file));
}

function optional(q: Record<string, unknown>, key: string): string | undefined {
  const v = q[key];
  if (v === undefined || v === '') return undefined;
  if (typeof v !== 'string') throw new BootherdError('BAD_REQUEST', `query parameter ${key} given more than once`);
  if (v.length > MAX_FACT)
    throw new BootherdError('BAD_REQUEST', `query parameter ${key} is longer than ${MAX_FACT} characters`);
  return v;
}

/** The bootstrap script sends iPXE's own settings back to us; validate each before it reaches the policy. */
export function factsFromQuery(q: Record<string, unknown>, ip: string): ClientFacts {
  const rawMac = optional(q, 'mac');
  if (!rawMac) throw new BootherdError('BAD_MAC', 'query parameter mac is required (iPXE: ?mac=${mac:hexhyp})');
  const mac = normalizeMac(rawMac);
  if (!mac) throw new BootherdError('BAD_MAC', `mac "${rawMac}" is not a MAC address`);
  const facts: ClientFacts = { mac, ip };
  const uuid = optional(q, 'uuid');
  const serial = optional(q, 'serial');
  const hostname = optional(q, 'hostname');
  const platform = optional(q, 'platform');
  const buildarch = optional(q, 'buildarch');
  const nic = optional(q, 'nic');
  if (uuid) facts.uuid = uuid;
  if (serial) facts.serial = serial;
  if (hostname) facts.hostname = hostname;
  if (platform) {
    if (!/^[a-z0-9_-]{1,32}$/.test(platform))
      throw new BootherdError('BAD_REQUEST', `platform "${platform}" is not an iPXE platform`);
    facts.platform = platform;
  }
  if (buildarch) {
    if (!/^[a-z0-9_-]{1,32}$/.test(buildarch))
      throw new BootherdError('BAD_REQUEST', `buildarch "${buildarch}" is not an iPXE build architecture`);
    facts.buildarch = buildarch;
  }
  if (nic) {
    if (!/^net\d{1,3}$/.test(nic))
      throw new BootherdError('BAD_REQUEST', `nic "${nic}" is not an iPXE network device name`);
    facts.nic = nic;
  }
  return facts;
}
