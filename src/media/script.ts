/**
 * Which iPXE script goes on boot media: DHCP on every NIC in turn (the default), a static address, or the
 * operator's own. Pure: every value is checked here or by the script builders before it reaches a script line.
 */
import { BootherdError } from '../errors.ts';
import { staticScript, tryEveryNicScript } from '../ipxe/scripts.ts';

export interface StaticChoice {
  /** ADDRESS/PREFIX, e.g. 192.0.2.50/24. */
  cidr: string;
  gateway: string;
  dns?: string;
  nic: number;
}

export type ScriptChoice =
  | { kind: 'dhcp'; bootUrl: string; nics: number }
  | ({ kind: 'static'; bootUrl: string } & StaticChoice)
  | { kind: 'custom'; text: string; source: string };

const refuse = (field: string, why: string): never => {
  throw new BootherdError('SCRIPT_VALUE', `${field}: ${why}`, { field });
};

/** Media may sit in a drawer for years: only http(s), and nothing iPXE would split or re-encode. */
export function bootUrl(value: string): string {
  if (!/^https?:\/\/[^/\s]\S*$/i.test(value)) refuse('url', `"${value}" is not an http(s) URL without whitespace`);
  // The default advertise address without a config is loopback, which no booting machine can reach.
  const host = new URL(value).hostname;
  if (host === 'localhost' || host === '[::1]' || /^127\./.test(host)) {
    refuse('url', `${value} is this host's loopback address: set http.advertise in the config or pass --url`);
  }
  return value;
}

export function parseCidr(value: string): { address: string; prefix: number } {
  const m = /^([^/\s]+)\/(\d{1,2})$/.exec(value);
  if (!m) return refuse('static', `"${value}" is not ADDRESS/PREFIX, e.g. 192.0.2.50/24`);
  return { address: m[1] ?? '', prefix: Number(m[2]) };
}

/** An operator's script goes in as written; it must at least be one, or iPXE would try to boot it as an image. */
export function customScript(text: string, source: string): string {
  if (!/^#!ipxe\s/.test(text)) refuse('script', `${source} does not start with "#!ipxe"`);
  if (text.includes('\0')) refuse('script', `${source} contains a NUL byte`);
  return text.endsWith('\n') ? text : `${text}\n`;
}

export function mediaScript(c: ScriptChoice): string {
  switch (c.kind) {
    case 'dhcp':
      return tryEveryNicScript({ bootUrl: bootUrl(c.bootUrl), maxNics: c.nics });
    case 'static': {
      const { address, prefix } = parseCidr(c.cidr);
      return staticScript({
        bootUrl: bootUrl(c.bootUrl),
        nic: c.nic,
        address,
        prefix,
        gateway: c.gateway,
        ...(c.dns !== undefined ? { dns: c.dns } : {}),
      });
    }
    case 'custom':
      return customScript(c.text, c.source);
  }
}

/**
 * A machine's own stick: its inventory record's static address (`ip` + `prefix`, `gateway`, `dns`) when it has one,
 * else the default DHCP script.
 */
export function machineChoice(
  m: { id: string; ip?: string; prefix?: number; gateway?: string; dns?: string },
  url: string,
): ScriptChoice {
  if (m.ip === undefined || m.prefix === undefined || m.gateway === undefined) {
    if (m.prefix !== undefined || m.gateway !== undefined)
      refuse('machine', `machine "${m.id}" needs ip, prefix and gateway for a static address`);
    return { kind: 'dhcp', bootUrl: url, nics: 8 };
  }
  return {
    kind: 'static',
    bootUrl: url,
    cidr: `${m.ip}/${m.prefix}`,
    gateway: m.gateway,
    nic: 0,
    ...(m.dns ? { dns: m.dns } : {}),
  };
}
