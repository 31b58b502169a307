/** The SQL schema as kysely sees it (created by migrations.ts), shared by the query modules of the SQL store. */
import type { Generated, Kysely, Transaction } from 'kysely';

export interface Database {
  profiles: { name: string; doc: string };
  groups: { name: string; doc: string };
  machines: {
    id: string;
    doc: string;
    uuid: string | null;
    serial: string | null;
    hostname: string | null;
    next_action: string | null;
    last_seen: string | null;
    /** Canonical JSON of the `next` the last applied document named; written only by apply. */
    applied_next: string | null;
    /** Bumped by every write of the machine (optimistic locking); not by boot telemetry (last_seen). */
    version: Generated<number>;
  };
  machine_macs: { mac: string; machine_id: string };
  dhcp_leases: {
    ip: string;
    mac: string;
    client_id: string | null;
    hostname: string | null;
    state: string;
    expires_at: number;
    /** The server whose claim wrote it last (null: a blind commit, or a lease older than the column). */
    server: string | null;
  };
  boot_events: {
    id: Generated<number>;
    at: string;
    machine_id: string | null;
    mac: string;
    stage: string;
    facts: string;
    decision: string;
  };
  servers: {
    id: string;
    name: string;
    version: string;
    started_at: string;
    heartbeat_at: string;
    stopped_at: string | null;
    urls: string;
    /** 1 when it takes part in DHCP load balancing. */
    dhcp_share: number | null;
  };
  api_tokens: {
    id: string;
    name: string;
    scope: string;
    hash: string;
    created_at: string;
    last_used_at: string | null;
  };
}

/** The database or an open transaction on it. */
export type Db = Kysely<Database> | Transaction<Database>;
