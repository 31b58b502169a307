/**
 * The domain model every layer shares: what a client told us (ClientFacts), the inventory (profiles, groups,
 * machines), next-boot actions and boot events. Plain data, no behaviour: boot/, store/, core/, http/ and the CLI all
 * import from here, never from each other, for these shapes.
 */

export interface ClientFacts {
  /** Lower-case colon form, `52:54:00:12:34:56`. */
  mac: string;
  /** Canonical lower-case 8-4-4-4-12; placeholders are dropped before they get here (see identity.ts). */
  uuid?: string;
  serial?: string;
  hostname?: string;
  /** RFC 4578 option 93 client system architecture, e.g. 0 BIOS, 7 x64 UEFI, 11 ARM64 UEFI, 16 x64 UEFI HTTP. */
  arch?: number;
  /** iPXE `${platform}`: `pcbios`, `efi`. */
  platform?: string;
  /** iPXE `${buildarch}`: `i386`, `x86_64`, `arm64`. */
  buildarch?: string;
  /** Option 60 vendor class, e.g. `PXEClient:Arch:00007:UNDI:003000`. */
  vendorClass?: string;
  /** Option 77 user class (iPXE sends the bare string `iPXE`). */
  userClass?: string;
  /** Option 175 feature names iPXE announced (`http`, `https`, `dns`, `menu`, `efi`, `bzimage` …). */
  ipxeFeatures?: string[];
  /** Client IPv4 address, when known. */
  ip?: string;
  /** The iPXE network device the client booted from, e.g. `net0`. */
  nic?: string;
  /** Server interface the request came in on. */
  iface?: string;
  /** The request came over DHCPv6 (RFC 8415), where iPXE announces no feature list (no option 175). */
  dhcp6?: true;
}

export type BootStage = 'dhcp' | 'tftp' | 'http';

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
  /**
   * Boot through Debian's signed chain (shim → GRUB → a signed kernel) for UEFI Secure Boot. A machine's setting wins
   * over its group's, then its profile's, then `boot.secure_boot`.
   */
  secureBoot?: boolean;
  /**
   * The boot program a BIOS machine hands over to after iPXE: `pxelinux` chains Debian's lpxelinux.0 over HTTP, which
   * reads its generated config and fetches kernel and initrd over HTTP. Machine, then group, then profile, then
   * `boot.boot_loader`; default `ipxe`.
   */
  bootLoader?: BootLoader;
}

/** What boots a BIOS machine's kernel after iPXE: iPXE itself, or PXELINUX (lpxelinux.0) over HTTP. */
export type BootLoader = 'ipxe' | 'pxelinux';

/** Selector keys: mac, uuid, serial, hostname, arch, platform, buildarch, or `label.<name>` for any label. */
export type Selectors = Record<string, string>;

export interface Group {
  name: string;
  description?: string;
  selectors: Selectors;
  profile?: string;
  menu?: MenuSettings;
  variables?: Record<string, string>;
  secureBoot?: boolean;
  bootLoader?: BootLoader;
}

export type NextAction =
  /** Boot the machine's (or the named) profile once, then the local disk. */
  | { action: 'install'; profile?: string }
  | { action: 'local' }
  | { action: 'menu' }
  | { action: 'profile'; profile: string };

/**
 * Where a BMC password is, never the password itself: a file name in `<data_dir>/bmc-secrets/`, or an environment
 * variable named `BMC_*`. Records are written through the API by token holders; a reference to any file or variable
 * would let them send the server's own secrets to a BMC address of their choosing.
 */
export type SecretRef = { file: string } | { env: string };

export interface IpmiPower {
  host: string;
  /** RMCP+ UDP port, default 623. */
  port?: number;
  user: string;
  password: SecretRef;
}

export interface RedfishPower {
  /** The BMC's base URL, `https://bmc.example` (the service root is `/redfish/v1`). */
  url: string;
  user: string;
  password: SecretRef;
  /** The ComputerSystem id under /redfish/v1/Systems; default: the only one there. */
  system?: string;
  /** Accept the BMC's certificate unchecked (most BMCs ship a self-signed one). Default: verify. */
  insecure?: boolean;
}

export interface WolPower {
  /** The MAC to wake; default: the machine's first MAC. */
  mac?: string;
  /** The server interface the magic packet is broadcast on. */
  interface: string;
}

export type PowerSpec = { ipmi: IpmiPower } | { redfish: RedfishPower } | { wol: WolPower };

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
  /** DHCP reservation (full mode): this address, for the machine's first MAC; also a boot stick's static address. */
  ip?: string;
  /** For boot media with a static address (`bootherd media iso --machine`): the prefix length of `ip`. */
  prefix?: number;
  gateway?: string;
  dns?: string;
  profile?: string;
  group?: string;
  menu?: MenuSettings;
  variables?: Record<string, string>;
  nextAction?: NextAction;
  secureBoot?: boolean;
  bootLoader?: BootLoader;
  /** How bootherd switches the machine on, off or around (its BMC, or Wake-on-LAN). */
  power?: PowerSpec;
  lastSeen?: SeenFacts;
  /** The machine's newest boot event; filled in by listings, never stored. */
  lastEvent?: BootEvent;
  /** Bumped by the store on every write of the machine (optimistic locking: If-Match / `version`); read-only. */
  version?: number;
}

export interface BootEvent {
  id?: number;
  at: string;
  machineId?: string;
  mac: string;
  stage: 'dhcp' | 'tftp' | 'http' | 'callback' | 'power';
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

/** API token scopes, each including the ones before it. */
export type TokenScope = 'read' | 'write' | 'admin';

/** An API token as stored: the secret itself is never kept, only its SHA-256. */
export interface TokenRecord {
  /** Public id, the middle part of `bh_<id>_<secret>`; shown in listings and used to revoke. */
  id: string;
  name: string;
  scope: TokenScope;
  /** Hex SHA-256 of the secret part. */
  hash: string;
  createdAt: string;
  lastUsedAt?: string;
}

/** Machines that booted but match no record: what their requests told, for "add to inventory". */
export interface DiscoveredMachine {
  mac: string;
  firstSeen: string;
  lastSeen: string;
  facts: Partial<ClientFacts>;
}
