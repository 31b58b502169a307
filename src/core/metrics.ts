/** Prometheus metrics shared by every front end; one registry per server instance so tests stay independent. */
import { Counter, Histogram, Registry } from 'prom-client';

export class Metrics {
  readonly registry = new Registry();
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
    buckets: [0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5],
    registers: [this.registry],
  });
  readonly decisions = new Counter({
    name: 'bootherd_boot_decisions_total',
    help: 'Boot policy decisions by stage and kind',
    labelNames: ['stage', 'kind'] as const,
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
  readonly tftpRetries = new Counter({
    name: 'bootherd_tftp_retries_total',
    help: 'TFTP retransmissions after a timeout',
    registers: [this.registry],
  });
  readonly dhcpPackets = new Counter({
    name: 'bootherd_dhcp_packets_total',
    help: 'DHCP packets: received, malformed, replied, dropped (with the reason)',
    labelNames: ['kind', 'reason'] as const,
    registers: [this.registry],
  });
}
