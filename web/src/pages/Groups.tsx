/** Groups: label selectors that give matching machines a profile, menu settings and variables. */
import { useState } from 'preact/hooks';
import { enc, post, put } from '../api.ts';
import { formatPairs, NONE, parsePairs } from '../format.ts';
import type { Group, Profile } from '../types.ts';
import {
  ConfirmButton,
  EmptyRow,
  ErrorBanner,
  Field,
  type FormErrors,
  Modal,
  noErrors,
  TopError,
  toFormErrors,
  useAuth,
  useListing,
} from '../ui.tsx';

const KEYS = [
  'name',
  'description',
  'selectors',
  'profile',
  'menu',
  'menu/timeout',
  'menu/default',
  'variables',
] as const;
type Key = (typeof KEYS)[number];

function toValues(g: Group | undefined): Record<Key, string> {
  return {
    name: g?.name ?? '',
    description: g?.description ?? '',
    selectors: formatPairs(g?.selectors, '\n'),
    profile: g?.profile ?? '',
    menu: '',
    'menu/timeout': g?.menu?.timeout === undefined ? '' : String(g.menu.timeout),
    'menu/default': g?.menu?.default ?? '',
    variables: formatPairs(g?.variables, '\n'),
  };
}

function GroupForm(props: { existing?: Group; profiles: string[]; onSaved: () => void; onCancel: () => void }) {
  const editing = props.existing !== undefined;
  const [v, setV] = useState(() => toValues(props.existing));
  const [errors, setErrors] = useState<FormErrors>(noErrors);
  const [busy, setBusy] = useState(false);
  const set = (k: Key) => (e: Event) => setV({ ...v, [k]: (e.currentTarget as HTMLInputElement).value });

  async function submit(e: Event) {
    e.preventDefault();
    const parsed: Partial<Record<'selectors' | 'variables', Record<string, string>>> = {};
    for (const k of ['selectors', 'variables'] as const) {
      try {
        parsed[k] = parsePairs(v[k]);
      } catch (err) {
        setErrors({ fields: { [k]: (err as Error).message } });
        return;
      }
    }
    const body: Group = { ...(props.existing ?? {}), name: v.name.trim(), selectors: parsed.selectors ?? {} };
    if (v.description.trim()) body.description = v.description.trim();
    else delete body.description;
    if (v.profile) body.profile = v.profile;
    else delete body.profile;
    const vars = parsed.variables ?? {};
    if (Object.keys(vars).length) body.variables = vars;
    else delete body.variables;
    const menu: Group['menu'] = {};
    const t = v['menu/timeout'].trim();
    if (t) {
      const n = Number(t);
      if (!Number.isFinite(n) || n < 0) {
        setErrors({ fields: { 'menu/timeout': 'a number of seconds' } });
        return;
      }
      menu.timeout = n;
    }
    if (v['menu/default'].trim()) menu.default = v['menu/default'].trim();
    if (Object.keys(menu).length) body.menu = menu;
    else delete body.menu;
    setBusy(true);
    setErrors(noErrors);
    try {
      if (editing) await put(`/groups/${enc(props.existing?.name ?? body.name)}`, body);
      else await post('/groups', body);
      props.onSaved();
    } catch (err) {
      setErrors(toFormErrors(err, KEYS));
    } finally {
      setBusy(false);
    }
  }

  const tid = (k: Key) => `group-${k.replace('/', '-')}`;
  const text = (k: Key, label: string, placeholder?: string) => (
    <Field label={label} name={k} errors={errors}>
      <input
        type="text"
        value={v[k]}
        onInput={set(k)}
        placeholder={placeholder}
        data-testid={tid(k)}
        readOnly={k === 'name' && editing}
        spellcheck={false}
        autocomplete="off"
      />
    </Field>
  );
  const area = (k: Key, label: string, hint: string) => (
    <Field label={label} name={k} errors={errors} hint={hint} wide>
      <textarea value={v[k]} onInput={set(k)} rows={3} data-testid={tid(k)} spellcheck={false} />
    </Field>
  );
  const profiles = v.profile && !props.profiles.includes(v.profile) ? [v.profile, ...props.profiles] : props.profiles;

  return (
    <form class="form" onSubmit={submit} noValidate>
      <TopError errors={errors} />
      <div class="grid">
        {text('name', 'Name')}
        {text('description', 'Description')}
        <Field label="Profile" name="profile" errors={errors}>
          <select value={v.profile} onChange={set('profile')} data-testid="group-profile">
            <option value="">(none)</option>
            {profiles.map((p) => (
              <option key={p} value={p}>
                {p}
              </option>
            ))}
          </select>
        </Field>
        <Field label="Menu" name="menu" errors={errors}>
          <span class="pair">
            <input
              type="text"
              inputMode="numeric"
              value={v['menu/timeout']}
              onInput={set('menu/timeout')}
              placeholder="timeout s"
              data-testid="group-menu-timeout"
            />
            <input
              type="text"
              value={v['menu/default']}
              onInput={set('menu/default')}
              placeholder="default profile"
              data-testid="group-menu-default"
            />
          </span>
        </Field>
        {errors.fields['menu/timeout'] || errors.fields['menu/default'] ? (
          <div class="wide">
            <FieldErrors errors={errors} />
          </div>
        ) : null}
        {area('selectors', 'Selectors', 'label k=v, one per line; a machine matching all of them is in the group')}
        {area('variables', 'Variables', 'k=v, one per line')}
      </div>
      <div class="actions">
        <button type="submit" class="primary" disabled={busy} data-testid="group-save">
          {editing ? 'Save' : 'Create'}
        </button>
        <button type="button" onClick={props.onCancel}>
          Cancel
        </button>
      </div>
    </form>
  );
}

function FieldErrors({ errors }: { errors: FormErrors }) {
  return (
    <>
      {(['menu/timeout', 'menu/default'] as const).map(
        (k) =>
          errors.fields[k] && (
            <div key={k} class="field-error" data-testid={`field-error-${k}`} role="alert">
              {errors.fields[k]}
            </div>
          ),
      )}
    </>
  );
}

export function Groups() {
  const { canWrite } = useAuth();
  const { items, error, reload, remove } = useListing<Group>('/groups');
  const profiles = useListing<Profile>('/profiles').items.map((p) => p.name);
  const [form, setForm] = useState<{ existing?: Group } | null>(null);

  return (
    <section>
      <div class="page-head">
        <h1>Groups</h1>
        <span class="muted">{items.length}</span>
        <span class="spacer" />
        {canWrite && (
          <button type="button" class="primary" data-testid="new-group" onClick={() => setForm({})}>
            New group
          </button>
        )}
      </div>
      <ErrorBanner error={error} />
      <table class="data">
        <thead>
          <tr>
            <th>Name</th>
            <th>Description</th>
            <th>Selectors</th>
            <th>Profile</th>
            <th>Menu</th>
            {canWrite && <th />}
          </tr>
        </thead>
        <tbody>
          {items.map((g) => (
            <tr key={g.name} data-testid={`group-row-${g.name}`}>
              <td class="mono">{g.name}</td>
              <td>{g.description ?? ''}</td>
              <td class="mono">{formatPairs(g.selectors) || NONE}</td>
              <td>{g.profile ?? NONE}</td>
              <td>
                {g.menu
                  ? [g.menu.timeout !== undefined ? `${g.menu.timeout} s` : '', g.menu.default ?? '']
                      .filter(Boolean)
                      .join(', ')
                  : ''}
              </td>
              {canWrite && (
                <td class="row-actions">
                  <button type="button" onClick={() => setForm({ existing: g })}>
                    Edit
                  </button>
                  <ConfirmButton
                    label="Delete"
                    confirm="Really delete?"
                    onConfirm={() => remove(`/groups/${enc(g.name)}`)}
                  />
                </td>
              )}
            </tr>
          ))}
          {!items.length && !error && <EmptyRow cols={6}>No groups.</EmptyRow>}
        </tbody>
      </table>
      {form && (
        <Modal title={form.existing ? `Edit group ${form.existing.name}` : 'New group'} onClose={() => setForm(null)}>
          <GroupForm
            existing={form.existing}
            profiles={profiles}
            onCancel={() => setForm(null)}
            onSaved={() => {
              setForm(null);
              reload();
            }}
          />
        </Modal>
      )}
    </section>
  );
}
