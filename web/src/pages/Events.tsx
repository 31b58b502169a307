/** Fleet-wide boot events, newest on top: the last 100 from the log, then live from the stream. */
import { useEffect, useRef, useState } from 'preact/hooks';
import { get } from '../api.ts';
import { clock, eventSummary, NONE, stageLabel } from '../format.ts';
import { eventKey, newestFirst, onBootEvent, onStreamState } from '../stream.ts';
import type { BootEvent, Page } from '../types.ts';
import { EmptyRow, ErrorBanner, machineHref } from '../ui.tsx';

const KEEP = 500;

export function Events() {
  const [items, setItems] = useState<BootEvent[]>([]); // newest first
  const [error, setError] = useState<unknown>(null);
  const [paused, setPaused] = useState(false);
  const [stage, setStage] = useState('');
  const itemsRef = useRef(items);
  const pausedRef = useRef<BootEvent[]>([]);
  const isPaused = useRef(false);
  isPaused.current = paused;

  function merge(incoming: BootEvent[]) {
    // By content, not id: live events have none, and the log's copy of one must not show twice.
    const seen = new Set(itemsRef.current.map(eventKey));
    const fresh = incoming.filter((e) => !seen.has(eventKey(e)));
    if (!fresh.length) return;
    const all = [...fresh, ...itemsRef.current].sort(newestFirst).slice(0, KEEP);
    itemsRef.current = all;
    setItems(all);
  }

  function load() {
    get<Page<BootEvent>>('/events?limit=100').then((r) => {
      merge(r.items);
      setError(null);
    }, setError);
  }

  useEffect(() => {
    load();
    const offEvent = onBootEvent((e) => {
      if (isPaused.current) pausedRef.current.push(e);
      else merge([e]);
    });
    let first = true;
    const offState = onStreamState((s) => {
      if (s !== 'live') return;
      if (first) first = false;
      else load();
    });
    return () => {
      offEvent();
      offState();
    };
  }, []);

  const shown = stage ? items.filter((e) => e.stage === stage) : items;

  return (
    <section>
      <div class="page-head">
        <h1>Events</h1>
        <span class="muted">live, newest first</span>
        <span class="spacer" />
        <select value={stage} onChange={(e) => setStage(e.currentTarget.value)} data-testid="filter-stage">
          <option value="">all stages</option>
          {['dhcp', 'tftp', 'http', 'callback', 'power'].map((s) => (
            <option key={s} value={s}>
              {stageLabel(s)}
            </option>
          ))}
        </select>
        <button
          type="button"
          data-testid="events-pause"
          onClick={() => {
            if (paused) {
              merge(pausedRef.current);
              pausedRef.current = [];
            }
            setPaused(!paused);
          }}
        >
          {paused ? 'Resume' : 'Pause'}
        </button>
      </div>
      <ErrorBanner error={error} />
      <table class="data" data-testid="events">
        <thead>
          <tr>
            <th>Time</th>
            <th>Machine / MAC</th>
            <th>Stage</th>
            <th>What happened</th>
          </tr>
        </thead>
        <tbody>
          {shown.map((e) => (
            <tr key={eventKey(e)} data-testid="event-row" data-stage={e.stage}>
              <td class="mono nowrap" title={e.at}>
                {clock(e.at)}
              </td>
              <td>
                {e.machineId ? (
                  <a href={machineHref(e.machineId)}>{e.machineId}</a>
                ) : (
                  <span class="mono">{e.mac || e.facts?.ip || NONE}</span>
                )}
              </td>
              <td>
                <span class={`stage stage-${e.stage}`}>{stageLabel(e.stage)}</span>
              </td>
              <td>{eventSummary(e)}</td>
            </tr>
          ))}
          {!shown.length && !error && <EmptyRow cols={4}>No events yet.</EmptyRow>}
        </tbody>
      </table>
    </section>
  );
}
