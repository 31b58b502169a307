/**
 * What a client told us about itself, in one shape for every protocol front.
 * DHCP fills it from options 93/60/61/77/97/175, HTTP from the bootstrap script's query string.
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
}

export type BootStage = 'dhcp' | 'tftp' | 'http';
