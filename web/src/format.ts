/** Pure formatting helpers: everything here returns plain strings, rendered by the pages as text nodes. */
import type { BootEvent, NextAction } from './types.ts';

export const NONE = '—';

export function formatNext(n: NextAction | null | undefined): string {
  if (!n) return NONE;
  switch (n.action) {
    case 'install':
      return n.profile ? `install:${n.profile}` : 'install';
    case 'profile':
      return `profile:${n.profile}`;
    case 'local':
    case 'menu':
      return n.action;
    default:
      return String((n as { action?: unknown }).action ?? NONE);
  }
}

/** "3 s ago", "5 min ago", "2 h ago", "4 d ago"; "never" without a time; "in 3 min" for the future. */
export function relTime(iso: string | undefined, now: number): string {
  if (!iso) return 'never';
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return iso;
  const d = Math.round((now - t) / 1000);
  const a = Math.abs(d);
  let s: string;
  if (a < 60) s = `${a} s`;
  else if (a < 3600) s = `${Math.floor(a / 60)} min`;
  else if (a < 86400) s = `${Math.floor(a / 3600)} h`;
  else s = `${Math.floor(a / 86400)} d`;
  return d >= 0 ? `${s} ago` : `in ${s}`;
}

const pad = (n: number, w = 2) => String(n).padStart(w, '0');

/** Local wall-clock time, HH:MM:SS.mmm; the date too when it is not today. */
export function clock(iso: string, withMs = true): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  const t = `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}${withMs ? `.${pad(d.getMilliseconds(), 3)}` : ''}`;
  const today = new Date();
  if (d.toDateString() === today.toDateString()) return t;
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${t}`;
}

export function dateTime(iso: string | undefined): string {
  if (!iso) return NONE;
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

export function stageLabel(stage: string): string {
  return stage === 'callback' || stage === 'power' ? stage : stage.toUpperCase();
}

export function bytes(n: unknown): string {
  if (typeof n !== 'number' || !Number.isFinite(n)) return '';
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 1024 * 1024 * 1024) return `${(n / 1024 / 1024).toFixed(1)} MiB`;
  return `${(n / 1024 / 1024 / 1024).toFixed(2)} GiB`;
}

const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);

/** One line saying what happened at this step of a boot. */
export function eventSummary(e: BootEvent): string {
  const d = e.decision ?? { kind: '?' };
  const parts: string[] = [];
  switch (e.stage) {
    case 'dhcp': {
      const msg = str(d.message);
      if (msg) parts.push(`${msg} → ${str(d.reply) ?? 'no reply'}`);
      else parts.push(d.kind);
      if (str(d.yiaddr)) parts.push(String(d.yiaddr));
      if (d.kind === 'ipxe-binary' && str(d.file)) parts.push(`file ${d.file}`);
      if (d.kind === 'script' && str(d.url)) parts.push(`script ${d.url}`);
      if (d.kind === 'ignore' && str(d.reason)) parts.push(`(${d.reason})`);
      break;
    }
    case 'tftp': {
      parts.push(str(d.file) ?? '?');
      const b = bytes(d.bytes);
      if (b) parts.push(b);
      parts.push(str(d.outcome) ?? (d.kind !== 'tftp' ? d.kind : ''));
      if (typeof d.ms === 'number') parts.push(`${d.ms} ms`);
      if (str(d.error)) parts.push(`(${d.error})`);
      break;
    }
    case 'http': {
      if (d.kind === 'asset') {
        parts.push(`asset ${str(d.file) ?? '?'}`);
        const b = bytes(d.bytes);
        if (b) parts.push(b);
      } else {
        parts.push(`script ${d.kind}`);
        if (str(d.profile)) parts.push(String(d.profile));
        if (Array.isArray(d.items)) parts.push(`[${d.items.map(String).join(', ')}]`);
        if (str(d.format)) parts.push(`(${d.format})`);
        if (d.consumed === true) parts.push('· one-shot consumed');
        if (str(d.source)) parts.push(`· ${d.source}`);
        if (str(d.reason)) parts.push(`(${d.reason})`);
      }
      break;
    }
    case 'power': {
      // kind is the action (on, off, cycle); method the BMC's kind (ipmi, redfish, wol).
      parts.push(`${d.kind}${str(d.method) ? ` via ${d.method}` : ''}`);
      const next = d.nextAction as { action?: string } | undefined;
      if (next?.action) parts.push(`next → ${next.action}`);
      if (d.netboot === true) parts.push('· network boot once');
      parts.push(d.outcome === 'error' ? `failed (${str(d.error) ?? '?'})` : 'done');
      break;
    }
    default: {
      parts.push(d.kind);
      if ('nextAction' in d) parts.push(`next → ${formatNext(d.nextAction as NextAction | null)}`);
      if (str(d.reason)) parts.push(`(${d.reason})`);
    }
  }
  return parts.filter(Boolean).join(' ');
}

/** "rack=a1, role=web" -> {rack:'a1', role:'web'}; throws on an entry without '='. */
export function parsePairs(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const raw of text.split(/[,\n]/)) {
    const item = raw.trim();
    if (!item) continue;
    const eq = item.indexOf('=');
    if (eq <= 0) throw new Error(`"${item}" is not key=value`);
    out[item.slice(0, eq).trim()] = item.slice(eq + 1).trim();
  }
  return out;
}

export function formatPairs(m: Record<string, string> | undefined, sep = ', '): string {
  return Object.entries(m ?? {})
    .map(([k, v]) => `${k}=${v}`)
    .join(sep);
}

/** "a, b\nc" -> ['a','b','c'] */
export function parseList(text: string): string[] {
  return text
    .split(/[,\n]/)
    .map((s) => s.trim())
    .filter(Boolean);
}
