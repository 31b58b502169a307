/** What every power method offers: the core (core/power.ts) calls these, whichever BMC or packet is behind them. */
export type PowerAction = 'on' | 'off' | 'cycle' | 'status';
export type PowerState = 'on' | 'off';

export interface PowerDriver {
  /** `ipmi`, `redfish` or `wol`: recorded with each event. */
  readonly method: string;
  on(): Promise<void>;
  off(): Promise<void>;
  /** Off and on again; a machine that is off is switched on. */
  cycle(): Promise<void>;
  status(): Promise<PowerState>;
  /** Why this method cannot do `action`, or undefined when it can: asked before anything is changed. */
  unsupported?(action: PowerAction): string | undefined;
  /**
   * Ask the firmware to boot from the network once (before a cycle for install). Resolves to false where the BMC
   * does not offer it: bootherd still serves the installer to a machine whose boot order starts with the network.
   */
  prepareNetboot?(): Promise<boolean>;
}

/** How long one BMC call may take before it is abandoned (a process killed, a request aborted). */
export const BMC_TIMEOUT_MS = 30_000;
