/** DHCP leases, filterable by subnet and MAC, with Release. */
import { useEffect, useState } from 'preact/hooks';
import { del, enc, get, query } from '../api.ts';
import { dateTime, NONE, relTime } from '../format.ts';
import type { Lease, Page } from '../types.ts';
import { ErrorBanner, machineHref, useAuth, useNow } from '../ui.tsx';

export function Leases() {
  const { canWrite } = useAuth();
  const now = useNow(5000);
  const [draft, setDraft] = useState({ subnet: '', mac: '' });
  const [filters, setFilters] = useState(draft);
  const [items, setItems] = useState<Lease[]>([]);
  const [error, setError] = useState<unknown>(null);
  const [reload, setReload] = useState(0);

  useEffect(() => {
    let alive = true;
    get<Page<Lease>>(`/leases${query(filters)}`).then(
      (r) => {
        if (!alive) return;
        setItems(r.items);
        setError(null);
      },
      (err) => alive && setError(err),
    );
    return () => {
      alive = false;
    };
  }, [filters, reload]);

  async function release(ip: string) {
    try {
      await del(`/leases/${enc(ip)}`);
      setReload((n) => n + 1);
    } catch (err) {
      setError(err);
    }
  }

  return (
    <section>
      <div class="page-head">
        <h1>Leases</h1>
        <span class="muted">{items.length}</span>
      </div>
      <form
        class="filters"
        onSubmit={(e) => {
          e.preventDefault();
          setFilters({ ...draft });
        }}
      >
        <input
          type="search"
          placeholder="subnet 192.0.2.0/24"
          value={draft.subnet}
          data-testid="filter-subnet"
          onInput={(e) => setDraft({ ...draft, subnet: e.currentTarget.value })}
        />
        <input
          type="search"
          placeholder="MAC"
          value={draft.mac}
          data-testid="filter-mac"
          onInput={(e) => setDraft({ ...draft, mac: e.currentTarget.value })}
        />
        <button type="submit">Filter</button>
        <button type="button" onClick={() => setReload((n) => n + 1)}>
          Refresh
        </button>
      </form>
      <ErrorBanner error={error} />
      <table class="data">
        <thead>
          <tr>
            <th>IP</th>
            <th>MAC</th>
            <th>Hostname</th>
            <th>Machine</th>
            <th>State</th>
            <th>Expires</th>
            {canWrite && <th />}
          </tr>
        </thead>
        <tbody>
          {items.map((l) => (
            <tr key={l.ip} data-testid={`lease-row-${l.ip}`}>
              <td class="mono">{l.ip}</td>
              <td class="mono">{l.mac}</td>
              <td>{l.hostname ?? ''}</td>
              <td>{l.machineId ? <a href={machineHref(l.machineId)}>{l.machineId}</a> : NONE}</td>
              <td>
                <span class={`state state-${l.state}`}>{l.state}</span>
              </td>
              <td class="nowrap" title={dateTime(l.expiresAt)}>
                {relTime(l.expiresAt, now)}
              </td>
              {canWrite && (
                <td class="row-actions">
                  {(l.state === 'bound' || l.state === 'offered') && (
                    <button type="button" onClick={() => release(l.ip)} data-testid={`release-${l.ip}`}>
                      Release
                    </button>
                  )}
                </td>
              )}
            </tr>
          ))}
          {!items.length && !error && (
            <tr>
              <td colSpan={7} class="empty">
                No leases.
              </td>
            </tr>
          )}
        </tbody>
      </table>
    </section>
  );
}
