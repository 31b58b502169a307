/**
 * Power control's side of the CLI: one exit code per thing an operator (or a script around the CLI) does
 * differently — fix the record, the network, the password, the certificate, or try again later.
 */
import type { PowerResult } from '../core/power.ts';
import type { ErrorCode } from '../errors.ts';

export const POWER_EXIT_CODES: Partial<Record<ErrorCode, number>> = {
  POWER_NOT_CONFIGURED: 10,
  POWER_UNSUPPORTED: 11,
  POWER_SECRET: 12,
  POWER_UNREACHABLE: 13,
  POWER_AUTH: 14,
  POWER_CERT: 15,
  POWER_TIMEOUT: 16,
  POWER_FAILED: 17,
};

/** What was done, as `bootherd power` and `machines next --power-cycle` print it after the machine's id. */
export function formatPower(r: PowerResult): string {
  const how = `(${r.method}${r.netboot === undefined ? '' : r.netboot ? ', network boot once' : ', boot order unchanged'})`;
  return r.action === 'status' ? `power ${r.state} ${how}` : `power ${r.action} done ${how}`;
}
