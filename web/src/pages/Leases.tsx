/** DHCP leases, filterable by subnet and MAC, with Release. */
import { useState } from 'preact/hooks';
import { enc, query } from '../api.ts';
import { dateTime, NONE, relTime } from '../format.ts';
import type { Lease } from '../types.ts';
import { EmptyRow, ErrorBanner, machineHref, useAuth, useListing, useNow } from '../ui.tsx';

export function Leases() {
  const { canWrite } = useAuth();
  const now = useNow(5000);
  const [draft, setDraft] = useState({ subnet: '', mac: '' });
  const [filters, setFilters] = useState(draft);
  const { items, error, reload, remove } = useListing<Lease>(`/leases${query(filters)}`);

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
        <button type="button" onClick={reload}>
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
                    <button
                      type="button"
                      onClick={() => remove(`/leases/${enc(l.ip)}`)}
                      data-testid={`release-${l.ip}`}
                    >
                      Release
                    </button>
                  )}
                </td>
              )}
            </tr>
          ))}
          {!items.length && !error && <EmptyRow cols={7}>No leases.</EmptyRow>}
        </tbody>
      </table>
    </section>
  );
}
