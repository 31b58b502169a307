/**
 * The boot service: the one core under every front end (HTTP, TFTP, DHCP, CLI). It loads the inventory slice a
 * decision needs, asks the pure policy in boot/, renders, consumes one-shot actions exactly once, and records events.
 */

import type { BootPolicyConfig } from '../boot/decide.ts';
import {
  type DhcpDecision,
  decideDhcp,
  decideScript,
  type InventoryView,
  type ScriptDecision,
} from '../boot/decide.ts';
import type { ClientFacts } from '../boot/facts.ts';
import { normalizeHostname, normalizeMac, normalizeSerial, normalizeUuid } from '../boot/identity.ts';
import { BootherdError } from '../errors.ts';
import type { EventBus } from '../events/bus.ts';
import { bootstrapScript } from '../ipxe/scripts.ts';
import type { Group, Inventory, Machine, NextAction, Profile, Store } from '../store/types.ts';
import type { Metrics } from './metrics.ts';
import { type RenderContext, renderPxelinux, renderScript } from './render.ts';
import type { Signer } from './signing.ts';

/** How long a signed install callback stays valid: long enough for a slow installer. */
const CALLBACK_TTL_S = 7 * 24 * 3600;
/** Profiles and groups change rarely; a short cache keeps per-request rendering cheap, writes here invalidate it. */
const CATALOG_TTL_MS = 1000;

export interface ServiceDeps {
  store: Store;
  boot: BootPolicyConfig;
  signer: Signer;
  events: EventBus;
  metrics: Metrics;
  now?: () => Date;
}

export interface ScriptResult {
  script: string;
  decision: ScriptDecision;
  machine?: Machine;
}

export class BootService {
  private catalog?: { at: number; groups: Group[]; profiles: Map<string, Profile> };
  private readonly now: () => Date;
  /** The bootstrap script is the same for every client: rendered once, served over HTTP and TFTP. */
  readonly bootstrap: string;

  constructor(private readonly deps: ServiceDeps) {
    this.now = deps.now ?? (() => new Date());
    this.bootstrap = bootstrapScript({ baseUrl: deps.boot.baseUrl });
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

  invalidate(): void {
    this.catalog = undefined;
  }

  async view(facts: ClientFacts): Promise<InventoryView> {
    const [machine, catalog] = await Promise.all([
      this.deps.store.findMachine({ mac: facts.mac, uuid: facts.uuid, serial: facts.serial, hostname: facts.hostname }),
      this.loadCatalog(),
    ]);
    return { machine, ...catalog };
  }

  async dhcp(rawFacts: ClientFacts): Promise<DhcpDecision> {
    const facts = BootService.cleanFacts(rawFacts);
    const inv = await this.view(facts);
    const decision = decideDhcp(facts, inv, this.deps.boot);
    this.record('dhcp', facts, inv.machine, { ...decision });
    return decision;
  }

  /** The per-machine script. `choice` is a profile picked from a menu. */
  async script(rawFacts: ClientFacts, choice?: string): Promise<ScriptResult> {
    const facts = BootService.cleanFacts(rawFacts);
    const inv = await this.view(facts);
    let decision = decideScript(facts, inv, this.deps.boot, choice);
    const machine = inv.machine;
    let consumed = false;
    if (decision.kind === 'profile' && decision.oneShot && machine && decision.profile.consume !== 'on-callback') {
      // Consume before serving: if two requests race, exactly one gets the installer, the other local disk.
      consumed = await this.deps.store.swapNextAction(machine.id, decision.oneShot, { action: 'local' });
      if (!consumed) {
        const fresh = await this.view(facts);
        decision = decideScript(facts, fresh, this.deps.boot, choice);
      }
    }
    const ctx = this.context(facts, machine, decision);
    const script = renderScript(decision, ctx);
    this.record('http', facts, machine, summarize(decision, consumed));
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
      result = { action: 'local' };
    }
    this.record('callback', { mac: machine.macs[0] ?? '' }, machine, { kind: 'callback', nextAction: result });
    return result;
  }

  /**
   * Files generated for TFTP clients: `pxelinux.cfg/01-<mac>` from the policy, and `boot.ipxe` (the bootstrap) for an
   * iPXE told to fetch its script over TFTP. undefined: not a generated name.
   */
  async tftpFile(path: string, clientIp: string): Promise<Buffer | undefined> {
    if (path === 'boot.ipxe') return Buffer.from(this.bootstrap);
    const mac = path.startsWith('pxelinux.cfg/') ? pxelinuxConfigMac(path.slice('pxelinux.cfg/'.length)) : undefined;
    if (!mac) return undefined;
    return Buffer.from(await this.pxelinux({ mac, ip: clientIp }));
  }

  /** A finished TFTP transfer, as a boot event of the machine that fetched it (found by address when known). */
  tftpTransfer(clientIp: string, file: string, outcome: Record<string, unknown>): void {
    this.record('tftp', { mac: '', ip: clientIp }, undefined, { kind: 'tftp', file, ...outcome });
  }

  async pxelinux(rawFacts: ClientFacts): Promise<string> {
    const facts = BootService.cleanFacts(rawFacts);
    const inv = await this.view(facts);
    const decision = decideScript(facts, inv, this.deps.boot);
    this.record('http', facts, inv.machine, { ...summarize(decision, false), format: 'pxelinux' });
    return renderPxelinux(decision, this.context(facts, inv.machine, decision));
  }

  private context(facts: ClientFacts, machine: Machine | undefined, decision: ScriptDecision): RenderContext {
    const baseUrl = this.deps.boot.baseUrl;
    const privatePaths = new Set(decision.kind === 'profile' ? (decision.profile.private ?? []) : []);
    const callbackUrl = machine
      ? `${baseUrl}${callbackPath(machine.id)}?${this.deps.signer.sign(callbackPath(machine.id), CALLBACK_TTL_S)}`
      : undefined;
    return {
      baseUrl,
      facts,
      machine,
      callbackUrl,
      assetUrl: (ref: string) => {
        if (/^[a-z][a-z0-9+.-]*:\/\//i.test(ref)) return ref;
        const clean = ref.replace(/^\/+/, '');
        const path = `/assets/${clean}`;
        return privatePaths.has(clean) ? `${baseUrl}${path}?${this.deps.signer.sign(path, 3600)}` : `${baseUrl}${path}`;
      },
    };
  }

  private record(
    stage: 'dhcp' | 'tftp' | 'http' | 'callback',
    facts: ClientFacts,
    machine: Machine | undefined,
    decision: Record<string, unknown>,
  ): void {
    this.deps.metrics.decisions.inc({ stage, kind: String(decision.kind) });
    const at = this.now().toISOString();
    const event = { at, machineId: machine?.id, mac: facts.mac, stage, facts, decision };
    // Facts from DHCP and HTTP complement each other (arch vs platform): merge onto what was seen before.
    const seen =
      machine && stage !== 'callback'
        ? { machineId: machine.id, facts: { ...machine.lastSeen, ...facts, at } }
        : undefined;
    this.deps.events.record(event, seen);
  }

  /** Write boot events and last-seen facts still queued (before closing the store). */
  flush(): Promise<void> {
    return this.deps.events.flush();
  }

  // Inventory operations for the CLI and (later) the REST API: writes go through here so the cache stays honest.

  async apply(inventory: Inventory, prune: boolean) {
    const result = await this.deps.store.apply(inventory, { prune });
    this.invalidate();
    return result;
  }

  async setNextAction(machineId: string, action: NextAction | null): Promise<void> {
    if (action && 'profile' in action && action.profile && !(await this.deps.store.getProfile(action.profile))) {
      throw new BootherdError('PROFILE_NOT_FOUND', `no profile "${action.profile}"`);
    }
    if (!(await this.deps.store.setNextAction(machineId, action))) {
      throw new BootherdError('MACHINE_NOT_FOUND', `no machine "${machineId}"`);
    }
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
