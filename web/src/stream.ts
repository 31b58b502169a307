/**
 * The live boot-event feed: one `GET /api/v1/events/stream` per tab, read with fetch() and a stream reader (an
 * EventSource cannot send the Authorization header), parsed as server-sent events, fanned out to the pages.
 * Drops reconnect with exponential backoff; a silent connection (no keepalive for 45 s) is treated as dropped.
 */
import { API, getToken, unauthorized } from './api.ts';
import type { BootEvent } from './types.ts';

export type StreamState = 'connecting' | 'live' | 'retrying' | 'off';

type EventListener = (e: BootEvent) => void;
/** An inventory write somewhere (another tab, the CLI, automation): `kind` machine, profile, group, inventory, lease. */
export interface InventoryChange {
  kind: string;
  id?: string;
  op: string;
}
type ChangeListener = (c: InventoryChange) => void;
type StateListener = (s: StreamState) => void;

const eventListeners = new Set<EventListener>();
const changeListeners = new Set<ChangeListener>();
const stateListeners = new Set<StateListener>();
let state: StreamState = 'off';
let controller: AbortController | undefined;
let retryTimer: ReturnType<typeof setTimeout> | undefined;
let attempt = 0;

const SILENCE_MS = 45_000;

function setState(s: StreamState): void {
  state = s;
  for (const l of stateListeners) l(s);
}

/**
 * What makes two copies of one event the same, whether it came from the log (with an id) or from the stream
 * (without): its time, stage, MAC and what was decided. Never the id, which only one of the two has.
 */
export function eventKey(e: BootEvent): string {
  const d = e.decision ?? {};
  const part = (v: unknown) => (typeof v === 'string' || typeof v === 'number' ? String(v) : '');
  return [e.at, e.stage, e.mac, part(d.kind), part(d.message), part(d.file), part(d.outcome)].join('|');
}

/** Newest first: by time, then by id where both have one. */
export function newestFirst(a: BootEvent, b: BootEvent): number {
  if (a.at !== b.at) return a.at < b.at ? 1 : -1;
  return (b.id ?? Number.MAX_SAFE_INTEGER) - (a.id ?? Number.MAX_SAFE_INTEGER);
}

export function streamState(): StreamState {
  return state;
}

export function onBootEvent(l: EventListener): () => void {
  eventListeners.add(l);
  return () => eventListeners.delete(l);
}

export function onInventoryChange(l: ChangeListener): () => void {
  changeListeners.add(l);
  return () => changeListeners.delete(l);
}

/** Listeners also hear 'live' after every reconnect: the moment to refetch what may have been missed. */
export function onStreamState(l: StateListener): () => void {
  stateListeners.add(l);
  return () => stateListeners.delete(l);
}

/** Incremental SSE parser: feed it decoded text, it calls back once per complete event. */
export class SseParser {
  private buf = '';
  private data: string[] = [];
  private event = '';

  constructor(private readonly dispatch: (event: string, data: string) => void) {}

  push(chunk: string): void {
    this.buf += chunk;
    for (;;) {
      const m = /\r\n|\r|\n/.exec(this.buf);
      if (!m) return;
      // A lone '\r' at the very end may be the first half of '\r\n': wait for more.
      if (m[0] === '\r' && m.index === this.buf.length - 1) return;
      const line = this.buf.slice(0, m.index);
      this.buf = this.buf.slice(m.index + m[0].length);
      this.line(line);
    }
  }

  private line(line: string): void {
    if (line === '') {
      if (this.data.length) this.dispatch(this.event || 'message', this.data.join('\n'));
      this.data = [];
      this.event = '';
      return;
    }
    if (line.startsWith(':')) return; // comment, e.g. keepalive
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'data') this.data.push(value);
    else if (field === 'event') this.event = value;
  }
}

function deliver(event: string, data: string): void {
  if (event !== 'boot' && event !== 'message' && event !== 'change') return;
  let parsed: unknown;
  try {
    parsed = JSON.parse(data);
  } catch {
    return;
  }
  if (event === 'change') {
    if (!parsed || typeof parsed !== 'object' || typeof (parsed as InventoryChange).kind !== 'string') return;
    for (const l of changeListeners) l(parsed as InventoryChange);
    return;
  }
  if (!parsed || typeof parsed !== 'object' || typeof (parsed as BootEvent).stage !== 'string') return;
  const e = parsed as BootEvent;
  for (const l of eventListeners) {
    try {
      l(e);
    } catch (err) {
      console.error(err);
    }
  }
}

async function connect(ac: AbortController): Promise<void> {
  const token = getToken();
  if (!token) return;
  setState(attempt === 0 ? 'connecting' : 'retrying');
  let silence: ReturnType<typeof setTimeout> | undefined;
  const arm = () => {
    clearTimeout(silence);
    silence = setTimeout(() => ac.abort(), SILENCE_MS);
  };
  try {
    arm();
    const res = await fetch(`${API}/events/stream`, {
      headers: { Authorization: `Bearer ${token}`, Accept: 'text/event-stream' },
      cache: 'no-store',
      credentials: 'omit',
      signal: ac.signal,
    });
    if (res.status === 401) {
      clearTimeout(silence);
      unauthorized();
      return;
    }
    if (!res.ok || !res.body) throw new Error(`stream: HTTP ${res.status}`);
    attempt = 0;
    setState('live');
    const reader = res.body.getReader();
    const decoder = new TextDecoder();
    const parser = new SseParser(deliver);
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      arm();
      parser.push(decoder.decode(value, { stream: true }));
    }
  } catch {
    // dropped, refused or silent: retry below
  } finally {
    clearTimeout(silence);
  }
  if (controller !== ac) return; // stopped, or replaced by a newer connection
  attempt++;
  setState('retrying');
  const delay = Math.min(30_000, 1000 * 2 ** Math.min(attempt - 1, 5)) * (0.75 + Math.random() * 0.5);
  retryTimer = setTimeout(() => {
    if (controller !== ac) return;
    const next = new AbortController();
    controller = next;
    void connect(next);
  }, delay);
}

export function startStream(): void {
  stopStream();
  attempt = 0;
  const ac = new AbortController();
  controller = ac;
  void connect(ac);
}

export function stopStream(): void {
  clearTimeout(retryTimer);
  const ac = controller;
  controller = undefined;
  ac?.abort();
  if (state !== 'off') setState('off');
}
