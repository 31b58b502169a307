/**
 * The shapes of `dhcp.subnets`: what config.ts reads from the file and the DHCPv4 lease pool (dhcp/pool.ts) is built
 * from.
 */

/** Options a subnet hands its clients (RFC 2132 names). The subnet mask comes from the subnet itself. */
export interface SubnetOptions {
  routers?: string[];
  dnsServers?: string[];
  domainName?: string;
  domainSearch?: string[];
  ntpServers?: string[];
  /** Option 26 interface MTU. */
  mtu?: number;
  broadcastAddress?: string;
}

export interface SubnetConfig {
  /** CIDR, e.g. `192.0.2.0/24`. */
  subnet: string;
  /** First and last address handed out dynamically (inclusive). */
  range: [string, string];
  options?: SubnetOptions;
  /** Default 3600. */
  leaseSeconds?: number;
  /** Addresses inside the range never handed out (the server's own, a printer...). */
  exclude?: string[];
  /**
   * Relay agents (giaddr) outside this subnet whose clients are on it (Kea's `relay.ip-addresses`, dnsmasq's
   * `shared-network`): a relay on a transit network forwards for clients numbered from this subnet.
   */
  relayAddresses?: string[];
}
