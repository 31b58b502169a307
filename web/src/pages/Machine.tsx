/** One machine: its record, its next action (with the buttons that set it), the script it would get, its boot timeline. */
import { useEffect, useRef, useState } from 'preact/hooks';
import { del, enc, errorText, get } from '../api.ts';
import { clock, dateTime, eventSummary, formatPairs, NONE, relTime, stageLabel } from '../format.ts';
import { MachineForm } from '../MachineForm.tsx';
import { eventKey, onBootEvent, onStreamState } from '../stream.ts';
import type { BootEvent, Facts, Machine as M, Page } from '../types.ts';
import { ConfirmButton, EmptyRow, ErrorBanner, Modal, navigate, useAuth, useKeyedThrottle, useNow } from '../ui.tsx';
import { MachineNext } from './MachineNext.tsx';
import { MachinePower } from './MachinePower.tsx';

/**
 * Where the latest boot starts: a DHCP request from a PXE-ish client (firmware PXE, UEFI HTTP boot, iPXE, or one
 * that names no class) right after something that was not DHCP/TFTP. The PXE -> iPXE chainload stays one boot.
 */
export function isBootStart(e: BootEvent, prev: BootEvent | undefined): boolean {
  if (e.stage !== 'dhcp') return false;
  if (prev && (prev.stage === 'dhcp' || prev.stage === 'tftp')) return false;
  const f: Facts = e.facts ?? {};
  if (f.userClass === 'iPXE') return true;
  if (!f.vendorClass) return true;
  return f.vendorClass.startsWith('PXEClient') || f.vendorClass.startsWith('HTTPClient');
}

function latestBoot(events: BootEvent[]): BootEvent[] {
  for (let i = events.length - 1; i > 0; i--) {
    if (isBootStart(events[i] as BootEvent, events[i - 1])) return events.slice(i);
  }
  return events;
}

function delta(e: BootEvent, prev: BootEvent | undefined): string {
  if (!prev) return '';
  const d = (Date.parse(e.at) - Date.parse(prev.at)) / 1000;
  if (!Number.isFinite(d)) return '';
  return d < 10 ? `+${d.toFixed(2)} s` : d < 600 ? `+${d.toFixed(1)} s` : `+${Math.round(d)} s`;
}

function Timeline({ events }: { events: BootEvent[] }) {
  return (
    <table class="data timeline" data-testid="timeline">
      <thead>
        <tr>
          <th>Time</th>
          <th>Stage</th>
          <th>What happened</th>
          <th class="num">Since previous</th>
        </tr>
      </thead>
      <tbody>
        {events.flatMap((e, i) => {
          const prev = events[i - 1];
          const rows = [];
          if (i > 0 && isBootStart(e, prev))
            rows.push(
              <tr key={`b${eventKey(e)}`} class="boot-divider">
                <td colSpan={4}>new boot</td>
              </tr>,
            );
          rows.push(
            <tr key={eventKey(e)} data-testid="timeline-row" data-stage={e.stage}>
              <td class="mono nowrap" title={e.at}>
                {clock(e.at)}
              </td>
              <td>
                <span class={`stage stage-${e.stage}`}>{stageLabel(e.stage)}</span>
              </td>
              <td>{eventSummary(e)}</td>
              <td class="num mono">{delta(e, prev)}</td>
            </tr>,
          );
          return rows;
        })}
        {!events.length && <EmptyRow cols={4}>No boot events yet.</EmptyRow>}
      </tbody>
    </table>
  );
}

export function Machine({ id }: { id: string }) {
  const { canWrite } = useAuth();
  const now = useNow();
  const [m, setM] = useState<M | null>(null);
  const [loadError, setLoadError] = useState<unknown>(null);
  const [actionError, setActionError] = useState<unknown>(null);
  const [events, setEvents] = useState<BootEvent[]>([]); // oldest first
  const [allEvents, setAllEvents] = useState(false);
  const [format, setFormat] = useState<'ipxe' | 'pxelinux'>('ipxe');
  const [preview, setPreview] = useState<{ script: string; decision?: unknown } | null>(null);
  const [previewError, setPreviewError] = useState<unknown>(null);
  const [previewTick, setPreviewTick] = useState(0);
  const [editing, setEditing] = useState(false);
  // Events that arrived live, shown after the loaded boot even if they start a new one (by eventKey: live
  // events carry no id).
  const [liveFrom, setLiveFrom] = useState<string | null>(null);
  const eventsRef = useRef<BootEvent[]>([]);
  const idRef = useRef(id);
  idRef.current = id;

  function loadMachine() {
    get<M>(`/machines/${enc(id)}`).then(
      (r) => {
        if (idRef.current !== id) return;
        setM(r);
        setLoadError(null);
      },
      (err) => idRef.current === id && setLoadError(err),
    );
  }

  function loadEvents() {
    get<Page<BootEvent>>(`/machines/${enc(id)}/events?limit=100`).then(
      (r) => {
        if (idRef.current !== id) return;
        const loaded = r.items.slice().reverse();
        const keys = new Set(loaded.map(eventKey));
        const newest = loaded[loaded.length - 1]?.at ?? ''; // oldest first
        // Keep live events that raced ahead of this load (not yet in the log when it was read).
        const extra = eventsRef.current.filter((e) => e.at >= newest && !keys.has(eventKey(e)));
        eventsRef.current = [...loaded, ...extra];
        setEvents(eventsRef.current);
        setLiveFrom(extra[0] ? eventKey(extra[0]) : null);
      },
      () => {},
    );
  }

  useEffect(() => {
    setM(null);
    eventsRef.current = [];
    setEvents([]);
    setLiveFrom(null);
    setPreview(null);
    setEditing(false);
    loadMachine();
    loadEvents();
  }, [id]);

  useEffect(() => {
    let alive = true;
    get<{ script: string; decision?: unknown }>(`/machines/${enc(id)}/preview?format=${format}`).then(
      (r) => {
        if (!alive) return;
        setPreview(r);
        setPreviewError(null);
      },
      (err) => alive && setPreviewError(err),
    );
    return () => {
      alive = false;
    };
  }, [id, format, previewTick]);

  const refetch = useKeyedThrottle(() => {
    loadMachine();
    setPreviewTick((n) => n + 1);
  }, 1000);

  useEffect(() => {
    const offEvent = onBootEvent((e) => {
      const mine = e.machineId ? e.machineId === id : e.mac !== '' && (m?.macs ?? []).includes(e.mac);
      if (!mine) return;
      const key = eventKey(e);
      if (eventsRef.current.some((x) => eventKey(x) === key)) return;
      eventsRef.current = [...eventsRef.current, e];
      setEvents(eventsRef.current);
      setLiveFrom((lf) => lf ?? key);
      refetch(id);
    });
    let first = true;
    const offState = onStreamState((s) => {
      if (s !== 'live') return;
      if (first) first = false;
      else {
        loadMachine();
        loadEvents();
      }
    });
    return () => {
      offEvent();
      offState();
    };
  }, [id, m?.macs.join(',')]);

  async function remove() {
    setActionError(null);
    try {
      await del(`/machines/${enc(id)}`);
      navigate('#/');
    } catch (err) {
      setActionError(err);
    }
  }

  if (loadError && !m)
    return (
      <section>
        <div class="page-head">
          <h1>
            <a href="#/">Fleet</a> / <span class="mono">{id}</span>
          </h1>
        </div>
        <ErrorBanner error={loadError} />
      </section>
    );
  if (!m) return <div class="loading">Loading…</div>;

  // Split off the live tail so a boot that begins while the page is open is appended, not swapped in.
  const liveIdx = liveFrom === null ? events.length : events.findIndex((e) => eventKey(e) === liveFrom);
  const loaded = events.slice(0, liveIdx < 0 ? events.length : liveIdx);
  const live = liveIdx < 0 ? [] : events.slice(liveIdx);
  const shown = allEvents ? events : [...latestBoot(loaded), ...live];
  const seen = m.lastSeen;

  const row = (label: string, value: string | undefined, testid?: string, mono = false) => (
    <tr>
      <th>{label}</th>
      <td class={mono ? 'mono' : undefined} data-testid={testid}>
        {value === undefined || value === '' ? NONE : value}
      </td>
    </tr>
  );

  return (
    <section>
      <div class="page-head">
        <h1>
          <a href="#/">Fleet</a> / <span class="mono">{m.id}</span>
        </h1>
        <span class="spacer" />
        {canWrite && (
          <>
            <button type="button" onClick={() => setEditing(true)} data-testid="btn-edit">
              Edit
            </button>
            <ConfirmButton label="Delete" confirm="Really delete?" onConfirm={remove} testid="btn-delete" />
          </>
        )}
      </div>

      <MachineNext
        machine={m}
        canWrite={canWrite}
        onChanged={(r) => {
          if (r) setM(r);
          else loadMachine();
          setPreviewTick((n) => n + 1);
        }}
      />
      <ErrorBanner error={actionError} />
      {m.power && <MachinePower machine={m} power={m.power} canWrite={canWrite} onChanged={loadMachine} />}

      <div class="cols">
        <div class="col">
          <h2>Machine</h2>
          <table class="kv">
            <tbody>
              {row('Hostname', m.hostname, 'machine-hostname-value')}
              {row('MACs', m.macs.join(', '), 'machine-macs-value', true)}
              {row('IP reservation', m.ip, undefined, true)}
              {row('UUID', m.uuid, undefined, true)}
              {row('Serial', m.serial)}
              {row('Profile', m.profile)}
              {row('Group', m.group)}
              {row('Labels', formatPairs(m.labels))}
              {m.menu && row('Menu', `timeout ${m.menu.timeout ?? NONE}, default ${m.menu.default ?? NONE}`)}
              {m.variables && row('Variables', formatPairs(m.variables))}
            </tbody>
          </table>
          <h2>Last seen</h2>
          <table class="kv">
            <tbody>
              {row('When', seen ? `${relTime(seen.at, now)} (${dateTime(seen.at)})` : 'never')}
              {seen && row('IP', seen.ip, undefined, true)}
              {seen && row('Arch', seen.arch === undefined ? undefined : String(seen.arch))}
              {seen && row('Platform', [seen.platform, seen.buildarch].filter(Boolean).join(' / '))}
              {seen && row('Vendor class', seen.vendorClass, undefined, true)}
              {seen && row('User class', seen.userClass, undefined, true)}
              {seen?.hostname && row('Hostname (reported)', seen.hostname)}
            </tbody>
          </table>
        </div>
        <div class="col">
          <div class="section-head">
            <h2>Script preview</h2>
            <span class="seg">
              <button
                type="button"
                class={format === 'ipxe' ? 'on' : ''}
                onClick={() => setFormat('ipxe')}
                data-testid="preview-format-ipxe"
              >
                iPXE
              </button>
              <button
                type="button"
                class={format === 'pxelinux' ? 'on' : ''}
                onClick={() => setFormat('pxelinux')}
                data-testid="preview-format-pxelinux"
              >
                pxelinux
              </button>
            </span>
          </div>
          {previewError ? (
            <div class="banner error">{errorText(previewError)}</div>
          ) : (
            <pre class="script" data-testid="preview">
              {preview ? preview.script : 'Loading…'}
            </pre>
          )}
          {preview?.decision !== undefined && (
            <div class="decision mono" title="decision">
              {JSON.stringify(preview.decision)}
            </div>
          )}
        </div>
      </div>

      <div class="section-head">
        <h2>Boot timeline</h2>
        <span class="muted">{allEvents ? `last ${events.length} events` : 'latest boot, oldest first'}</span>
        <span class="spacer" />
        <label class="check">
          <input
            type="checkbox"
            checked={allEvents}
            onChange={(e) => setAllEvents(e.currentTarget.checked)}
            data-testid="timeline-all"
          />{' '}
          show all
        </label>
      </div>
      <Timeline events={shown} />

      {editing && (
        <Modal title={`Edit ${m.id}`} onClose={() => setEditing(false)}>
          <MachineForm
            initial={m}
            existing={m}
            onCancel={() => setEditing(false)}
            onSaved={(r) => {
              setEditing(false);
              setM(r);
              setPreviewTick((n) => n + 1);
            }}
          />
        </Modal>
      )}
    </section>
  );
}
