/**
 * An announced write to the inventory: what InventoryService.changes carries to every cache (the boot service's
 * catalog and machine index, the DHCP reservations, open web UI pages), ours or another server's.
 */
export type ChangeKind = 'machine' | 'profile' | 'group' | 'inventory' | 'lease';
export interface Change {
  kind: ChangeKind;
  /** The record's id or name; absent for a whole-inventory apply. */
  id?: string;
  op: 'put' | 'delete' | 'apply';
  /** Made through another server sharing the store (its id in `server`), heard from the store's change feed. */
  remote?: boolean;
  server?: string;
}
