/**
 * The one boot policy. DHCP, TFTP and HTTP all ask it what a client gets; it is a pure function of the client's
 * facts, the inventory and the configuration, so every rule here is tested without a socket.
 */
import type { BootLoader, ClientFacts, Group, Machine, MenuSettings, NextAction, Profile } from '../model/types.ts';
import { IPXE_ONLY } from '../model/validate.ts';
import { archInfo, type FirmwareKey, firmwareKey } from './arch.ts';

/**
 * Secure Boot's boot file names: Debian's signed shim, and the name shim loads its second stage by ("grubx64.efi",
 * from the folder shim itself came from: over TFTP the same server and path prefix), under which Debian's signed GRUB
 * network image is served. Both are names, never files on disk: the server maps them to the packages' files.
 */
export const SHIM_NAME = 'shimx64.efi';
export const SHIM_GRUB_NAME = 'grubx64.efi';

export interface BootPolicyConfig {
  /** Base URL of bootherd's HTTP service as clients reach it, e.g. `http://192.0.2.1:8080`. */
  baseUrl: string;
  /** Option 77 user class of bootherd's own iPXE build; a client sending it is always capable. */
  userClass?: string;
  /** iPXE features (option 175 names) a stock iPXE must announce to get the HTTP script directly. */
  requiredFeatures: string[];
  /**
   * Loop guard (default on): an iPXE lacking the required features that just loaded bootherd's own binary gets the
   * script anyway, since that binary is the weak build and chaining it again would loop forever.
   */
  loopGuard?: boolean;
  /** iPXE binary per firmware, served over TFTP (or HTTP for UEFI HTTP boot). */
  bootFiles: Partial<Record<FirmwareKey, string>>;
  /** `boot.secure_boot`: the default for machines whose record, group and profile do not say. */
  secureBoot?: boolean;
  /** The files behind SHIM_NAME and SHIM_GRUB_NAME (config `boot.shim`, `boot.shim_grub`). */
  secureBootFiles?: { shim: string; grub: string };
  /** `boot.boot_loader`: the default for machines whose record, group and profile do not say. */
  bootLoader?: BootLoader;
  /** lpxelinux.0 and the folder of the COM32 modules it loads (config `boot.pxelinux`, `boot.pxelinux_modules`). */
  pxelinuxFiles?: { loader: string; modules: string };
  /** What an unknown machine (no inventory record, no group) gets. */
  unknown: { action: 'menu' } | { action: 'local' } | { action: 'ignore' } | { action: 'profile'; profile: string };
  menu: Required<MenuSettings>;
}

/** The slice of the inventory one decision needs, loaded by the caller. */
export interface InventoryView {
  machine?: Machine;
  groups: Group[];
  profiles: ReadonlyMap<string, Profile>;
}

export type DhcpDecision =
  | { kind: 'ignore'; reason: string }
  /** A first stage (firmware PXE, a weak iPXE): give it a capable iPXE binary. */
  | { kind: 'ipxe-binary'; file: string; transport: 'tftp' | 'http'; reason: string }
  /** A UEFI Secure Boot machine: Debian's signed shim, which loads the signed GRUB, which reads its GRUB config. */
  | { kind: 'shim'; file: string; transport: 'tftp' | 'http'; reason: string }
  /** A capable iPXE: break the chainload loop, hand it the bootstrap script URL. */
  | { kind: 'script'; url: string; reason: string };

export type ScriptSource = 'next-action' | 'machine' | 'group' | 'unknown-default' | 'menu-choice';

export type ScriptDecision =
  | {
      kind: 'profile';
      profile: Profile;
      source: ScriptSource;
      /** Set when this is a one-shot install: the action to consume once the script is served or called back. */
      oneShot?: NextAction;
      variables: Record<string, string>;
      group?: string;
    }
  | { kind: 'local'; source: ScriptSource; group?: string }
  | { kind: 'menu'; items: Profile[]; settings: Required<MenuSettings>; source: ScriptSource; group?: string }
  | { kind: 'ignore'; source: ScriptSource; reason: string }
  | { kind: 'error'; reason: string };

const DEFAULT_IPXE_FEATURES = ['http', 'dns', 'tftp'];

/** Does this iPXE speak HTTP well enough to run our scripts? Keyed on option 77, never on 175's presence alone. */
export function isCapableIpxe(facts: ClientFacts, config: BootPolicyConfig): boolean {
  const uc = facts.userClass;
  if (uc === undefined) return false;
  if (config.userClass !== undefined && uc === config.userClass) return true;
  if (uc !== 'iPXE') return false;
  // DHCPv6 has no option 175: only the features every iPXE build has by default (config/general.h) can be assumed.
  const have = new Set(facts.dhcp6 ? DEFAULT_IPXE_FEATURES : (facts.ipxeFeatures ?? []));
  return config.requiredFeatures.every((f) => have.has(f));
}

/** What the caller knows of this machine's recent boots: whether it just loaded one of bootherd's iPXE binaries. */
export interface ChainHistory {
  loadedOurBinary?: boolean;
}

export function decideDhcp(
  facts: ClientFacts,
  inv: InventoryView,
  config: BootPolicyConfig,
  history: ChainHistory = {},
): DhcpDecision {
  const script = decideScript(facts, inv, config);
  if (script.kind === 'ignore') return { kind: 'ignore', reason: script.reason };
  if (isCapableIpxe(facts, config)) {
    return { kind: 'script', url: `${config.baseUrl}/boot.ipxe`, reason: 'capable iPXE' };
  }
  if (facts.userClass === 'iPXE' && history.loadedOurBinary && config.loopGuard !== false) {
    const have = new Set(facts.ipxeFeatures ?? []);
    const missing = config.requiredFeatures.filter((f) => !have.has(f)).join(', ');
    return {
      kind: 'script',
      url: `${config.baseUrl}/boot.ipxe`,
      reason: `loop guard: the iPXE binary this machine just loaded from bootherd lacks ${missing}; its script instead of another chainload`,
    };
  }
  const info = archInfo(facts.arch ?? (facts.userClass === 'iPXE' ? archFromPlatform(facts) : 0));
  if (!info) return { kind: 'ignore', reason: `unsupported client architecture ${facts.arch}` };
  // Secure Boot exists on UEFI only, and Debian signs the chain for x64 (shimx64 → grubnetx64).
  if (firmwareKey(info) === 'x64-uefi' && secureBootOf(facts, inv, config, script)) {
    if (info.http)
      return {
        kind: 'shim',
        file: `${config.baseUrl}/secure-boot/${SHIM_NAME}`,
        transport: 'http',
        reason: 'Secure Boot, UEFI HTTP boot',
      };
    return { kind: 'shim', file: SHIM_NAME, transport: 'tftp', reason: 'Secure Boot' };
  }
  const file = config.bootFiles[firmwareKey(info)];
  if (!file) return { kind: 'ignore', reason: `no iPXE binary configured for ${info.name}` };
  if (info.http) {
    // UEFI HTTP boot fetches its boot file by URL (no TFTP): the same binary, named absolutely under /ipxe-bin/.
    const url = `${config.baseUrl}/ipxe-bin/${file}`;
    return { kind: 'ipxe-binary', file: url, transport: 'http', reason: 'UEFI HTTP boot' };
  }
  const why = facts.userClass === 'iPXE' ? 'iPXE without the required features' : 'firmware PXE';
  return { kind: 'ipxe-binary', file, transport: 'tftp', reason: why };
}

/**
 * Does this machine boot through the signed chain? Its own record says first, then its group, then the profile it
 * is about to boot, then `boot.secure_boot`.
 */
export function secureBootOf(
  facts: ClientFacts,
  inv: InventoryView,
  config: BootPolicyConfig,
  decision?: ScriptDecision,
): boolean {
  const profile = decision?.kind === 'profile' ? decision.profile : undefined;
  return secureBootFor(inv.machine, resolveGroup(facts, inv), profile, config);
}

function secureBootFor(
  machine: Machine | undefined,
  group: Group | undefined,
  profile: Profile | undefined,
  config: BootPolicyConfig,
): boolean {
  return machine?.secureBoot ?? group?.secureBoot ?? profile?.secureBoot ?? config.secureBoot ?? false;
}

/**
 * Who boots the kernel once iPXE has the machine's decision: iPXE itself, or PXELINUX (Debian's lpxelinux.0, loaded
 * over HTTP), which reads the same decision as its generated config. `reason` says why a machine set to PXELINUX
 * stays with iPXE.
 */
export type LoaderDecision = { loader: 'ipxe'; reason?: string } | { loader: 'pxelinux' };

/**
 * The machine's record says first, then its group, then the profile it is about to boot, then `boot.boot_loader`
 * (as Secure Boot). PXELINUX is a BIOS program: a UEFI machine set to it, or a profile only iPXE can boot (sanboot,
 * chain, an iPXE template), stays with iPXE, with the reason, rather than not booting at all.
 */
export function decideLoader(
  facts: ClientFacts,
  inv: InventoryView,
  config: BootPolicyConfig,
  decision: ScriptDecision,
): LoaderDecision {
  const profile = decision.kind === 'profile' ? decision.profile : undefined;
  const wanted =
    inv.machine?.bootLoader ?? resolveGroup(facts, inv)?.bootLoader ?? profile?.bootLoader ?? config.bootLoader;
  if (wanted !== 'pxelinux' || decision.kind === 'error' || decision.kind === 'ignore') return { loader: 'ipxe' };
  const stay = (why: string): LoaderDecision => ({
    loader: 'ipxe',
    reason: `boot_loader pxelinux: ${why}; iPXE boots it`,
  });
  if (facts.platform !== 'pcbios')
    return stay(
      `lpxelinux.0 is a BIOS program and this machine's platform is ${facts.platform ?? 'unknown'} (not pcbios)`,
    );
  if (decision.source === 'menu-choice') return stay('the choice was made in an iPXE menu');
  if (profile && IPXE_ONLY.has(profile.boot.kind))
    return stay(`profile "${profile.name}" is a ${profile.boot.kind} profile, which PXELINUX cannot boot`);
  return { loader: 'pxelinux' };
}

function archFromPlatform(facts: ClientFacts): number | undefined {
  if (facts.platform === 'pcbios') return 0;
  if (facts.platform === 'efi') return facts.buildarch === 'arm64' ? 11 : 7;
  return undefined;
}

/** The HTTP stage: what script this machine gets now. `choice` is a profile picked from a menu. */
export function decideScript(
  facts: ClientFacts,
  inv: InventoryView,
  config: BootPolicyConfig,
  choice?: string,
): ScriptDecision {
  const { machine } = inv;
  const group = resolveGroup(facts, inv);
  const variables = { ...group?.variables, ...machine?.variables };
  const groupName = group?.name;
  const withProfile = (name: string, source: ScriptSource, oneShot?: NextAction): ScriptDecision => {
    const profile = inv.profiles.get(name);
    if (!profile) return { kind: 'error', reason: `profile "${name}" does not exist` };
    if (profile.boot.kind === 'local') return { kind: 'local', source, group: groupName };
    if (profile.boot.kind === 'menu') return menu(source, profile);
    if (IPXE_ONLY.has(profile.boot.kind) && secureBootFor(machine, group, profile, config))
      return {
        kind: 'error',
        reason: `profile "${name}" is a ${profile.boot.kind} profile, which only iPXE can boot, and Secure Boot (${machine ? `machine "${machine.id}"` : 'this machine'}) boots through shim and GRUB`,
      };
    return {
      kind: 'profile',
      profile,
      source,
      oneShot,
      variables: { ...profile.variables, ...variables },
      group: groupName,
    };
  };
  const menu = (source: ScriptSource, menuProfile?: Profile): ScriptDecision => {
    const wanted = menuProfile?.boot.kind === 'menu' ? menuProfile.boot.items : undefined;
    const items = wanted
      ? wanted.flatMap((n) => inv.profiles.get(n) ?? [])
      : [...inv.profiles.values()].filter((p) => p.boot.kind !== 'menu').sort((a, b) => a.name.localeCompare(b.name));
    const settings = { ...config.menu, ...group?.menu, ...machine?.menu };
    return { kind: 'menu', items, settings, source, group: groupName };
  };

  if (choice !== undefined) return withProfile(choice, 'menu-choice');

  const next = machine?.nextAction;
  if (next) {
    switch (next.action) {
      case 'install': {
        const name = next.profile ?? machine?.profile ?? group?.profile;
        if (!name) return { kind: 'error', reason: `machine "${machine?.id}" is set to install but has no profile` };
        return withProfile(name, 'next-action', next);
      }
      case 'local':
        return { kind: 'local', source: 'next-action', group: groupName };
      case 'menu':
        return menu('next-action');
      case 'profile':
        return withProfile(next.profile, 'next-action');
    }
  }
  if (machine?.profile) return withProfile(machine.profile, 'machine');
  if (group?.profile) return withProfile(group.profile, 'group');
  if (machine || group) return menu(machine ? 'machine' : 'group');

  const unknown = config.unknown;
  switch (unknown.action) {
    case 'menu':
      return menu('unknown-default');
    case 'local':
      return { kind: 'local', source: 'unknown-default' };
    case 'ignore':
      return { kind: 'ignore', source: 'unknown-default', reason: 'unknown machine and unknown.action is ignore' };
    case 'profile':
      return withProfile(unknown.profile, 'unknown-default');
  }
}

/**
 * A machine's explicit group wins; otherwise the matching group with the most selectors (the most specific), ties
 * broken by name so the answer never depends on storage order.
 */
export function resolveGroup(facts: ClientFacts, inv: InventoryView): Group | undefined {
  const { machine } = inv;
  if (machine?.group) return inv.groups.find((g) => g.name === machine.group);
  let best: Group | undefined;
  for (const g of inv.groups) {
    if (!groupMatches(g, facts, machine)) continue;
    const n = Object.keys(g.selectors).length;
    const bestN = best ? Object.keys(best.selectors).length : -1;
    if (n > bestN || (n === bestN && best && g.name < best.name)) best = g;
  }
  return best;
}

const CASE_FOLDED = new Set(['mac', 'uuid', 'hostname', 'arch', 'platform', 'buildarch']);

/** Every selector must match. An empty selector set matches every machine (a catch-all group). */
export function groupMatches(group: Group, facts: ClientFacts, machine?: Machine): boolean {
  return Object.entries(group.selectors).every(([key, want]) => {
    const have = selectorValues(key, facts, machine);
    const fold = CASE_FOLDED.has(key);
    return have.some((v) => (fold ? v.toLowerCase() === want.toLowerCase() : v === want));
  });
}

function selectorValues(key: string, facts: ClientFacts, machine?: Machine): string[] {
  const defined = (...vs: (string | undefined)[]) => vs.filter((v): v is string => v !== undefined);
  switch (key) {
    case 'mac':
      return defined(facts.mac, ...(machine?.macs ?? []));
    case 'uuid':
      return defined(machine?.uuid, facts.uuid);
    case 'serial':
      return defined(machine?.serial, facts.serial);
    case 'hostname':
      return defined(machine?.hostname, facts.hostname);
    case 'arch': {
      const info = archInfo(facts.arch);
      return defined(facts.arch?.toString(), info?.name);
    }
    case 'platform':
      return defined(facts.platform ?? archInfo(facts.arch)?.platform);
    case 'buildarch':
      return defined(facts.buildarch ?? archInfo(facts.arch)?.buildarch);
    default: {
      const label = key.startsWith('label.') ? key.slice(6) : key;
      return defined(machine?.labels[label]);
    }
  }
}
