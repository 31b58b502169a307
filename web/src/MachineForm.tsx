/** Create or edit one machine: POST /machines (create) or PUT /machines/{id} (edit, keeping fields not shown). */
import { useState } from 'preact/hooks';
import { enc, post, put } from './api.ts';
import { formatPairs, parseList, parsePairs } from './format.ts';
import { FormActions, NameSelect, TextField, useNames, useSave } from './forms.tsx';
import type { Machine } from './types.ts';
import { Field, TopError } from './ui.tsx';

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
  const { errors, setErrors, busy, save } = useSave(KEYS);
  const profiles = useNames('/profiles');
  const groups = useNames('/groups');

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
    await save(async () => {
      const saved = editing
        ? await put<Machine>(`/machines/${enc(props.existing?.id ?? body.id)}`, body)
        : await post<Machine>('/machines', body);
      props.onSaved(saved);
    });
  }

  const text = (k: Key, label: string, testid: string, extra?: { placeholder?: string; hint?: string }) => (
    <TextField label={label} name={k} errors={errors} value={v[k]} onInput={set(k)} testid={testid} {...extra} />
  );

  const select = (k: 'profile' | 'group', label: string, options: string[], testid: string) => (
    <Field label={label} name={k} errors={errors}>
      <NameSelect value={v[k]} options={options} none="(none)" onChange={set(k)} testid={testid} />
    </Field>
  );

  return (
    <form class="form" onSubmit={submit} noValidate>
      <TopError errors={errors} />
      <div class="grid">
        <TextField
          label="ID"
          name="id"
          errors={errors}
          value={v.id}
          onInput={set('id')}
          testid="machine-id"
          readOnly={editing}
          placeholder="web1"
        />
        {text('macs', 'MACs', 'machine-macs', { placeholder: '52:54:00:12:34:56, …', hint: 'comma separated' })}
        {text('hostname', 'Hostname', 'machine-hostname')}
        {text('ip', 'IP (DHCP reservation)', 'machine-ip')}
        {text('uuid', 'UUID', 'machine-uuid')}
        {text('serial', 'Serial', 'machine-serial')}
        {text('labels', 'Labels', 'machine-labels', { placeholder: 'rack=a1, role=web', hint: 'k=v, comma separated' })}
        {select('profile', 'Profile', profiles, 'machine-profile')}
        {select('group', 'Group', groups, 'machine-group')}
      </div>
      <FormActions editing={editing} busy={busy} testid="machine-save" onCancel={props.onCancel} />
    </form>
  );
}
