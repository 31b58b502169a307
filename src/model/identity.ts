/**
 * Identity hygiene: normalise MACs and UUIDs, and drop the placeholder values firmware ships with, so that two
 * machines with an unset SMBIOS UUID or serial are never taken for one (DESIGN.md §5).
 */

const MAC_RE =
  /^([0-9a-f]{2})[:-]?([0-9a-f]{2})[:-]?([0-9a-f]{2})[:-]?([0-9a-f]{2})[:-]?([0-9a-f]{2})[:-]?([0-9a-f]{2})$/i;

/** `52-54-00-AB-CD-EF`, `525400abcdef` or `52:54:00:ab:cd:ef` → `52:54:00:ab:cd:ef`; undefined if not a MAC. */
export function normalizeMac(value: string): string | undefined {
  const m = MAC_RE.exec(value.trim());
  return m ? m.slice(1, 7).join(':').toLowerCase() : undefined;
}

/** A link-layer address's octets (any length) as `52:54:00:ab:cd:ef`: lower-case hex, colon-separated. */
export function macFromBytes(b: Buffer): string {
  return b.toString('hex').replace(/(..)(?!$)/g, '$1:');
}

const UUID_RE = /^\{?([0-9a-f]{8})-?([0-9a-f]{4})-?([0-9a-f]{4})-?([0-9a-f]{4})-?([0-9a-f]{12})\}?$/i;

/** Canonical lower-case 8-4-4-4-12 UUID, or undefined if the value is not one or is a placeholder. */
export function normalizeUuid(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  const m = UUID_RE.exec(value.trim());
  if (!m) return undefined;
  const uuid = m.slice(1, 6).join('-').toLowerCase();
  return isPlaceholderUuid(uuid) ? undefined : uuid;
}

/** All one hex digit (all-zero, all-F, and the like) is what unset SMBIOS tables hold. */
export function isPlaceholderUuid(uuid: string): boolean {
  const hex = uuid.replace(/[^0-9a-f]/gi, '').toLowerCase();
  return hex.length !== 32 || /^(.)\1*$/.test(hex) || hex === '03000200040005000006000700080009';
}

const PLACEHOLDER_SERIALS = new Set([
  '',
  'none',
  'null',
  'n/a',
  'na',
  'unknown',
  'default string',
  'to be filled by o.e.m.',
  'to be set by oem',
  'system serial number',
  'chassis serial number',
  'not specified',
  'not applicable',
  'invalid',
  'serial',
  'oem',
  '0',
  '123456789',
]);

/** A serial that identifies nothing: an OEM filler string, or a run of one character (`0000`, `FFFF`, `....`). */
export function isPlaceholderSerial(serial: string): boolean {
  const s = serial.trim().toLowerCase();
  return PLACEHOLDER_SERIALS.has(s) || /^(.)\1*$/.test(s);
}

export function normalizeSerial(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  const s = value.trim();
  return isPlaceholderSerial(s) ? undefined : s;
}

export function normalizeHostname(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  const h = value.trim().toLowerCase();
  return h === '' || PLACEHOLDER_SERIALS.has(h) || h === 'localhost' ? undefined : h;
}
