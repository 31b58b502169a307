/** Profiles: what a machine boots. List, create, edit, delete; the boot kind picks which fields apply. */
import { useState } from 'preact/hooks';
import { enc, post, put } from '../api.ts';
import { formatPairs, NONE, parseList, parsePairs } from '../format.ts';
import { FormActions, TextField, useSave } from '../forms.tsx';
import { type ItemFormProps, NamedListPage } from '../NamedList.tsx';
import type { BootSpec, Profile } from '../types.ts';
import { Field, TopError } from '../ui.tsx';

const KINDS = ['kernel', 'sanboot', 'chain', 'menu', 'local', 'template'] as const;
type Kind = (typeof KINDS)[number];

const KEYS = [
  'name',
  'description',
  'boot',
  'boot/kernel',
  'boot/initrds',
  'boot/cmdline',
  'boot/url',
  'boot/items',
  'boot/title',
  'boot/template',
  'consume',
  'variables',
  'private',
] as const;
type Key = (typeof KEYS)[number];

export function bootSummary(b: BootSpec | undefined): string {
  if (!b) return NONE;
  switch (b.kind) {
    case 'kernel':
      return `kernel ${b.kernel}${b.initrds?.length ? ` + ${b.initrds.length} initrd` : ''}`;
    case 'sanboot':
    case 'chain':
      return `${b.kind} ${b.url}`;
    case 'menu':
      return `menu${b.title ? ` "${b.title}"` : ''}${b.items?.length ? ` [${b.items.join(', ')}]` : ''}`;
    case 'template':
      return `template ${b.template.length > 40 ? `${b.template.slice(0, 40)}…` : b.template}`;
    default:
      return String((b as { kind?: unknown }).kind ?? NONE);
  }
}

function toValues(p: Profile | undefined): Record<Key, string> & { kind: Kind } {
  const b = p?.boot;
  return {
    name: p?.name ?? '',
    description: p?.description ?? '',
    boot: '',
    kind: (b?.kind as Kind) ?? 'kernel',
    'boot/kernel': b?.kind === 'kernel' ? b.kernel : '',
    'boot/initrds': b?.kind === 'kernel' ? (b.initrds ?? []).join('\n') : '',
    'boot/cmdline': b?.kind === 'kernel' ? (b.cmdline ?? '') : '',
    'boot/url': b?.kind === 'sanboot' || b?.kind === 'chain' ? b.url : '',
    'boot/items': b?.kind === 'menu' ? (b.items ?? []).join(', ') : '',
    'boot/title': b?.kind === 'menu' ? (b.title ?? '') : '',
    'boot/template': b?.kind === 'template' ? b.template : '',
    consume: p?.consume ?? '',
    variables: formatPairs(p?.variables, '\n'),
    private: (p?.private ?? []).join('\n'),
  };
}

function ProfileForm(props: ItemFormProps<Profile>) {
  const editing = props.existing !== undefined;
  const [v, setV] = useState(() => toValues(props.existing));
  const { errors, setErrors, busy, save } = useSave(KEYS);
  const set = (k: keyof typeof v) => (e: Event) => setV({ ...v, [k]: (e.currentTarget as HTMLInputElement).value });

  function bootSpec(): BootSpec {
    switch (v.kind) {
      case 'kernel': {
        const b: BootSpec = { kind: 'kernel', kernel: v['boot/kernel'].trim(), initrds: parseList(v['boot/initrds']) };
        if (v['boot/cmdline'].trim()) b.cmdline = v['boot/cmdline'].trim();
        return b;
      }
      case 'sanboot':
      case 'chain':
        return { kind: v.kind, url: v['boot/url'].trim() };
      case 'menu': {
        const b: BootSpec = { kind: 'menu' };
        const items = parseList(v['boot/items']);
        if (items.length) b.items = items;
        if (v['boot/title'].trim()) b.title = v['boot/title'].trim();
        return b;
      }
      case 'template':
        return { kind: 'template', template: v['boot/template'] };
      default:
        return { kind: 'local' };
    }
  }

  async function submit(e: Event) {
    e.preventDefault();
    let variables: Record<string, string>;
    try {
      variables = parsePairs(v.variables);
    } catch (err) {
      setErrors({ fields: { variables: (err as Error).message } });
      return;
    }
    const body: Profile = { ...(props.existing ?? {}), name: v.name.trim(), boot: bootSpec() };
    if (v.description.trim()) body.description = v.description.trim();
    else delete body.description;
    if (v.consume) body.consume = v.consume as 'on-serve' | 'on-callback';
    else delete body.consume;
    if (Object.keys(variables).length) body.variables = variables;
    else delete body.variables;
    const priv = parseList(v.private);
    if (priv.length) body.private = priv;
    else delete body.private;
    await save(async () => {
      if (editing) await put(`/profiles/${enc(props.existing?.name ?? body.name)}`, body);
      else await post('/profiles', body);
      props.onSaved();
    });
  }

  const text = (k: Key, label: string, placeholder?: string) => (
    <TextField
      label={label}
      name={k}
      errors={errors}
      value={v[k]}
      onInput={set(k)}
      testid={`profile-${k.replace('boot/', '')}`}
      placeholder={placeholder}
      readOnly={k === 'name' && editing}
    />
  );
  const area = (k: Key, label: string, hint?: string, rows = 3) => (
    <Field label={label} name={k} errors={errors} hint={hint} wide>
      <textarea
        value={v[k]}
        onInput={set(k)}
        rows={rows}
        data-testid={`profile-${k.replace('boot/', '')}`}
        spellcheck={false}
      />
    </Field>
  );

  return (
    <form class="form" onSubmit={submit} noValidate>
      <TopError errors={errors} />
      <div class="grid">
        {text('name', 'Name')}
        {text('description', 'Description')}
        <Field label="Boot kind" name="boot" errors={errors}>
          <select value={v.kind} onChange={set('kind')} data-testid="profile-kind">
            {KINDS.map((k) => (
              <option key={k} value={k}>
                {k}
              </option>
            ))}
          </select>
        </Field>
        <Field label="Consume one-shot install" name="consume" errors={errors}>
          <select value={v.consume} onChange={set('consume')} data-testid="profile-consume">
            <option value="">(default)</option>
            <option value="on-serve">on-serve</option>
            <option value="on-callback">on-callback</option>
          </select>
        </Field>
        {v.kind === 'kernel' && (
          <>
            {text('boot/kernel', 'Kernel', 'debian/linux or http://…')}
            {text('boot/cmdline', 'Command line', 'auto=true priority=critical …')}
            {area('boot/initrds', 'Initrds', 'one per line')}
          </>
        )}
        {(v.kind === 'sanboot' || v.kind === 'chain') && text('boot/url', 'URL', 'http://…')}
        {v.kind === 'menu' && (
          <>
            {text('boot/title', 'Menu title')}
            {text('boot/items', 'Items (profiles)', 'comma separated; empty = all')}
          </>
        )}
        {v.kind === 'template' && area('boot/template', 'Template', undefined, 8)}
        {area('variables', 'Variables', 'k=v, one per line')}
        {area('private', 'Private asset paths', 'one per line')}
      </div>
      <FormActions editing={editing} busy={busy} testid="profile-save" onCancel={props.onCancel} />
    </form>
  );
}

export function Profiles() {
  return (
    <NamedListPage<Profile>
      title="Profiles"
      noun="profile"
      path="/profiles"
      columns={['Description', 'Boot', 'Consume']}
      cells={(p) => (
        <>
          <td>{p.description ?? ''}</td>
          <td class="mono">{bootSummary(p.boot)}</td>
          <td>{p.consume ?? ''}</td>
        </>
      )}
      form={(p) => <ProfileForm {...p} />}
    />
  );
}
