/**
 * Health and metrics: open on every listener, for load balancers and Prometheus. `/healthz` also says when the
 * inventory file could not be applied, so a monitoring check sees what the log said at start.
 */
import type { FastifyInstance } from 'fastify';
import type { Metrics } from '../core/metrics.ts';

export interface ServerStatus {
  version: string;
  inventoryFile?: { path: string; error?: string; appliedAt?: string };
  services: { http: boolean; tftp: boolean; dhcp: 'off' | 'full' | 'proxy' };
}

export interface OpsDeps {
  metrics: Metrics;
  status?: () => ServerStatus;
}

export async function opsRoutes(app: FastifyInstance, deps: OpsDeps): Promise<void> {
  app.get('/healthz', async () => {
    const inv = deps.status?.().inventoryFile;
    // Still 200: the server serves what the store holds; the check shows the file needs fixing.
    return inv?.error ? { status: 'degraded', inventoryFile: inv } : { status: 'ok' };
  });
  app.get('/metrics', async (_req, reply) => {
    reply.type(deps.metrics.registry.contentType);
    return deps.metrics.registry.metrics();
  });
}
