/**
 * The one place a BMC password is read. References are resolved only when an action runs, and the value goes to
 * the driver and nowhere else: never into a record, an event, an error message or a log line.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BootherdError } from '../errors.ts';
import type { SecretRef } from '../model/types.ts';

/**
 * The password a reference names. Files live in `dir` (`<data_dir>/bmc-secrets`) and variables are named `BMC_*`
 * (validate.ts checks both shapes): whoever may write a machine record cannot point bootherd at its own keys.
 */
export function resolveSecret(ref: SecretRef, dir: string): string {
  if ('env' in ref) {
    const v = process.env[ref.env];
    if (v === undefined || v === '')
      throw new BootherdError('POWER_SECRET', `environment variable ${ref.env} (the BMC password) is not set`);
    return v;
  }
  const path = join(dir, ref.file);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    throw new BootherdError('POWER_SECRET', `cannot read the BMC password file ${path}: ${code}`);
  }
  // One trailing newline is what `echo pw > file` leaves; the password itself may have inner spaces.
  const pw = text.replace(/\r?\n$/, '');
  if (pw === '') throw new BootherdError('POWER_SECRET', `the BMC password file ${path} is empty`);
  return pw;
}
