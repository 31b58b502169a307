/** Fleet: every machine, filterable, paged, with last seen and last boot stage kept live from the event stream. */
import { useEffect, useRef, useState } from 'preact/hooks';
import { ApiError, enc, get, query } from '../api.ts';
import { eventSummary, formatNext, NONE, relTime, stageLabel } from '../format.ts';
import { NameSelect, useNames } from '../forms.tsx';
import { MachineForm } from '../MachineForm.tsx';
import { onBootEvent, onInventoryChange, onStreamState } from '../stream.ts';
import type { BootEvent, Machine, Page } from '../types.ts';
import { EmptyRow, ErrorBanner, Modal, machineHref, useAuth, useKeyedThrottle, useNow } from '../ui.tsx';

interface Filters {
  q: string;
  label: string;
  group: string;
  profile: string;
  seen: string;
}

const EMPTY: Filters = { q: '', label: '', group: '', profile: '', seen: '' };
const PAGE = 50;

export function LastStage({ e }: { e: BootEvent | undefined }) {
  if (!e) return <span class="muted">{NONE}</span>;
  return (
    <span>
      <span class={`stage stage-${e.stage}`}>{stageLabel(e.stage)}</span> {eventSummary(e)}
    </span>
  );
}

export function Fleet() {
  const { canWrite } = useAuth();
  const now = useNow();
  const [draft, setDraft] = useState<Filters>(EMPTY);
  const [filters, setFilters] = useState<Filters>(EMPTY);
  // cursors[i] is the cursor that loads page i; page 0 has none.
  const [cursors, setCursors] = useState<string[]>(['']);
  const [items, setItems] = useState<Machine[]>([]);
  const [next, setNext] = useState<string | undefined>();
  const [total, setTotal] = useState<number | undefined>();
  const [error, setError] = useState<unknown>(null);
  const [loading, setLoading] = useState(true);
  const [creating, setCreating] = useState(false);
  const [flash, setFlash] = useState<Machine | null>(null);
  const profiles = useNames('/profiles');
  const groups = useNames('/groups');
  const [reload, setReload] = useState(0);
  const itemsRef = useRef(items);
  itemsRef.current = items;

  const cursor = cursors[cursors.length - 1] ?? '';

  useEffect(() => {
    let alive = true;
    setLoading(true);
    get<Page<Machine>>(`/machines${query({ limit: PAGE, cursor, ...filters })}`).then(
      (r) => {
        if (!alive) return;
        setItems(r.items);
        setNext(r.next);
        setTotal(r.total);
        setError(null);
        setLoading(false);
      },
      (err) => {
        if (!alive) return;
        setError(err);
        setLoading(false);
      },
    );
    return () => {
      alive = false;
    };
  }, [filters, cursor, reload]);

  const refetch = useKeyedThrottle((id: string) => {
    get<Machine>(`/machines/${enc(id)}`).then(
      (m) => setItems((cur) => cur.map((x) => (x.id === m.id ? m : x))),
      (err) => {
        if (err instanceof ApiError && err.status === 404) setItems((cur) => cur.filter((x) => x.id !== id));
      },
    );
  }, 1000);

  useEffect(() => {
    const offEvent = onBootEvent((e) => {
      const row = itemsRef.current.find((m) => (e.machineId ? m.id === e.machineId : e.mac && m.macs.includes(e.mac)));
      if (!row) return;
      // Show it at once, then fetch the machine for what the event changed server-side (next action, last seen).
      setItems((cur) =>
        cur.map((m) => (m.id === row.id ? { ...m, lastEvent: e, lastSeen: { ...(m.lastSeen ?? {}), at: e.at } } : m)),
      );
      refetch(row.id);
    });
    // A machine written elsewhere (added, edited, removed): reload the page, at most once a second.
    let pending: ReturnType<typeof setTimeout> | undefined;
    const offChange = onInventoryChange((c) => {
      if (c.kind !== 'machine' && c.kind !== 'inventory') return;
      pending ??= setTimeout(() => {
        pending = undefined;
        setReload((n) => n + 1);
      }, 1000);
    });
    let first = true;
    const offState = onStreamState((s) => {
      if (s !== 'live') return;
      if (first) first = false;
      else setReload((n) => n + 1); // reconnected: catch up on what we missed
    });
    return () => {
      offEvent();
      offChange();
      offState();
      clearTimeout(pending);
    };
  }, []);

  function apply(e: Event) {
    e.preventDefault();
    setFilters({ ...draft });
    setCursors(['']);
  }

  const input = (k: keyof Filters, placeholder: string) => (
    <input
      type="search"
      placeholder={placeholder}
      value={draft[k]}
      data-testid={`filter-${k}`}
      onInput={(e) => setDraft({ ...draft, [k]: e.currentTarget.value })}
    />
  );

  const select = (k: keyof Filters, label: string, options: string[]) => (
    <NameSelect
      value={draft[k]}
      options={options}
      none={label}
      testid={`filter-${k}`}
      onChange={(e) => {
        const d = { ...draft, [k]: (e.currentTarget as HTMLSelectElement).value };
        setDraft(d);
        setFilters(d);
        setCursors(['']);
      }}
    />
  );

  return (
    <section>
      <div class="page-head">
        <h1>Fleet</h1>
        <span class="muted">{total !== undefined ? `${total} machine${total === 1 ? '' : 's'}` : ''}</span>
        <span class="spacer" />
        {canWrite && (
          <button type="button" class="primary" data-testid="new-machine" onClick={() => setCreating(true)}>
            New machine
          </button>
        )}
      </div>
      <form class="filters" onSubmit={apply}>
        {input('q', 'search id, MAC, hostname…')}
        {input('label', 'label k=v')}
        {select('group', 'any group', groups)}
        {select('profile', 'any profile', profiles)}
        {select('seen', 'seen: any', ['never', '1h', '24h', '7d'])}
        <button type="submit">Filter</button>
        <button
          type="button"
          onClick={() => {
            setDraft(EMPTY);
            setFilters(EMPTY);
            setCursors(['']);
          }}
        >
          Reset
        </button>
      </form>
      {flash && (
        <div class="banner ok">
          Created <a href={machineHref(flash.id)}>{flash.id}</a>
        </div>
      )}
      <ErrorBanner error={error} />
      <table class="data" data-testid="fleet">
        <thead>
          <tr>
            <th>ID</th>
            <th>MACs</th>
            <th>Profile / group</th>
            <th>Next action</th>
            <th>Last seen</th>
            <th>Last boot stage</th>
          </tr>
        </thead>
        <tbody>
          {items.map((m) => (
            <tr key={m.id} data-testid={`machine-row-${m.id}`}>
              <td>
                <a href={machineHref(m.id)} class="id">
                  {m.id}
                </a>
                {m.hostname && m.hostname !== m.id && <div class="sub">{m.hostname}</div>}
              </td>
              <td class="mono">
                {m.macs.map((mac) => (
                  <div key={mac}>{mac}</div>
                ))}
              </td>
              <td>
                {m.profile ?? (m.group ? <span class="muted">group </span> : NONE)}
                {!m.profile && m.group}
              </td>
              <td class="mono">
                <span class={m.nextAction ? `next next-${m.nextAction.action}` : 'muted'}>
                  {formatNext(m.nextAction)}
                </span>
              </td>
              <td title={m.lastSeen?.at ?? ''} class="nowrap">
                {relTime(m.lastSeen?.at, now)}
              </td>
              <td>
                <LastStage e={m.lastEvent} />
              </td>
            </tr>
          ))}
          {!loading && !items.length && !error && (
            <EmptyRow cols={6}>
              No machines{Object.values(filters).some(Boolean) ? ' match these filters' : ''}.
            </EmptyRow>
          )}
        </tbody>
      </table>
      <div class="pager">
        <button
          type="button"
          disabled={cursors.length < 2}
          onClick={() => setCursors(cursors.slice(0, -1))}
          data-testid="page-prev"
        >
          ← Previous
        </button>
        <span class="muted">page {cursors.length}</span>
        <button
          type="button"
          disabled={!next}
          onClick={() => next && setCursors([...cursors, next])}
          data-testid="page-next"
        >
          Next →
        </button>
      </div>
      {creating && (
        <Modal title="New machine" onClose={() => setCreating(false)}>
          <MachineForm
            initial={{}}
            onCancel={() => setCreating(false)}
            onSaved={(m) => {
              setCreating(false);
              setFlash(m);
              setReload((n) => n + 1);
            }}
          />
        </Modal>
      )}
    </section>
  );
}
