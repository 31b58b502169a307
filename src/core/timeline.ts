/**
 * The machines' timelines: every decision and transfer becomes a boot event (batched to the store by the event bus),
 * with the facts the machine told merged onto what it told before. TFTP and asset requests carry only an address:
 * they are placed on the timeline of whoever was last answered on it.
 */
import type { EventBus } from '../events/bus.ts';
import type { BootEvent, ClientFacts, Machine, SeenFacts } from '../model/types.ts';
import type { Metrics } from './metrics.ts';

/** Addresses remembered for attributing TFTP and asset requests; the oldest go first. Only addresses a client was
 * answered on (or fetched from) get here, so a flood of packets naming random addresses does not fill it. */
const MAX_ADDRESSES = 65_536;
/** Machines whose last-seen facts this process wrote, remembered; the oldest go first (only inventory machines). */
const MAX_SEEN = 16_384;

export type Stage = 'dhcp' | 'tftp' | 'http' | 'callback';

export class BootTimeline {
  /** Recent client addresses → who used them (insertion order = age). */
  private readonly byAddress = new Map<string, { mac: string; machineId?: string }>();
  /** The last-seen facts recorded per machine: the machine a lookup returns may be a copy older than them (the
   * in-memory index is not told of boot telemetry), and a merge onto it would lose what the last step learned. */
  private readonly seen = new Map<string, SeenFacts>();
  /** The entry byAddress set last (its newest). */
  private newestAddress?: { ip: string; who: { mac: string; machineId?: string } };

  constructor(
    private readonly events: EventBus,
    private readonly metrics: Metrics,
    private readonly now: () => Date,
  ) {}

  /** Who was last answered on (or fetched from) an address. */
  who(ip: string): { mac: string; machineId?: string } | undefined {
    return this.byAddress.get(ip);
  }

  record(
    stage: Stage,
    rawFacts: ClientFacts,
    found: Machine | undefined,
    decision: Record<string, unknown>,
    remember = true,
  ): void {
    // An exchange report is the timeline's record of a decision already counted when it was made.
    if (!decision.message)
      this.metrics.decision(
        stage,
        String(decision.kind),
        typeof decision.source === 'string' ? decision.source : undefined,
      );
    const at = this.now().toISOString();
    let facts = rawFacts;
    let machineId = found?.id;
    if (facts.ip && facts.mac) {
      if (remember) this.rememberAddress(facts.ip, facts.mac, machineId);
    } else if (facts.ip && !facts.mac) {
      // TFTP and asset requests carry only an address: attribute them to whoever last booted from it.
      const who = this.byAddress.get(facts.ip);
      if (who) {
        facts = { ...facts, mac: who.mac };
        machineId ??= who.machineId;
      }
    }
    const event: BootEvent = machineId
      ? { at, machineId, mac: facts.mac, stage, facts, decision }
      : { at, mac: facts.mac, stage, facts, decision };
    // Facts from DHCP and HTTP complement each other (arch vs platform): merge onto what was seen before.
    let seen: { machineId: string; facts: SeenFacts } | undefined;
    if (found && stage !== 'callback') {
      const mine = this.seen.get(found.id);
      // ISO times compare as strings; the store's copy wins when another server saw the machine since.
      const before = mine && (!found.lastSeen || mine.at >= found.lastSeen.at) ? mine : found.lastSeen;
      seen = { machineId: found.id, facts: { ...before, ...facts, at } };
      this.seen.delete(found.id);
      this.seen.set(found.id, seen.facts);
      if (this.seen.size > MAX_SEEN) this.seen.delete(this.seen.keys().next().value as string);
    }
    this.events.record(event, seen);
  }

  private rememberAddress(ip: string, mac: string, machineId: string | undefined): void {
    // Already the newest entry, for the same client (its steps often come back to back): nothing to move or replace.
    const newest = this.newestAddress;
    if (newest?.ip === ip && newest.who.mac === mac && newest.who.machineId === machineId) return;
    const who = machineId ? { mac, machineId } : { mac };
    this.byAddress.delete(ip);
    this.byAddress.set(ip, who);
    this.newestAddress = { ip, who };
    if (this.byAddress.size > MAX_ADDRESSES) this.byAddress.delete(this.byAddress.keys().next().value as string);
  }

  /** Write boot events and last-seen facts still queued (before closing the store). */
  flush(): Promise<void> {
    return this.events.flush();
  }
}
