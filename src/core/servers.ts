/**
 * The server registry: each `bootherd serve` writes its record to the shared store every 2 s (its heartbeat) and
 * marks it stopped on a clean shutdown, so `bootherd servers` and GET /api/v1/servers show who serves the fleet.
 * Times are each server's own clock: keep them in NTP sync, or a skewed one looks stale (or alive for longer).
 */
import type { ServerRecord, Store } from '../store/types.ts';

export const HEARTBEAT_MS = 2000;
/** Five missed heartbeats: a server this quiet is taken for dead (killed, hung, or cut off from the database). */
export const STALE_MS = 10_000;

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
