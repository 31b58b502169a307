/**
 * The API's JSON shapes (see the REST contract, /api/v1). Inventory records are the server's own model types
 * (type-only imports: nothing of the server is bundled); the wire views of events and facts are looser here.
 */
import type { MenuSettings, NextAction, PowerSpec } from '../../src/model/types.ts';

export type { BootSpec, Group, MenuSettings, NextAction, PowerSpec, Profile } from '../../src/model/types.ts';

export interface Facts {
  mac?: string;
  arch?: number;
  platform?: string;
  buildarch?: string;
  vendorClass?: string;
  userClass?: string;
  ip?: string;
  uuid?: string;
  serial?: string;
  hostname?: string;
  [k: string]: unknown;
}

export interface BootEvent {
  /** The log's id; absent on events from the live stream, which are sent before they are stored. */
  id?: number;
  at: string;
  machineId?: string;
  mac: string;
  stage: 'dhcp' | 'tftp' | 'http' | 'callback' | 'power';
  facts: Facts;
  decision: { kind: string; [k: string]: unknown };
}

export interface Machine {
  id: string;
  macs: string[];
  uuid?: string;
  serial?: string;
  hostname?: string;
  ip?: string;
  labels: Record<string, string>;
  profile?: string;
  group?: string;
  menu?: MenuSettings;
  variables?: Record<string, string>;
  nextAction?: NextAction;
  /** How bootherd switches the machine: references to passwords only, never a password. */
  power?: PowerSpec;
  lastSeen?: Facts & { at: string };
  lastEvent?: BootEvent;
}

export interface Lease {
  ip: string;
  mac: string;
  hostname?: string;
  state: 'offered' | 'bound' | 'released' | 'declined' | 'expired';
  expiresAt: string;
  machineId?: string;
}

export interface Discovered {
  mac: string;
  firstSeen: string;
  lastSeen: string;
  facts: Facts;
}

/** What POST/GET /machines/{id}/power answers. */
export interface PowerResult {
  machine: string;
  action: 'on' | 'off' | 'cycle' | 'status';
  method: string;
  state?: 'on' | 'off';
  netboot?: boolean;
  nextAction?: NextAction;
}

export type Scope = 'read' | 'write' | 'admin';

export interface WhoAmI {
  name: string;
  scope: Scope | string;
}

export interface Page<T> {
  items: T[];
  next?: string;
  total?: number;
}
