/** The driver for a machine's power block; the password is resolved here, at the moment of use (secrets.ts). */
import { BootherdError } from '../errors.ts';
import type { Machine } from '../model/types.ts';
import { ipmiDriver } from './ipmi.ts';
import { redfishDriver } from './redfish.ts';
import { resolveSecret } from './secrets.ts';
import type { PowerDriver } from './types.ts';
import { wolDriver } from './wol.ts';

export type { PowerAction, PowerState } from './types.ts';

export interface DriverOptions {
  /** `<data_dir>/bmc-secrets`: where `{file: name}` password references live. */
  secretsDir: string;
  timeoutMs?: number;
}

export function driverFor(machine: Machine, o: DriverOptions): PowerDriver {
  const p = machine.power;
  if (!p)
    throw new BootherdError(
      'POWER_NOT_CONFIGURED',
      `machine "${machine.id}" has no power block (ipmi, redfish or wol)`,
    );
  const timeout = o.timeoutMs === undefined ? {} : { timeoutMs: o.timeoutMs };
  if ('ipmi' in p) return ipmiDriver(p.ipmi, { password: resolveSecret(p.ipmi.password, o.secretsDir), ...timeout });
  if ('redfish' in p)
    return redfishDriver(p.redfish, { password: resolveSecret(p.redfish.password, o.secretsDir), ...timeout });
  const mac = p.wol.mac ?? machine.macs[0];
  if (!mac) throw new BootherdError('POWER_NOT_CONFIGURED', `machine "${machine.id}" has no MAC to wake`);
  return wolDriver(p.wol.interface, mac);
}
