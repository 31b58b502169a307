/**
 * A machine's power (only for machines with a power block): its state from the BMC, on/off/cycle, and "install +
 * power cycle" — the one-shot install set and the machine cycled in one request. Everything shown is text; the
 * record holds password references only and none is shown here.
 */
import { useEffect, useState } from 'preact/hooks';
import { enc, get, post } from '../api.ts';
import type { Machine, NextAction, PowerResult, PowerSpec } from '../types.ts';
import { ConfirmButton, ErrorBanner } from '../ui.tsx';

function describe(p: PowerSpec): string {
  if ('ipmi' in p) return `IPMI ${p.ipmi.user}@${p.ipmi.host}${p.ipmi.port ? `:${p.ipmi.port}` : ''}`;
  if ('redfish' in p) return `Redfish ${p.redfish.url}${p.redfish.system ? ` (${p.redfish.system})` : ''}`;
  return `Wake-on-LAN on ${p.wol.interface}${p.wol.mac ? ` to ${p.wol.mac}` : ''}`;
}

export function MachinePower(props: { machine: Machine; power: PowerSpec; canWrite: boolean; onChanged(): void }) {
  const id = props.machine.id;
  // Wake-on-LAN sends one packet: it cannot read a state, switch off or cycle.
  const wol = 'wol' in props.power;
  const [state, setState] = useState<string>(wol ? 'unknown (Wake-on-LAN)' : '…');
  const [done, setDone] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);

  async function status() {
    if (wol) return;
    setError(null);
    try {
      setState((await get<PowerResult>(`/machines/${enc(id)}/power`)).state ?? '?');
    } catch (err) {
      setState('?');
      setError(err);
    }
  }

  useEffect(() => {
    void status();
  }, [id]);

  async function act(action: 'on' | 'off' | 'cycle', next?: NextAction) {
    setBusy(true);
    setError(null);
    setDone('');
    try {
      const r = await post<PowerResult>(`/machines/${enc(id)}/power`, { action, ...(next ? { next } : {}) });
      const boot = r.netboot === undefined ? '' : r.netboot ? ', network boot once' : ', boot order unchanged';
      setDone(`${action} done${r.nextAction ? `, next boot ${r.nextAction.action}` : ''}${boot}`);
      if (next) props.onChanged();
      await status();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  }

  return (
    <div class="next-box" data-testid="power-box">
      <div>
        <div class="next-label">Power · {describe(props.power)}</div>
        <div class="next-value" data-testid="power-state">
          {state}
        </div>
        {done && (
          <div class="muted" data-testid="power-done">
            {done}
          </div>
        )}
      </div>
      <div class="next-buttons">
        {!wol && (
          <button type="button" disabled={busy} onClick={() => void status()} data-testid="btn-power-status">
            Refresh
          </button>
        )}
        {props.canWrite && (
          <>
            <button type="button" disabled={busy} onClick={() => void act('on')} data-testid="btn-power-on">
              {wol ? 'Wake' : 'On'}
            </button>
            {!wol && (
              <>
                <ConfirmButton
                  label="Off"
                  confirm="Really switch off?"
                  onConfirm={() => void act('off')}
                  testid="btn-power-off"
                />
                <ConfirmButton
                  label="Cycle"
                  confirm="Really power-cycle?"
                  onConfirm={() => void act('cycle')}
                  testid="btn-power-cycle"
                />
              </>
            )}
            <ConfirmButton
              label={wol ? 'Install + wake' : 'Install + power cycle'}
              confirm="Reinstall now?"
              onConfirm={() => void act(wol ? 'on' : 'cycle', { action: 'install' })}
              testid="btn-power-install"
            />
          </>
        )}
      </div>
      <ErrorBanner error={error} />
    </div>
  );
}
