/** Create or edit one machine: POST /machines (create) or PUT /machines/{id} (edit, keeping fields not shown). */
import { useEffect, useState } from 'preact/hooks';
import { enc, get, post, put } from './api.ts';
import { formatPairs, parseList, parsePairs } from './format.ts';
import type { Group, Machine, Page, Profile } from './types.ts';
import { Field, type FormErrors, noErrors, TopError, toFormErrors } from './ui.tsx';

const KEYS = ['id', 'macs', 'hostname', 'uuid', 'serial', 'ip', 'labels', 'profile', 'group'] as const;
type Key = (typeof KEYS)[number];
type Values = Record<Key, string>;

function toValues(m: Partial<Machine>): Values {
  return {
    id: m.id ?? '',
    macs: (m.macs ?? []).join(', '),
    hostname: m.hostname ?? '',
    uuid: m.uuid ?? '',
    serial: m.serial ?? '',
    ip: m.ip ?? '',
    labels: formatPairs(m.labels),
    profile: m.profile ?? '',
    group: m.group ?? '',
  };
}

export function MachineForm(props: {
  initial: Partial<Machine>;
  /** Set when editing: the stored machine, whose other fields (menu, variables, next action) are kept. */
  existing?: Machine;
  onSaved: (m: Machine) => void;
  onCancel: () => void;
}) {
  const editing = props.existing !== undefined;
  const [v, setV] = useState<Values>(() => toValues(props.initial));
  const [errors, setErrors] = useState<FormErrors>(noErrors);
  const [busy, setBusy] = useState(false);
  const [profiles, setProfiles] = useState<string[]>([]);
  const [groups, setGroups] = useState<string[]>([]);

  useEffect(() => {
    get<Page<Profile>>('/profiles').then(
      (r) => setProfiles(r.items.map((p) => p.name)),
      () => {},
    );
    get<Page<Group>>('/groups').then(
      (r) => setGroups(r.items.map((g) => g.name)),
      () => {},
    );
  }, []);

  const set = (k: Key) => (e: Event) => setV({ ...v, [k]: (e.currentTarget as HTMLInputElement).value });

  async function submit(e: Event) {
    e.preventDefault();
    let labels: Record<string, string>;
    try {
      labels = parsePairs(v.labels);
    } catch (err) {
      setErrors({ fields: { labels: (err as Error).message } });
      return;
    }
    const body: Machine = {
      ...(props.existing ?? {}),
      id: v.id.trim(),
      macs: parseList(v.macs),
      labels,
    };
    delete body.lastSeen;
    delete body.lastEvent;
    for (const k of ['hostname', 'uuid', 'serial', 'ip', 'profile', 'group'] as const) {
      const val = v[k].trim();
      if (val) body[k] = val;
      else delete body[k];
    }
    setBusy(true);
    setErrors(noErrors);
    try {
      const saved = editing
        ? await put<Machine>(`/machines/${enc(props.existing?.id ?? body.id)}`, body)
        : await post<Machine>('/machines', body);
      props.onSaved(saved);
    } catch (err) {
      setErrors(toFormErrors(err, KEYS));
    } finally {
      setBusy(false);
    }
  }

  const text = (k: Key, label: string, testid?: string, extra?: { placeholder?: string; hint?: string }) => (
    <Field label={label} name={k} errors={errors} hint={extra?.hint}>
      <input
        type="text"
        value={v[k]}
        onInput={set(k)}
        data-testid={testid}
        placeholder={extra?.placeholder}
        spellcheck={false}
        autocomplete="off"
      />
    </Field>
  );

  const select = (k: 'profile' | 'group', label: string, options: string[], testid: string) => {
    const opts = v[k] && !options.includes(v[k]) ? [v[k], ...options] : options;
    return (
      <Field label={label} name={k} errors={errors}>
        <select value={v[k]} onChange={set(k)} data-testid={testid}>
          <option value="">(none)</option>
          {opts.map((o) => (
            <option key={o} value={o}>
              {o}
            </option>
          ))}
        </select>
      </Field>
    );
  };

  return (
    <form class="form" onSubmit={submit} noValidate>
      <TopError errors={errors} />
      <div class="grid">
        <Field label="ID" name="id" errors={errors}>
          <input
            type="text"
            value={v.id}
            onInput={set('id')}
            data-testid="machine-id"
            readOnly={editing}
            required
            spellcheck={false}
            autocomplete="off"
            placeholder="web1"
          />
        </Field>
        {text('macs', 'MACs', 'machine-macs', { placeholder: '52:54:00:12:34:56, …', hint: 'comma separated' })}
        {text('hostname', 'Hostname', 'machine-hostname')}
        {text('ip', 'IP (DHCP reservation)', 'machine-ip')}
        {text('uuid', 'UUID', 'machine-uuid')}
        {text('serial', 'Serial', 'machine-serial')}
        {text('labels', 'Labels', 'machine-labels', { placeholder: 'rack=a1, role=web', hint: 'k=v, comma separated' })}
        {select('profile', 'Profile', profiles, 'machine-profile')}
        {select('group', 'Group', groups, 'machine-group')}
      </div>
      <div class="actions">
        <button type="submit" class="primary" data-testid="machine-save" disabled={busy}>
          {editing ? 'Save' : 'Create'}
        </button>
        <button type="button" onClick={props.onCancel}>
          Cancel
        </button>
      </div>
    </form>
  );
}
