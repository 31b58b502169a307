/** Groups: label selectors that give matching machines a profile, menu settings and variables. */
import { useState } from 'preact/hooks';
import { enc, post, put } from '../api.ts';
import { formatPairs, NONE, parsePairs } from '../format.ts';
import { FormActions, NameSelect, TextField, useNames, useSave } from '../forms.tsx';
import { type ItemFormProps, NamedListPage } from '../NamedList.tsx';
import type { Group } from '../types.ts';
import { Field, FieldError, TopError } from '../ui.tsx';

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

function GroupForm(props: ItemFormProps<Group> & { profiles: string[] }) {
  const editing = props.existing !== undefined;
  const [v, setV] = useState(() => toValues(props.existing));
  const { errors, setErrors, busy, save } = useSave(KEYS);
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
    await save(async () => {
      if (editing) await put(`/groups/${enc(props.existing?.name ?? body.name)}`, body);
      else await post('/groups', body);
      props.onSaved();
    });
  }

  const tid = (k: Key) => `group-${k.replace('/', '-')}`;
  const text = (k: Key, label: string) => (
    <TextField
      label={label}
      name={k}
      errors={errors}
      value={v[k]}
      onInput={set(k)}
      testid={tid(k)}
      readOnly={k === 'name' && editing}
    />
  );
  const area = (k: Key, label: string, hint: string) => (
    <Field label={label} name={k} errors={errors} hint={hint} wide>
      <textarea value={v[k]} onInput={set(k)} rows={3} data-testid={tid(k)} spellcheck={false} />
    </Field>
  );
  return (
    <form class="form" onSubmit={submit} noValidate>
      <TopError errors={errors} />
      <div class="grid">
        {text('name', 'Name')}
        {text('description', 'Description')}
        <Field label="Profile" name="profile" errors={errors}>
          <NameSelect
            value={v.profile}
            options={props.profiles}
            none="(none)"
            onChange={set('profile')}
            testid="group-profile"
          />
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
            <FieldError name="menu/timeout" errors={errors} />
            <FieldError name="menu/default" errors={errors} />
          </div>
        ) : null}
        {area('selectors', 'Selectors', 'label k=v, one per line; a machine matching all of them is in the group')}
        {area('variables', 'Variables', 'k=v, one per line')}
      </div>
      <FormActions editing={editing} busy={busy} testid="group-save" onCancel={props.onCancel} />
    </form>
  );
}

const menuSummary = (m: Group['menu']) =>
  m ? [m.timeout !== undefined ? `${m.timeout} s` : '', m.default ?? ''].filter(Boolean).join(', ') : '';

export function Groups() {
  const profiles = useNames('/profiles');
  return (
    <NamedListPage<Group>
      title="Groups"
      noun="group"
      path="/groups"
      columns={['Description', 'Selectors', 'Profile', 'Menu']}
      cells={(g) => (
        <>
          <td>{g.description ?? ''}</td>
          <td class="mono">{formatPairs(g.selectors) || NONE}</td>
          <td>{g.profile ?? NONE}</td>
          <td>{menuSummary(g.menu)}</td>
        </>
      )}
      form={(p) => <GroupForm {...p} profiles={profiles} />}
    />
  );
}
