/**
 * The server registry: each `bootherd serve` writes its record to the shared store every second (its heartbeat) and
 * marks it stopped on a clean shutdown, so `bootherd servers` and GET /api/v1/servers show who serves the fleet, and
 * DHCP load balancing knows which servers are live (a dead one's clients move to the others once it turns stale).
 * Times are each server's own clock: keep them in NTP sync, or a skewed one looks stale (or alive for longer).
 */
import type { ServerRecord, Store } from '../store/types.ts';

export const HEARTBEAT_MS = 1000;
/**
 * Three missed heartbeats: a server this quiet is taken for dead (killed, hung, or cut off from the database) and the
 * others take its DHCP share. Short, because a wrong guess is cheap: a live server taken for dead only makes two
 * servers answer the same clients for a moment, and the store's lease claims keep their addresses apart.
 */
export const STALE_MS = 3000;

export type ServerStatus = 'alive' | 'stale' | 'stopped';
export interface ServerView extends ServerRecord {
  status: ServerStatus;
  /** Seconds since the last heartbeat. */
  age: number;
}

export function serverView(s: ServerRecord, now: Date): ServerView {
  const age = Math.max(0, now.getTime() - Date.parse(s.heartbeatAt));
  const status: ServerStatus = s.stoppedAt ? 'stopped' : age > STALE_MS ? 'stale' : 'alive';
  return { ...s, status, age: Math.round(age / 100) / 10 };
}

/** The servers sharing the DHCP clients that are alive at `now` (not stopped, a heartbeat within STALE_MS). */
export function liveDhcpServers(servers: ServerRecord[], now: Date): string[] {
  return servers.filter((s) => s.dhcpShare && serverView(s, now).status === 'alive').map((s) => s.id);
}

/**
 * Register and keep beating; returns the stop, which marks the record stopped. A failed beat is reported and the
 * next one tried: the database may be back by then.
 */
export async function startHeartbeat(
  store: Pick<Store, 'putServer'>,
  me: Omit<ServerRecord, 'startedAt' | 'heartbeatAt' | 'stoppedAt'>,
  onError: (err: Error) => void,
  now: () => Date = () => new Date(),
): Promise<() => Promise<void>> {
  const record: ServerRecord = { ...me, startedAt: now().toISOString(), heartbeatAt: now().toISOString() };
  await store.putServer(record);
  let beating: Promise<void> | undefined;
  const timer = setInterval(() => {
    beating ??= store
      .putServer({ ...record, heartbeatAt: now().toISOString() })
      .catch(onError)
      .finally(() => {
        beating = undefined;
      });
  }, HEARTBEAT_MS);
  timer.unref();
  return async () => {
    clearInterval(timer);
    await beating;
    const at = now().toISOString();
    await store.putServer({ ...record, heartbeatAt: at, stoppedAt: at });
  };
}
