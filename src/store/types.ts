import type {
  ApplyResult,
  BootEvent,
  DiscoveredMachine,
  Group,
  Inventory,
  Machine,
  NextAction,
  Profile,
  SeenFacts,
  TokenRecord,
} from '../model/types.ts';

/** Identity keys a machine can be found by. Placeholders must be filtered out by the caller (model/identity.ts). */
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

  /**
   * Create or replace; every write of a machine (this, apply, next actions, the one-shot consume) bumps its `version`.
   * With `ifVersion`, only if the stored machine is at that version, else VERSION_CONFLICT (optimistic locking).
   */
  putMachine(machine: Machine, options?: { ifVersion?: number }): Promise<void>;
  getMachine(id: string): Promise<Machine | undefined>;
  /** Machines ordered by id; with a page, those after `after` (exclusive), at most `limit`. */
  listMachines(page?: { after?: string; limit?: number }): Promise<Machine[]>;
  countMachines(): Promise<number>;
  /**
   * The same page as listMachines, each machine with its newest event (brief, as latestEvents gives it) as
   * `lastEvent`, as JSON text ready for the wire: a listing need not parse and re-serialize what the store holds.
   */
  listMachinesJson(page: { after?: string; limit: number }): Promise<{ id: string; json: string }[]>;
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
  /** Newest first; `before` pages by event id (exclusive). */
  listEvents(filter: EventFilter): Promise<BootEvent[]>;
  /**
   * Retention: deletes the events beyond the newest `keep` and those older than `before` (an ISO time), oldest first,
   * `batch` at a time with a turn of the event loop between, so the store is never held long; returns how many.
   */
  pruneBootLog(options: { keep: number; before: string; batch: number }): Promise<number>;
  /**
   * The newest event of each of these machines (machines with none are absent). `brief`: without the client facts
   * (listings show the stage and decision; a machine's lastSeen holds the facts), which the engine may skip reading.
   */
  latestEvents(machineIds: string[], options?: { brief?: boolean }): Promise<Map<string, BootEvent>>;
  /** MACs seen in boot events that no machine claims, newest first, with the facts of their latest event. */
  listDiscovered(limit: number): Promise<DiscoveredMachine[]>;

  /** Upsert everything in one transaction; with prune, delete what the document does not name. */
  apply(inventory: Inventory, options: { prune: boolean }): Promise<ApplyResult>;
  export(): Promise<Inventory>;

  /** Every stored DHCP lease. */
  loadLeases(): Promise<StoredLease[]>;
  /**
   * Upsert leases by address in one transaction, whoever holds them (an operator's release, imports); durable when the
   * promise resolves. The DHCP server claims instead (claimLeases).
   */
  commitLeases(changes: StoredLease[]): Promise<void>;
  /** A server about to answer: start what the first write would otherwise start then (SQLite's writer threads). */
  warmWriters?(): Promise<void>;
  /**
   * Claim leases for `server`, in one transaction, each with one conditional upsert the database arbitrates (its row
   * lock, never a read-then-write): a change is written only when the stored row for its address is absent, ended
   * (released, expired, or past `expiresAt` at `now`), or held by the same client (option 61 when both have one,
   * else the MAC) — except that an ended-state write (`expired`) needs an ended row, an offer never replaces a
   * binding, and a declined address in quarantine stays declined. Returns the changes NOT written, as the database
   * holds them now (the current holder), in the order given. Durable when the promise resolves (an ACK may follow).
   */
  claimLeases(changes: StoredLease[], claim: LeaseClaim): Promise<StoredLease[]>;

  putToken(token: TokenRecord): Promise<void>;
  getToken(id: string): Promise<TokenRecord | undefined>;
  listTokens(): Promise<TokenRecord[]>;
  /** False if there was no such token. */
  deleteToken(id: string): Promise<boolean>;
  /** Record a use; telemetry, may be batched and need not be durable. */
  touchToken(id: string, at: string): Promise<void>;

  /**
   * Changes other servers sharing this store made (multi-server engines; single-server ones never call back). Every
   * engine that calls back starts with a `{ kind: 'inventory', op: 'apply' }` once it listens and sends another
   * after each reconnect: what changed while it was not listening is unknown, so every cache must drop everything.
   * A store's own writes are published by the store itself (in the write's transaction where the engine can), never
   * delivered back to it. Returns the unsubscribe.
   */
  watchChanges(listener: (change: StoreChange) => void): () => void;
  /**
   * True when watchChanges hears every other writer of this store (other servers, a CLI in another process): a cache
   * may keep what it read until told. False where another process can write unannounced (the CLI on the server's
   * SQLite file): caches there must expire.
   */
  readonly changeFeed: boolean;
  /**
   * Starts following the inventory changes other connections (a CLI on the same SQLite file) commit, and returns
   * their reader: each call returns what was committed since the previous one (or since the reader was made),
   * synchronously and cheaply, since a cache asks it before every lookup it answers from memory. Each change is a
   * `put` of the record named (re-read it: it may be gone) or a whole-inventory `apply`; this store's own writes may
   * appear too. Every reader has its own position. Engines whose other writers announce themselves (changeFeed) do
   * not need it.
   */
  othersChanges?(): () => StoreChange[];

  /** The server registry: upsert this server's record (its heartbeat). */
  putServer(server: ServerRecord): Promise<void>;
  /** Every server that ever registered, by name then id. */
  listServers(): Promise<ServerRecord[]>;

  close(): Promise<void>;
}

/** A committed write to the inventory or a next action, as the change feed carries it between servers. */
export interface StoreChange {
  kind: 'machine' | 'profile' | 'group' | 'inventory';
  /** The record's id or name; absent for a whole-inventory change. */
  id?: string;
  /** `lost` (kind `inventory`): the feed stopped hearing; writes elsewhere go unheard until the `apply` that follows
   * its reconnect. Not a write: caches that rely on the feed stop trusting themselves until then. */
  op: 'put' | 'delete' | 'apply' | 'lost';
  /** The server (store instance) that made it. */
  server?: string;
}

/** A `bootherd serve` sharing this store: written at start, every heartbeat, and when it stops cleanly. */
export interface ServerRecord {
  id: string;
  name: string;
  version: string;
  /** ISO times, from the server's own clock. */
  startedAt: string;
  heartbeatAt: string;
  stoppedAt?: string;
  /** Where it serves (boot base URL, API). */
  urls: string[];
  /** It answers a share of the DHCP clients (full mode with dhcp.load_balance): the others split theirs with it. */
  dhcpShare?: boolean;
}

export interface EventFilter {
  machineId?: string;
  mac?: string;
  stage?: BootEvent['stage'];
  /** Only events with a smaller id (paging, newest first). */
  before?: number;
  limit?: number;
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
  /** The server (registry id) whose claim wrote it last; absent for a blind commit. */
  server?: string;
}

/** Who claims, and when: `now` (ms, the claiming server's clock) decides which stored leases have ended. */
export interface LeaseClaim {
  server: string;
  now: number;
}
