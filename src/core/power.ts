/**
 * Power control: the one entry the CLI, the API and the UI call to switch a machine on, off or around, optionally
 * setting its next boot first ("reinstall this machine now"). The machine record comes through the inventory
 * service and every action that changes something, done or failed, is a `power` event on the machine's timeline;
 * `status` is a read (the UI asks on every visit of the machine page) and is not recorded.
 */
import { BootherdError } from '../errors.ts';
import type { EventBus } from '../events/bus.ts';
import type { Machine, NextAction } from '../model/types.ts';
import { driverFor, type PowerAction, type PowerState } from '../power/index.ts';
import type { InventoryService } from './inventory.ts';

export interface PowerResult {
  machine: string;
  action: PowerAction;
  method: string;
  /** For `status`: what the BMC reports. */
  state?: PowerState;
  /** With a next action: whether the BMC took the one-time network boot. */
  netboot?: boolean;
  nextAction?: NextAction;
}

export interface PowerDeps {
  inventory: InventoryService;
  events: EventBus;
  /** `<data_dir>/bmc-secrets`. */
  secretsDir: string;
  timeoutMs?: number;
  now?: () => Date;
}

export class PowerService {
  constructor(private readonly deps: PowerDeps) {}

  /**
   * Run `action` on machine `id`. With `next`, the next boot is set first and the BMC asked for a one-time network
   * boot, so a cycle boots what bootherd now serves (e.g. the installer once).
   */
  async run(id: string, action: PowerAction, next?: NextAction): Promise<PowerResult> {
    let machine = await this.deps.inventory.getMachine(id);
    if (next && action !== 'on' && action !== 'cycle')
      throw new BootherdError('VALIDATION', `next: a next action goes with on or cycle, not ${action}`, {
        field: 'next',
      });
    const result: PowerResult = { machine: id, action, method: Object.keys(machine.power ?? {})[0] ?? 'none' };
    try {
      const driver = driverFor(machine, {
        secretsDir: this.deps.secretsDir,
        ...(this.deps.timeoutMs === undefined ? {} : { timeoutMs: this.deps.timeoutMs }),
      });
      // Refused before anything changes: an install must not be left set for a cycle that cannot happen.
      const why = driver.unsupported?.(action);
      if (why) throw new BootherdError('POWER_UNSUPPORTED', why);
      if (next) {
        machine = await this.deps.inventory.setNextAction(id, next);
        result.nextAction = next;
        if (driver.prepareNetboot) result.netboot = await driver.prepareNetboot();
      }
      if (action === 'status') result.state = await driver.status();
      else await driver[action]();
    } catch (err) {
      const code = err instanceof BootherdError ? err.code : 'POWER_FAILED';
      if (action !== 'status')
        this.record(machine, { ...result, outcome: 'error', error: code, message: (err as Error).message });
      throw err;
    }
    if (action !== 'status') this.record(machine, { ...result, outcome: 'ok' });
    return result;
  }

  private record(machine: Machine, decision: Record<string, unknown>): void {
    const { machine: _, action, ...rest } = decision;
    this.deps.events.record({
      at: (this.deps.now?.() ?? new Date()).toISOString(),
      machineId: machine.id,
      mac: machine.macs[0] ?? '',
      stage: 'power',
      facts: {},
      decision: { kind: action, ...rest },
    });
  }
}
