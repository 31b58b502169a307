/**
 * A machine's next action: what it boots the next time it asks (install once, the local disk, the menu, a profile),
 * shown and, for a writer, set or cleared here.
 */
import { useState } from 'preact/hooks';
import { del, enc, put } from '../api.ts';
import { formatNext } from '../format.ts';
import { NameSelect, useNames } from '../forms.tsx';
import type { Machine, NextAction } from '../types.ts';
import { ErrorBanner } from '../ui.tsx';

export function MachineNext(props: {
  machine: Machine;
  canWrite: boolean;
  /** The action changed: the stored machine when the server answered with it. */
  onChanged(m: Machine | undefined): void;
}) {
  const { machine: m, canWrite } = props;
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [picking, setPicking] = useState(false);
  const [picked, setPicked] = useState('');
  const profiles = useNames('/profiles');

  async function setNext(body: NextAction | null) {
    setBusy(true);
    setError(null);
    try {
      const path = `/machines/${enc(m.id)}/next`;
      const r = body ? await put<Machine>(path, body) : await del<Machine>(path);
      setPicking(false);
      props.onChanged(r && typeof r === 'object' ? r : undefined);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  }

  return (
    <>
      <div class="next-box">
        <div>
          <div class="next-label">Next action</div>
          <div class={`next-value${m.nextAction ? ` next-${m.nextAction.action}` : ''}`} data-testid="next-action">
            {formatNext(m.nextAction)}
          </div>
        </div>
        {canWrite && (
          <div class="next-buttons">
            <button
              type="button"
              disabled={busy}
              data-testid="btn-install"
              onClick={() => setNext({ action: 'install' })}
            >
              Install once
            </button>
            <button type="button" disabled={busy} data-testid="btn-local" onClick={() => setNext({ action: 'local' })}>
              Local disk
            </button>
            <button type="button" disabled={busy} data-testid="btn-menu" onClick={() => setNext({ action: 'menu' })}>
              Menu
            </button>
            {picking ? (
              <span class="inline-form">
                <NameSelect
                  value={picked}
                  options={profiles}
                  none="choose profile…"
                  onChange={(e) => setPicked((e.currentTarget as HTMLSelectElement).value)}
                  testid="next-profile-select"
                />
                <button
                  type="button"
                  class="primary"
                  disabled={busy || !picked}
                  data-testid="btn-profile-apply"
                  onClick={() => setNext({ action: 'profile', profile: picked })}
                >
                  Set
                </button>
                <button type="button" onClick={() => setPicking(false)}>
                  Cancel
                </button>
              </span>
            ) : (
              <button type="button" disabled={busy} data-testid="btn-profile" onClick={() => setPicking(true)}>
                Profile…
              </button>
            )}
            <button
              type="button"
              disabled={busy || !m.nextAction}
              data-testid="btn-clear"
              onClick={() => setNext(null)}
            >
              Clear
            </button>
          </div>
        )}
      </div>
      <ErrorBanner error={error} />
    </>
  );
}
