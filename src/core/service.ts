/**
 * The boot service: the one core under every front end (HTTP, TFTP, DHCP, CLI). It loads the inventory slice a
 * decision needs, asks the pure policy in boot/, renders, consumes one-shot actions exactly once, and records events.
 */

import { join } from 'node:path';
import { ChainMemory } from '../boot/chain-guard.ts';
import type { BootPolicyConfig } from '../boot/decide.ts';
import {
  type DhcpDecision,
  decideDhcp,
  decideLoader,
  decideScript,
  type InventoryView,
  type ScriptDecision,
} from '../boot/decide.ts';
import { BootherdError } from '../errors.ts';
import type { EventBus } from '../events/bus.ts';
import { bootstrapScript } from '../ipxe/scripts.ts';
import { normalizeHostname, normalizeMac, normalizeSerial, normalizeUuid } from '../model/identity.ts';
import type { ClientFacts, Group, Machine, NextAction, Profile } from '../model/types.ts';
import type { Store } from '../store/types.ts';
import type { Change } from './change.ts';
import { MachineIndex, type ReceivedAt, THIS_TURN } from './machine-index.ts';
import type { Metrics } from './metrics.ts';
import { pxelinuxHandoffScript, renderPxelinux } from './pxelinux.ts';
import { type RenderContext, renderScript } from './render.ts';
import { GRUB_GENERIC_CFG, grubConfigIp, grubConfigMac, renderGrub } from './render-grub.ts';
import { secureBootFile } from './secure-boot.ts';
import type { Signer } from './signing.ts';
import { BootTimeline } from './timeline.ts';

/** How long a signed install callback stays valid: long enough for a slow installer. */
const CALLBACK_TTL_S = 7 * 24 * 3600;
/** Profiles and groups change rarely; a short cache keeps per-request rendering cheap, writes here invalidate it. */
const CATALOG_TTL_MS = 1000;
/** Decisions waiting for their exchange's report live for milliseconds to a second, so a few thousand cover the
 * intake's queues (server.ts: 4,096 + 512); a flood of random MACs must not make the map keep tens of thousands of
 * entries (36 MB of heap with 65,536 random clients). */
const MAX_IN_FLIGHT = 4096;

export interface ServiceDeps {
  store: Store;
  boot: BootPolicyConfig;
  signer: Signer;
  events: EventBus;
  metrics: Metrics;
  /** The asset folder (http.assets), also served over TFTP under `assets/` for GRUB. */
  assetsDir?: string;
  now?: () => Date;
  /** Said to the operator's log (a cache that cannot keep up, say). */
  warn?: (message: string) => void;
}

/** What the DHCP server reports after each exchange (see dhcp/server.ts). */
export interface DhcpExchangeReport {
  facts: ClientFacts;
  message: string;
  port: number;
  reply?: string;
  yiaddr?: string;
  outcome: string;
  reason?: string;
  bootfile?: string;
}

export interface ScriptResult {
  script: string;
  decision: ScriptDecision;
  machine?: Machine;
}

export class BootService {
  private catalog?: { at: number; groups: Group[]; profiles: Map<string, Profile> };
  /** privateAssets() of the current catalog. */
  private privatePaths?: { of: object; paths: Set<string> };
  /** The decision made per MAC until its exchange is reported, so the event names the machine without a second
   * lookup. */
  private readonly dhcpClients = new Map<string, { machine?: Machine; decision: DhcpDecision }>();
  /** Boot events: the machines' timelines, and who last used each address. */
  private readonly timeline: BootTimeline;
  /** Machines that just loaded one of our iPXE binaries: the chainload loop guard's evidence. */
  private readonly chains = new ChainMemory();
  /** Machine lookups from memory, where the store hears every writer's changes: announced (PostgreSQL's feed) or
   * read before each lookup (SQLite's change log; machine-index.ts). */
  private readonly machines?: MachineIndex;
  /** The bootstrap script is the same for every client: rendered once, served over HTTP and TFTP. */
  readonly bootstrap: string;

  constructor(private readonly deps: ServiceDeps) {
    this.bootstrap = bootstrapScript({ baseUrl: deps.boot.baseUrl });
    this.timeline = new BootTimeline(deps.events, deps.metrics, deps.now ?? (() => new Date()));
    if (deps.store.changeFeed || deps.store.othersChanges) this.machines = new MachineIndex(deps.store, deps.warn);
  }

  get boot(): BootPolicyConfig {
    return this.deps.boot;
  }

  /** Drop placeholder identities before they can match anything. */
  static cleanFacts(facts: ClientFacts): ClientFacts {
    const clean: ClientFacts = { ...facts };
    const uuid = normalizeUuid(facts.uuid);
    const serial = normalizeSerial(facts.serial);
    const hostname = normalizeHostname(facts.hostname);
    if (uuid === undefined) delete clean.uuid;
    else clean.uuid = uuid;
    if (serial === undefined) delete clean.serial;
    else clean.serial = serial;
    if (hostname === undefined) delete clean.hostname;
    else clean.hostname = hostname;
    return clean;
  }

  private async loadCatalog(): Promise<{ groups: Group[]; profiles: Map<string, Profile> }> {
    const t = Date.now();
    if (this.catalog && t - this.catalog.at < CATALOG_TTL_MS) return this.catalog;
    const [groups, profiles] = await Promise.all([this.deps.store.listGroups(), this.deps.store.listProfiles()]);
    this.catalog = { at: t, groups, profiles: new Map(profiles.map((p) => [p.name, p])) };
    return this.catalog;
  }

  /** An inventory write was announced (ours or another server's): the caches follow it. */
  invalidate(change: Pick<Change, 'kind' | 'id'> & { op?: string }): void {
    this.catalog = undefined;
    this.machines?.changed(change);
  }

  /**
   * Asset paths (relative) some profile lists as `private`, from the same cached catalog as scripts: asked on every
   * asset request, where reading every profile from the store cost more than a 1 MiB Range response (bench/http).
   */
  async privateAssets(): Promise<Set<string>> {
    const catalog = await this.loadCatalog();
    if (this.privatePaths?.of !== catalog) {
      const paths = [...catalog.profiles.values()].flatMap((p) => (p.private ?? []).map((x) => x.replace(/^\/+/, '')));
      this.privatePaths = { of: catalog, paths: new Set(paths) };
    }
    return this.privatePaths.paths;
  }

  /** The machine and catalog a decision needs; `from` answers the lookup (the store unless told); `receivedAt` as
   * MachineIndex.findMachine takes it. */
  async view(
    facts: ClientFacts,
    from: Pick<MachineIndex, 'findMachine'> = this.deps.store,
    receivedAt?: ReceivedAt,
  ): Promise<InventoryView> {
    const [machine, catalog] = await Promise.all([
      from.findMachine(
        { mac: facts.mac, uuid: facts.uuid, serial: facts.serial, hostname: facts.hostname },
        receivedAt,
      ),
      this.loadCatalog(),
    ]);
    return { machine, ...catalog };
  }

  /** `receivedAt`: performance.now() when the packet was read (MachineIndex.findMachine). */
  async dhcp(rawFacts: ClientFacts, receivedAt?: number): Promise<DhcpDecision> {
    const facts = BootService.cleanFacts(rawFacts);
    const inv = await this.view(facts, this.machines, receivedAt);
    const loadedOurBinary = this.chains.loadedRecently(facts.mac, Date.now());
    const decision = decideDhcp(facts, inv, this.deps.boot, { loadedOurBinary });
    // The event is recorded when the exchange ends (dhcpExchange), with what was replied; keep who this was.
    this.dhcpClients.delete(facts.mac);
    this.dhcpClients.set(facts.mac, { machine: inv.machine, decision });
    if (this.dhcpClients.size > MAX_IN_FLIGHT) this.dhcpClients.delete(this.dhcpClients.keys().next().value as string);
    return decision;
  }

  /** One DHCP exchange is over (reply sent, or the packet ignored): a step of the machine's timeline. */
  dhcpExchange(e: DhcpExchangeReport): void {
    const facts = BootService.cleanFacts(e.facts);
    const known = this.dhcpClients.get(facts.mac);
    this.dhcpClients.delete(facts.mac);
    const factsWithAddress = e.yiaddr && e.yiaddr !== '0.0.0.0' ? { ...facts, ip: e.yiaddr } : facts;
    // An ignored packet's ciaddr is only what it claims (garbage, in a flood): no TFTP fetch is attributed by it.
    const remember = e.outcome !== 'ignored';
    this.timeline.record(
      'dhcp',
      factsWithAddress,
      known?.machine,
      {
        kind: known?.decision.kind ?? 'none',
        message: e.message,
        ...(e.reply ? { reply: e.reply } : {}),
        outcome: e.outcome,
        ...(e.yiaddr && e.yiaddr !== '0.0.0.0' ? { yiaddr: e.yiaddr } : {}),
        ...(e.bootfile ? { bootfile: e.bootfile } : {}),
        ...(e.reason ? { reason: e.reason } : {}),
        ...(e.port === 4011 ? { port: 4011 } : {}),
      },
      remember,
    );
  }

  /** The per-machine script (iPXE, GRUB's or PXELINUX's config). `choice` is a profile picked from a menu. */
  async script(
    rawFacts: ClientFacts,
    choice?: string,
    format: 'ipxe' | 'grub' | 'pxelinux' = 'ipxe',
  ): Promise<ScriptResult> {
    const facts = BootService.cleanFacts(rawFacts);
    // From memory where the index is exact (every writer heard, see machine-index.ts): a one-shot is still
    // consumed by the store's compare-and-swap, and a lost swap reads the store again below.
    const inv = await this.view(facts, this.machines, THIS_TURN);
    let decision = decideScript(facts, inv, this.deps.boot, choice);
    const machine = inv.machine;
    // A BIOS machine set to PXELINUX: iPXE only hands over, and a one-shot is consumed when PXELINUX reads its config.
    const loader = format === 'ipxe' ? decideLoader(facts, inv, this.deps.boot, decision) : undefined;
    if (loader?.loader === 'pxelinux') {
      this.timeline.record('http', facts, machine, { ...summarize(decision, false), loader: 'pxelinux' });
      return { script: pxelinuxHandoffScript(this.deps.boot.baseUrl, facts.mac), decision, machine };
    }
    if (loader?.reason) this.deps.warn?.(`${machine?.id ?? facts.mac}: ${loader.reason}`);
    const render = (d: ScriptDecision) => {
      const ctx = this.context(facts, machine, d);
      if (format === 'grub') return renderGrub(d, ctx);
      return format === 'pxelinux' ? renderPxelinux(d, ctx) : renderScript(d, ctx);
    };
    // Rendered before a one-shot is consumed: a value the renderer refuses must not use up the install.
    let script = render(decision);
    let consumed = false;
    if (decision.kind === 'profile' && decision.oneShot && machine && decision.profile.consume !== 'on-callback') {
      // Consume before serving: if two requests race, exactly one gets the installer, the other local disk.
      consumed = await this.deps.store.swapNextAction(machine.id, decision.oneShot, { action: 'local' });
      if (consumed) this.machines?.changed({ kind: 'machine', id: machine.id });
      else {
        const fresh = await this.view(facts);
        decision = decideScript(facts, fresh, this.deps.boot, choice);
        script = render(decision);
      }
    }
    const summary = summarize(decision, consumed);
    if (format !== 'ipxe') summary.format = format;
    if (loader?.reason) summary.loaderReason = loader.reason;
    this.timeline.record('http', facts, machine, summary);
    return { script, decision, machine };
  }

  /** The installer reports success: consume the one-shot install so the next boot is the local disk. */
  async callback(machineId: string, exp: string | undefined, sig: string | undefined): Promise<NextAction | null> {
    const verdict = this.deps.signer.verify(callbackPath(machineId), exp, sig);
    if (verdict !== 'ok') throw new BootherdError('SIGNATURE_INVALID', `callback signature ${verdict}`);
    const machine = await this.deps.store.getMachine(machineId);
    if (!machine) throw new BootherdError('MACHINE_NOT_FOUND', `no machine "${machineId}"`);
    const current = machine.nextAction;
    let result: NextAction | null = current ?? null;
    if (
      current?.action === 'install' &&
      (await this.deps.store.swapNextAction(machineId, current, { action: 'local' }))
    ) {
      this.machines?.changed({ kind: 'machine', id: machineId });
      result = { action: 'local' };
    }
    this.timeline.record('callback', { mac: machine.macs[0] ?? '' }, machine, { kind: 'callback', nextAction: result });
    return result;
  }

  /**
   * Files generated for TFTP clients: `pxelinux.cfg/01-<mac>` from the policy, `boot.ipxe` (the bootstrap) for an
   * iPXE told to fetch its script over TFTP, and Secure Boot's shim and GRUB. undefined: not a generated name.
   */
  async tftpFile(path: string, clientIp: string): Promise<Buffer | { file: string } | undefined> {
    if (path === 'boot.ipxe') return Buffer.from(this.bootstrap);
    if (path.startsWith('grub/')) return this.grubFile(path.slice('grub/'.length), clientIp);
    if (path.startsWith('assets/')) return this.tftpAsset(path.slice('assets/'.length));
    const signed = secureBootFile(path, this.deps.boot);
    if (signed) return { file: signed };
    const mac = path.startsWith('pxelinux.cfg/') ? pxelinuxConfigMac(path.slice('pxelinux.cfg/'.length)) : undefined;
    if (!mac) return undefined;
    return Buffer.from(await this.pxelinux({ mac, ip: clientIp }));
  }

  /**
   * GRUB's configs under its prefix `grub/` (Debian's network images: `/grub`), over TFTP and HTTP: `grub.cfg` is the
   * same for every machine and loads `grub.cfg-01-<mac>`, the machine's own, made by the same path as the iPXE
   * script (one-shot consumed once, one event); `grub.cfg-<IPv4 in hex>`, the name GRUB's own search tries next,
   * is the config of the client last answered on that address. undefined: not a generated name.
   */
  async grubFile(name: string, clientIp: string): Promise<Buffer | undefined> {
    if (name === 'grub.cfg') return Buffer.from(GRUB_GENERIC_CFG);
    const mac = grubConfigMac(name) ?? this.timeline.who(grubConfigIp(name) ?? '')?.mac;
    if (!mac) return undefined;
    return Buffer.from((await this.script({ mac, ip: clientIp }, undefined, 'grub')).script);
  }

  /**
   * A public asset over TFTP, for GRUB configs (render-grub.ts: grubFile): the file for the TFTP server to read like
   * its roots' (a kernel or an installer image is streamed, not held in memory). Never a private one (TFTP carries
   * no signature), nor a dotfile or a path out of the folder (as over HTTP).
   */
  private async tftpAsset(rel: string): Promise<{ file: string } | undefined> {
    const dir = this.deps.assetsDir;
    if (!dir || rel.split('/').some((s) => s === '' || s.startsWith('.')) || (await this.privateAssets()).has(rel))
      return undefined;
    return { file: join(dir, rel) };
  }

  /** A finished TFTP transfer, as a boot event of the machine that fetched it (found by address when known). */
  tftpTransfer(clientIp: string, file: string, outcome: Record<string, unknown>): void {
    const who = this.timeline.who(clientIp);
    if (who && outcome.outcome === 'done' && Object.values(this.deps.boot.bootFiles).includes(file.replace(/^\/+/, '')))
      this.chains.loadedBinary(who.mac, Date.now());
    this.timeline.record('tftp', { mac: '', ip: clientIp }, undefined, { kind: 'tftp', file, ...outcome });
  }

  /**
   * The script a machine would get now, for the API and UI: the same policy and renderer as a real boot, but the
   * one-shot is not consumed and nothing is recorded. Facts come from what the machine last told us.
   */
  async preview(
    machine: Machine,
    format: 'ipxe' | 'pxelinux',
  ): Promise<{ format: string; script: string; decision: Record<string, unknown> }> {
    const { at: _, ...seen } = machine.lastSeen ?? { at: '' };
    const facts = BootService.cleanFacts({
      ...seen,
      mac: machine.macs[0] ?? seen.mac ?? '00:00:00:00:00:00',
      ...(machine.uuid ? { uuid: machine.uuid } : {}),
      ...(machine.serial ? { serial: machine.serial } : {}),
      ...(machine.hostname ? { hostname: machine.hostname } : {}),
    });
    const inv = { machine, ...(await this.loadCatalog()) };
    const decision = decideScript(facts, inv, this.deps.boot);
    const ctx = this.context(facts, machine, decision);
    const handoff = format === 'ipxe' && decideLoader(facts, inv, this.deps.boot, decision).loader === 'pxelinux';
    const script = handoff
      ? pxelinuxHandoffScript(this.deps.boot.baseUrl, facts.mac)
      : format === 'pxelinux'
        ? renderPxelinux(decision, ctx)
        : renderScript(decision, ctx);
    return { format, script, decision: summarize(decision, false) };
  }

  /** A boot asset (kernel, initrd, ISO) was served: part of the machine's timeline, found by its address. */
  assetServed(clientIp: string, file: string, detail: Record<string, unknown>): void {
    this.timeline.record('http', { mac: '', ip: clientIp }, undefined, { kind: 'asset', file, ...detail });
  }

  async pxelinux(rawFacts: ClientFacts): Promise<string> {
    // The same path as the iPXE script: a one-shot install is consumed once, not served on every boot.
    return (await this.script(rawFacts, undefined, 'pxelinux')).script;
  }

  private context(facts: ClientFacts, machine: Machine | undefined, decision: ScriptDecision): RenderContext {
    const baseUrl = this.deps.boot.baseUrl;
    const privatePaths = new Set(decision.kind === 'profile' ? (decision.profile.private ?? []) : []);
    const signer = this.deps.signer;
    let callbackUrl: string | undefined;
    return {
      baseUrl,
      facts,
      machine,
      callbackUrl: () => {
        if (machine)
          callbackUrl ??= `${baseUrl}${callbackPath(machine.id)}?${signer.sign(callbackPath(machine.id), CALLBACK_TTL_S)}`;
        return callbackUrl;
      },
      assetUrl: (ref: string) => {
        if (/^[a-z][a-z0-9+.-]*:\/\//i.test(ref)) return ref;
        const clean = ref.replace(/^\/+/, '');
        const path = `/assets/${clean}`;
        return privatePaths.has(clean) ? `${baseUrl}${path}?${this.deps.signer.sign(path, 3600)}` : `${baseUrl}${path}`;
      },
    };
  }

  /** Write boot events and last-seen facts still queued (before closing the store). */
  flush(): Promise<void> {
    return this.timeline.flush();
  }
}

/** The MAC in a PXELINUX per-machine config name, `01-<mac with hyphens>` (01 = Ethernet); undefined for others. */
export function pxelinuxConfigMac(name: string): string | undefined {
  const m = /^01-((?:[0-9a-f]{2}-){5}[0-9a-f]{2})$/i.exec(name);
  return m?.[1] ? normalizeMac(m[1]) : undefined;
}

export function callbackPath(machineId: string): string {
  return `/callback/${encodeURIComponent(machineId)}`;
}

function summarize(d: ScriptDecision, consumed: boolean): Record<string, unknown> {
  switch (d.kind) {
    case 'profile':
      return { kind: d.kind, profile: d.profile.name, source: d.source, group: d.group, oneShot: d.oneShot, consumed };
    case 'menu':
      return { kind: d.kind, items: d.items.map((p) => p.name), source: d.source, group: d.group };
    case 'local':
      return { kind: d.kind, source: d.source, group: d.group };
    case 'ignore':
    case 'error':
      return { kind: d.kind, reason: d.reason };
  }
}
