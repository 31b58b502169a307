/**
 * DHCPv4 option declarations: the option codes we type (RFC 2132 names unless noted), the RFC 2132 §9.6 message
 * types, and the typed value of every option (DhcpOptions). Declarations only, apart from the codecs, so that code
 * that reads or builds options (reply, intake, snippets) needs no codec to name them.
 */

/** Option codes we give a typed value (RFC 2132 names unless noted). */
export const OptionCode = {
  Pad: 0,
  SubnetMask: 1,
  Router: 3,
  DomainNameServer: 6,
  HostName: 12,
  DomainName: 15,
  BroadcastAddress: 28,
  NtpServers: 42,
  VendorSpecific: 43,
  RequestedIpAddress: 50,
  LeaseTime: 51,
  OptionOverload: 52,
  MessageType: 53,
  ServerIdentifier: 54,
  ParameterRequestList: 55,
  MaxMessageSize: 57,
  RenewalTime: 58,
  RebindingTime: 59,
  VendorClassIdentifier: 60,
  ClientIdentifier: 61,
  TftpServerName: 66,
  BootfileName: 67,
  /** RFC 3004 */
  UserClass: 77,
  /** RFC 3046 */
  RelayAgentInformation: 82,
  /** RFC 4578 */
  ClientSystemArchitecture: 93,
  /** RFC 4578 */
  ClientNetworkInterfaceIdentifier: 94,
  /** RFC 4578 */
  ClientMachineIdentifier: 97,
  /** RFC 3397 */
  DomainSearch: 119,
  /** iPXE's encapsulated options ("Etherboot", site-specific range). */
  Ipxe: 175,
  /** RFC 5071 */
  PxelinuxConfigFile: 209,
  /** RFC 5071 */
  PxelinuxPathPrefix: 210,
  End: 255,
} as const;

/** RFC 2132 §9.6 DHCP message types. */
export const MessageType = {
  Discover: 1,
  Offer: 2,
  Request: 3,
  Decline: 4,
  Ack: 5,
  Nak: 6,
  Release: 7,
  Inform: 8,
} as const;

/** A sub-option of an encapsulated option (43, 82, 175) kept as bytes. */
export interface EncapsulatedOption {
  code: number;
  data: Buffer;
}

/** PXE 2.1 vendor options carried in option 43 when option 60 starts with `PXEClient`. */
export interface PxeVendorOptions {
  /** 6 PXE_DISCOVERY_CONTROL bit field (bit 3: boot file name in the DHCP packet, skip discovery). */
  discoveryControl?: number;
  /** 8 PXE_BOOT_SERVERS. */
  bootServers?: { type: number; addresses: string[] }[];
  /** 9 PXE_BOOT_MENU. */
  bootMenu?: { type: number; description: string }[];
  /** 10 PXE_MENU_PROMPT: timeout in seconds (255: wait for a key, 0: boot the first item at once). */
  menuPrompt?: { timeout: number; prompt: string };
  /** 71 PXE_BOOT_ITEM. */
  bootItem?: { type: number; layer: number };
  /** Any other sub-option, in the order received. */
  other?: EncapsulatedOption[];
}

/** Option 175, iPXE's encapsulated options. */
export interface IpxeOptions {
  /** 0xb1 bus id: bus type then ids, e.g. `01 8086 100e` = PCI 8086:100e. */
  busId?: Buffer;
  /** 0xeb version, `major.minor.patch`. */
  version?: string;
  /** 0xb0 (175.176) `no-pxedhcp`: sent by a server so iPXE does not wait for proxyDHCP offers. */
  noPxeDhcp?: boolean;
  /** Feature flags by name → the flag's value (1, or the API version for `pxeext`), in the order received. */
  features?: Record<string, number>;
  /** Sub-options without a typed value, in the order received. */
  other?: EncapsulatedOption[];
}

/** Option 77: iPXE sends a bare string (`iPXE`); RFC 3004 clients send length-prefixed instances. */
export type UserClass = { format: 'string'; value: string } | { format: 'rfc3004'; instances: string[] };

/** Option 97: type 0 is a 16-byte GUID, shown as a canonical UUID (RFC 4578 §2.3). */
export type ClientMachineIdentifier = { type: 0; uuid: string } | { type: number; id: Buffer };

/** Option 94 (RFC 4578 §2.2): UNDI interface type and version. */
export interface NetworkInterfaceIdentifier {
  type: number;
  major: number;
  minor: number;
}

/**
 * Every option, by RFC name. Options without a typed field, and option 43 from a client that is not a PXEClient,
 * are kept as bytes in `raw`.
 */
export interface DhcpOptions {
  subnetMask?: string;
  routers?: string[];
  domainNameServers?: string[];
  hostName?: string;
  domainName?: string;
  broadcastAddress?: string;
  ntpServers?: string[];
  vendorSpecific?: PxeVendorOptions;
  requestedIpAddress?: string;
  leaseTime?: number;
  /** Decoded only: the encoder sets option 52 itself when the options need the file/sname fields. */
  overload?: 1 | 2 | 3;
  messageType?: number;
  serverIdentifier?: string;
  parameterRequestList?: number[];
  maxMessageSize?: number;
  renewalTime?: number;
  rebindingTime?: number;
  vendorClassIdentifier?: string;
  clientIdentifier?: Buffer;
  tftpServerName?: string;
  bootfileName?: string;
  userClass?: UserClass;
  /** Sub-options kept as bytes, to echo back unchanged (RFC 3046 §2.2). */
  relayAgentInformation?: EncapsulatedOption[];
  clientSystemArchitecture?: number[];
  clientNetworkInterfaceIdentifier?: NetworkInterfaceIdentifier;
  clientMachineIdentifier?: ClientMachineIdentifier;
  domainSearch?: string[];
  ipxe?: IpxeOptions;
  pxelinuxConfigFile?: string;
  pxelinuxPathPrefix?: string;
  raw?: Map<number, Buffer>;
}
