/**
 * What the CLI asks of a bootherd: the same operations whether it opens the local store through the core (on the
 * server itself) or talks to a remote server's REST API (`--server URL` + a token). Either way the request goes
 * through the one inventory service; the CLI never has a second path to the data.
 */
import { readFileSync } from 'node:fs';
import { request } from 'node:https';
import { isIP } from 'node:net';
import { connect, type TLSSocket } from 'node:tls';
import type { PowerResult } from '../core/power.ts';
import { type ServerView, serverView } from '../core/servers.ts';
import type { PublicToken } from '../core/tokens.ts';
import { BootherdError, ERRORS, type ErrorCode } from '../errors.ts';
import type { Core } from '../main.ts';
import type { ApplyResult, BootEvent, Inventory, Machine, NextAction, TokenScope } from '../model/types.ts';
import type { PowerAction } from '../power/index.ts';

export interface FleetClient {
  listMachines(): Promise<Machine[]>;
  getMachine(id: string): Promise<Machine>;
  setNextAction(id: string, action: NextAction | null): Promise<Machine>;
  /** Switch a machine on, off or around, or read its state; with `next`, its next boot is set first. */
  power(id: string, action: PowerAction, next?: NextAction): Promise<PowerResult>;
  apply(inventory: Inventory, prune: boolean): Promise<ApplyResult>;
  export(): Promise<Inventory>;
  events(filter: { machineId?: string; mac?: string; limit: number }): Promise<BootEvent[]>;
  createToken(name: string, scope: TokenScope): Promise<{ token: string; record: PublicToken }>;
  listTokens(): Promise<PublicToken[]>;
  revokeToken(id: string): Promise<void>;
  /** The servers sharing the store, with their last heartbeat. */
  listServers(): Promise<ServerView[]>;
  close(): Promise<void>;
}

export function localClient(core: Core): FleetClient {
  const { inventory, tokens } = core;
  return {
    listMachines: () => allPages((cursor) => inventory.listMachines({ limit: 500, ...(cursor ? { cursor } : {}) })),
    getMachine: (id) => inventory.getMachine(id),
    setNextAction: (id, a) => inventory.setNextAction(id, a),
    power: (id, action, next) => core.power.run(id, action, next),
    apply: (inv, prune) => inventory.apply(inv, prune),
    export: () => inventory.export(),
    events: async (f) => (await inventory.events(f)).items,
    createToken: async (name, scope) => {
      const { token, record } = await tokens.create(name, scope);
      const { hash: _, ...pub } = record;
      return { token, record: pub };
    },
    listTokens: () => tokens.list(),
    revokeToken: (id) => tokens.revoke(id),
    listServers: async () => {
      const now = new Date();
      return (await inventory.listServers()).map((s) => serverView(s, now));
    },
    close: () => core.close(),
  };
}

/** Follow `next` cursors to the end (bounded: a server that never stops paging is a bug, not a fleet). */
async function allPages(page: (cursor?: string) => Promise<{ items: Machine[]; next?: string }>): Promise<Machine[]> {
  const all: Machine[] = [];
  let cursor: string | undefined;
  for (let i = 0; i < 10_000; i++) {
    const p = await page(cursor);
    all.push(...p.items);
    if (!p.next) break;
    cursor = p.next;
  }
  return all;
}

export interface RemoteOptions {
  server: string;
  token: string;
  /** PEM file of the CA (or the self-signed certificate) to trust. */
  ca?: string;
  /** Pin the server certificate's SHA-256 fingerprint (as `serve` prints it) instead of a CA. */
  fingerprint?: string;
}

export function remoteClient(o: RemoteOptions): FleetClient {
  const base = new URL(o.server);
  if (base.protocol !== 'https:') {
    throw new BootherdError('TLS_REQUIRED', `--server must be an https:// URL (tokens never cross a network in clear)`);
  }
  const ca = o.ca ? readFileSync(o.ca, 'utf8') : undefined;
  const pin = o.fingerprint?.toUpperCase();
  /**
   * A pinned fingerprint replaces CA verification: finish the handshake, compare the certificate itself, and only
   * then hand the connection to the request, so neither the token nor the request reaches a server that fails.
   */
  const pinned = (pin: string): Promise<TLSSocket> =>
    new Promise((resolve, reject) => {
      const host = base.hostname.replace(/^\[(.*)\]$/, '$1');
      const socket = connect({
        host,
        port: Number(base.port || 443),
        ...(isIP(host) ? {} : { servername: host }),
        rejectUnauthorized: false,
      });
      socket.setTimeout(30_000, () => socket.destroy(new Error(`${o.server}: no TLS handshake in 30 s`)));
      socket.once('error', reject);
      socket.once('secureConnect', () => {
        socket.setTimeout(0);
        socket.off('error', reject);
        const fingerprint = socket.getPeerCertificate().fingerprint256;
        if (fingerprint?.toUpperCase() === pin) return resolve(socket);
        socket.destroy();
        reject(new BootherdError('TLS', `server certificate fingerprint ${fingerprint} is not ${pin}`));
      });
    });
  const call = async <T>(method: string, path: string, body?: unknown): Promise<T> => {
    const socket = pin ? await pinned(pin) : undefined;
    return new Promise((resolve, reject) => {
      const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
      const req = request(
        new URL(`/api/v1${path}`, base),
        {
          method,
          headers: {
            authorization: `Bearer ${o.token}`,
            accept: 'application/json',
            ...(payload ? { 'content-type': 'application/json', 'content-length': payload.length } : {}),
          },
          ...(ca ? { ca } : {}),
          ...(socket ? { createConnection: () => socket } : {}),
          timeout: 30_000,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            const status = res.statusCode ?? 0;
            if (status === 204) return resolve(undefined as T);
            let json: unknown;
            try {
              json = text ? JSON.parse(text) : undefined;
            } catch {
              return reject(new Error(`${method} ${path}: HTTP ${status}, not JSON: ${text.slice(0, 200)}`));
            }
            if (status >= 400) {
              const e = json as { error?: string; message?: string };
              const code = (e?.error && e.error in ERRORS ? e.error : 'BAD_REQUEST') as ErrorCode;
              return reject(new BootherdError(code, `${e?.message ?? `HTTP ${status}`} (${o.server})`));
            }
            resolve(json as T);
          });
        },
      );
      req.on('timeout', () => req.destroy(new Error(`${method} ${path}: no answer in 30 s`)));
      req.on('error', reject);
      req.end(payload);
    });
  };
  const id = encodeURIComponent;
  return {
    listMachines: () =>
      allPages((cursor) =>
        call<{ items: Machine[]; next?: string }>('GET', `/machines?limit=500${cursor ? `&cursor=${id(cursor)}` : ''}`),
      ),
    getMachine: (m) => call('GET', `/machines/${id(m)}`),
    setNextAction: (m, a) =>
      a ? call('PUT', `/machines/${id(m)}/next`, a) : call('DELETE', `/machines/${id(m)}/next`),
    power: (m, action, next) =>
      action === 'status' && !next
        ? call('GET', `/machines/${id(m)}/power`)
        : call('POST', `/machines/${id(m)}/power`, { action, ...(next ? { next } : {}) }),
    apply: (inv, prune) => call('POST', `/inventory${prune ? '?prune=true' : ''}`, inv),
    export: () => call('GET', '/inventory'),
    events: async (f) => {
      const q = `limit=${f.limit}`;
      const r = await call<{ items: BootEvent[] }>(
        'GET',
        f.machineId ? `/machines/${id(f.machineId)}/events?${q}` : `/events?${q}&mac=${id(f.mac ?? '')}`,
      );
      return r.items;
    },
    createToken: async (name, scope) => {
      const r = await call<PublicToken & { token: string }>('POST', '/tokens', { name, scope });
      const { token, ...record } = r;
      return { token, record };
    },
    listTokens: async () => (await call<{ items: PublicToken[] }>('GET', '/tokens')).items,
    revokeToken: (t) => call('DELETE', `/tokens/${id(t)}`),
    listServers: async () => (await call<{ items: ServerView[] }>('GET', '/servers')).items,
    close: async () => {},
  };
}
