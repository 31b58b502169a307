/** Prometheus metrics shared by every front end; one registry per server instance so tests stay independent. */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';

/** One subnet's addresses, as `LeasePool.usage()` counts them. */
export interface PoolUsage {
  subnet: string;
  size: number;
  free: number;
  offered: number;
  bound: number;
  declined: number;
}

const POOL_STATES = ['size', 'free', 'offered', 'bound', 'declined'] as const;

export class Metrics {
  readonly registry = new Registry();
  #pools: (() => PoolUsage[])[] = [];

  readonly httpRequests = new Counter({
    name: 'bootherd_http_requests_total',
    help: 'HTTP requests by route and status code',
    labelNames: ['route', 'status'] as const,
    registers: [this.registry],
  });
  readonly httpDuration = new Histogram({
    name: 'bootherd_http_request_duration_seconds',
    help: 'HTTP request duration by route',
    labelNames: ['route'] as const,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5],
    registers: [this.registry],
  });
  readonly decisions = new Counter({
    name: 'bootherd_boot_decisions_total',
    help: 'Boot policy decisions by stage (dhcp, tftp, http, callback), kind, and source of the answer (machine, group, next-action, unknown-default, menu-choice; empty when none)',
    labelNames: ['stage', 'kind', 'source'] as const,
    registers: [this.registry],
  });
  readonly errors = new Counter({
    name: 'bootherd_errors_total',
    help: 'Errors by stable error code',
    labelNames: ['code'] as const,
    registers: [this.registry],
  });
  readonly tftpTransfers = new Counter({
    name: 'bootherd_tftp_transfers_total',
    help: 'TFTP transfers by outcome: done, aborted (by the client, e.g. a size probe), error',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });
  readonly tftpBytes = new Counter({
    name: 'bootherd_tftp_bytes_total',
    help: 'File bytes acknowledged by TFTP clients',
    registers: [this.registry],
  });
  readonly tftpRetransmissions = new Counter({
    name: 'bootherd_tftp_retransmissions_total',
    help: 'TFTP windows or OACKs sent again after the client did not acknowledge them in time',
    registers: [this.registry],
  });
  readonly tftpErrors = new Counter({
    name: 'bootherd_tftp_errors_total',
    help: 'TFTP ERROR packets sent, by RFC 1350/2347 error code (file-not-found, access-violation, illegal-operation, unknown-tid, option-refused, not-defined for timeouts and shutdown ...)',
    labelNames: ['code'] as const,
    registers: [this.registry],
  });
  readonly dhcpPackets = new Counter({
    name: 'bootherd_dhcp_packets_total',
    help: 'DHCP datagrams: received, malformed, replied; router advertisements as replied (drops: bootherd_dhcp_dropped_total)',
    labelNames: ['kind', 'reason'] as const,
    registers: [this.registry],
  });
  readonly dhcpMessages = new Counter({
    name: 'bootherd_dhcp_messages_total',
    help: 'DHCP client messages by type (discover, request, inform, release, decline, bootp, unknown; malformed for undecodable datagrams) and outcome (offered, acked, nak, ignored, released, declined, informed; dropped for malformed)',
    labelNames: ['message', 'outcome'] as const,
    registers: [this.registry],
  });
  readonly dhcpReplySeconds = new Histogram({
    name: 'bootherd_dhcp_reply_seconds',
    help: 'DHCP messages answered: from the datagram arriving to its reply handed to the kernel (queueing, the boot decision, the lease commit an ACK waits for), by message type',
    labelNames: ['message'] as const,
    buckets: [0.0001, 0.00025, 0.0005, 0.00075, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1, 0.5, 2],
    registers: [this.registry],
  });
  readonly dhcpDropped = new Counter({
    name: 'bootherd_dhcp_dropped_total',
    help: 'DHCP datagrams that got no reply, by reason (no-subnet, pool-exhausted, malformed, shed-discover, shed-request, other-server, no-record, commit-failed ...)',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });
  readonly poolAddresses = new Gauge({
    name: 'bootherd_dhcp_pool_addresses',
    help: 'Full-mode DHCP addresses per subnet: size (assignable addresses), free, offered, bound, declined (in quarantine)',
    labelNames: ['subnet', 'state'] as const,
    registers: [this.registry],
    // Counted at scrape time, so a busy DHCP loop pays nothing for it.
    collect: () => this.#collectPools(),
  });
  readonly dhcpAdmission = new Gauge({
    name: 'bootherd_dhcp_discover_admission_ratio',
    help: 'Share of new DHCPv4 DISCOVERs the kernel lets through to bootherd: 1, or less while it is overloaded (the rest are held back before they are read; REQUESTs always pass)',
    registers: [this.registry],
  });
  readonly storeSeconds = new Histogram({
    name: 'bootherd_store_seconds',
    help: 'Store call duration by method (findMachine, commitLeases, writeBootLog ...), failed calls included',
    labelNames: ['op'] as const,
    buckets: [0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5],
    registers: [this.registry],
  });

  /** One DHCP exchange (see dhcp/exchange.ts); label values are lower-case like every other label here. */
  dhcpExchange(e: { message: string; outcome: string; seconds?: number }): void {
    this.dhcpMessages.inc({ message: e.message.toLowerCase(), outcome: e.outcome });
    if (e.outcome !== 'ignored' && e.seconds !== undefined)
      this.dhcpReplySeconds.observe({ message: e.message.toLowerCase() }, e.seconds);
  }

  /** A DHCP server packet event; malformed ones also count as a message, there being no exchange for them. */
  dhcpPacket(kind: 'received' | 'malformed' | 'replied', reason?: string): void {
    this.dhcpPackets.inc({ kind, reason: reason ?? '' });
    if (kind === 'malformed') this.dhcpMessages.inc({ message: 'malformed', outcome: 'dropped' });
  }

  /** A boot decision; `source` is '' when the decision has none (an error, a TFTP transfer, a callback). */
  decision(stage: string, kind: string, source?: string): void {
    this.decisions.inc({ stage, kind, source: source ?? '' });
  }

  /** Reports a lease pool's usage on every scrape; returns a function that stops it. */
  watchPool(usage: () => PoolUsage[]): () => void {
    this.#pools.push(usage);
    return () => {
      this.#pools = this.#pools.filter((u) => u !== usage);
    };
  }

  #collectPools(): void {
    // Reset first: a subnet gone from the config must not keep its last value.
    this.poolAddresses.reset();
    for (const usage of this.#pools) {
      for (const u of usage()) {
        for (const state of POOL_STATES) this.poolAddresses.set({ subnet: u.subnet, state }, u[state]);
      }
    }
  }
}
