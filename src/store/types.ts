import type { ClientFacts } from '../boot/facts.ts';

/** A menu's look, settable per group or machine. */
export interface MenuSettings {
  /** Seconds before the default item is chosen; 0 waits forever. */
  timeout?: number;
  /** Item to choose on timeout: a profile name or a built-in item (`local`, `shell`, `config`, `reboot`, `exit`). */
  default?: string;
}

/** What a profile boots. */
export type BootSpec =
  | { kind: 'kernel'; kernel: string; initrds: string[]; cmdline?: string }
  | { kind: 'sanboot'; url: string }
  | { kind: 'chain'; url: string }
  | { kind: 'menu'; items?: string[]; title?: string }
  | { kind: 'local' }
  | { kind: 'template'; template: string };

export interface Profile {
  name: string;
  description?: string;
  boot: BootSpec;
  /** Variables available to cmdline/URL/template rendering as `{{name}}`. */
  variables?: Record<string, string>;
  /**
   * How a one-shot `install` of this profile is consumed: when its script is served (default), or only when the
   * installer calls the signed callback URL (`{{callback_url}}`), so a failed install boots the installer again.
   */
  consume?: 'on-serve' | 'on-callback';
  /** Asset paths (relative to the asset root) that are only served with a signed, expiring URL. */
  private?: string[];
}

/** Selector keys: mac, uuid, serial, hostname, arch, platform, buildarch, or `label.<name>` for any label. */
export type Selectors = Record<string, string>;

export interface Group {
  name: string;
  description?: string;
  selectors: Selectors;
  profile?: string;
  menu?: MenuSettings;
  variables?: Record<string, string>;
}

export type NextAction =
  /** Boot the machine's (or the named) profile once, then the local disk. */
  | { action: 'install'; profile?: string }
  | { action: 'local' }
  | { action: 'menu' }
  | { action: 'profile'; profile: string };

/** The facts last seen for a machine, with when. */
export interface SeenFacts extends Partial<ClientFacts> {
  at: string;
}

export interface Machine {
  /** Operator-chosen id, e.g. the hostname or an asset tag. */
  id: string;
  macs: string[];
  uuid?: string;
  serial?: string;
  hostname?: string;
  labels: Record<string, string>;
  /** DHCP reservation (full mode): this address, for the machine's first MAC. */
  ip?: string;
  profile?: string;
  group?: string;
  menu?: MenuSettings;
  variables?: Record<string, string>;
  nextAction?: NextAction;
  lastSeen?: SeenFacts;
}

export interface BootEvent {
  id?: number;
  at: string;
  machineId?: string;
  mac: string;
  stage: 'dhcp' | 'tftp' | 'http' | 'callback';
  facts: Partial<ClientFacts>;
  decision: Record<string, unknown>;
}

export interface Inventory {
  profiles: Profile[];
  groups: Group[];
  machines: Machine[];
}

export interface ApplyResult {
  created: string[];
  updated: string[];
  unchanged: string[];
  deleted: string[];
}

/** Identity keys a machine can be found by. Placeholders must be filtered out by the caller (boot/identity.ts). */
export interface MachineLookup {
  mac?: string;
  uuid?: string;
  serial?: string;
  hostname?: string;
}

/**
 * Inventory and event storage. Every write resolves only after it is durable.
 * Every engine passes test/unit/store/conformance.ts.
 */
export interface Store {
  putProfile(profile: Profile): Promise<void>;
  getProfile(name: string): Promise<Profile | undefined>;
  listProfiles(): Promise<Profile[]>;
  deleteProfile(name: string): Promise<boolean>;

  putGroup(group: Group): Promise<void>;
  getGroup(name: string): Promise<Group | undefined>;
  listGroups(): Promise<Group[]>;
  deleteGroup(name: string): Promise<boolean>;

  putMachine(machine: Machine): Promise<void>;
  getMachine(id: string): Promise<Machine | undefined>;
  listMachines(): Promise<Machine[]>;
  deleteMachine(id: string): Promise<boolean>;
  /** First match by MAC, then UUID, then serial, then hostname. */
  findMachine(lookup: MachineLookup): Promise<Machine | undefined>;

  /** Set (or clear, with null) a machine's next-boot action. False if there is no such machine. */
  setNextAction(id: string, action: NextAction | null): Promise<boolean>;
  /**
   * Atomically replace `expected` with `next` (compare-and-swap on the stored JSON), so a one-shot action is
   * consumed exactly once even when two requests race. True when this call made the swap.
   */
  swapNextAction(id: string, expected: NextAction, next: NextAction | null): Promise<boolean>;
  /**
   * Append boot events and update machines' last-seen facts in one transaction. The boot log is written in batches
   * (one fsync per batch, not per boot); a machine id that no longer exists is skipped.
   */
  writeBootLog(events: BootEvent[], seen: [machineId: string, facts: SeenFacts][]): Promise<void>;
  listEvents(filter: { machineId?: string; mac?: string; limit?: number }): Promise<BootEvent[]>;

  /** Upsert everything in one transaction; with prune, delete what the document does not name. */
  apply(inventory: Inventory, options: { prune: boolean }): Promise<ApplyResult>;
  export(): Promise<Inventory>;

  /** Every stored DHCP lease. */
  loadLeases(): Promise<StoredLease[]>;
  /** Upsert leases by address in one transaction; durable when the promise resolves (an ACK may follow). */
  commitLeases(changes: StoredLease[]): Promise<void>;

  close(): Promise<void>;
}

/** A DHCP lease as stored (full mode). The pool in dhcp/pool.ts owns the live state; the store makes it durable. */
export interface StoredLease {
  ip: string;
  mac: string;
  clientId?: string;
  hostname?: string;
  state: 'offered' | 'bound' | 'released' | 'declined' | 'expired';
  /** ms since the epoch. */
  expiresAt: number;
}
