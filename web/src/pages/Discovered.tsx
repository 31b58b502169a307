/** MACs seen booting that match no machine, with "Add to inventory" (the new-machine form, prefilled). */
import { useState } from 'preact/hooks';
import { dateTime, NONE, relTime } from '../format.ts';
import { MachineForm } from '../MachineForm.tsx';
import type { Discovered as D, Machine } from '../types.ts';
import { EmptyRow, ErrorBanner, Modal, machineHref, useAuth, useListing, useNow } from '../ui.tsx';

/** A valid machine id from the reported hostname, else from the MAC (`52-54-00-…`). */
export function suggestId(d: D): string {
  const host = (d.facts.hostname ?? '').split('.')[0] ?? '';
  const clean = host
    .replace(/[^A-Za-z0-9._-]/g, '-')
    .replace(/^[^A-Za-z0-9]+/, '')
    .slice(0, 63);
  return clean || d.mac.toLowerCase().replace(/:/g, '-');
}

export function Discovered() {
  const { canWrite } = useAuth();
  const now = useNow();
  const { items, error, reload } = useListing<D>('/discovered');
  const [adding, setAdding] = useState<D | null>(null);
  const [flash, setFlash] = useState<Machine | null>(null);

  const cell = (v: unknown, mono = false) => (
    <td class={mono ? 'mono' : undefined}>{v === undefined || v === '' ? NONE : String(v)}</td>
  );

  return (
    <section>
      <div class="page-head">
        <h1>Discovered</h1>
        <span class="muted">MACs seen booting that match no machine</span>
        <span class="spacer" />
        <button type="button" onClick={reload}>
          Refresh
        </button>
      </div>
      {flash && (
        <div class="banner ok">
          Added <a href={machineHref(flash.id)}>{flash.id}</a>
        </div>
      )}
      <ErrorBanner error={error} />
      <table class="data" data-testid="discovered">
        <thead>
          <tr>
            <th>MAC</th>
            <th>First seen</th>
            <th>Last seen</th>
            <th>Arch</th>
            <th>Vendor class</th>
            <th>User class</th>
            <th>UUID</th>
            <th>Serial</th>
            <th>Hostname</th>
            {canWrite && <th />}
          </tr>
        </thead>
        <tbody>
          {items.map((d) => (
            <tr key={d.mac} data-testid={`discovered-row-${d.mac}`}>
              {cell(d.mac, true)}
              <td class="nowrap" title={dateTime(d.firstSeen)}>
                {relTime(d.firstSeen, now)}
              </td>
              <td class="nowrap" title={dateTime(d.lastSeen)}>
                {relTime(d.lastSeen, now)}
              </td>
              {cell(d.facts.arch)}
              {cell(d.facts.vendorClass, true)}
              {cell(d.facts.userClass, true)}
              {cell(d.facts.uuid, true)}
              {cell(d.facts.serial)}
              {cell(d.facts.hostname)}
              {canWrite && (
                <td class="row-actions">
                  <button type="button" onClick={() => setAdding(d)} data-testid={`add-${d.mac}`}>
                    Add to inventory
                  </button>
                </td>
              )}
            </tr>
          ))}
          {!items.length && !error && <EmptyRow cols={10}>Nothing unknown has booted.</EmptyRow>}
        </tbody>
      </table>
      {adding && (
        <Modal title="Add to inventory" onClose={() => setAdding(null)}>
          <MachineForm
            initial={{
              id: suggestId(adding),
              macs: [adding.mac],
              uuid: adding.facts.uuid,
              serial: adding.facts.serial,
              hostname: adding.facts.hostname,
              labels: {},
            }}
            onCancel={() => setAdding(null)}
            onSaved={(m) => {
              setAdding(null);
              setFlash(m);
              reload();
            }}
          />
        </Modal>
      )}
    </section>
  );
}
