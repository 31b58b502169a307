/** Small shared pieces: auth context, a clock tick, the hash router helpers, form fields with server errors. */
import type { ComponentChildren } from 'preact';
import { createContext } from 'preact';
import { useContext, useEffect, useRef, useState } from 'preact/hooks';
import { ApiError, del, errorText, get } from './api.ts';
import type { Page, WhoAmI } from './types.ts';

export interface Auth {
  who: WhoAmI;
  canWrite: boolean;
}

export const AuthContext = createContext<Auth>({ who: { name: '', scope: 'read' }, canWrite: false });
export const useAuth = () => useContext(AuthContext);

/** Re-render every `ms` (relative times). One timer per component; cheap at this page size. */
export function useNow(ms = 1000): number {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), ms);
    return () => clearInterval(t);
  }, [ms]);
  return now;
}

export function navigate(hash: string): void {
  if (location.hash !== hash) location.hash = hash;
}

export const machineHref = (id: string) => `#/machines/${encodeURIComponent(id)}`;

/** Calls `fn(key)` at most once per `ms` per key, trailing: a burst of events for one machine is one refetch. */
export function useKeyedThrottle(fn: (key: string) => void, ms: number): (key: string) => void {
  const fnRef = useRef(fn);
  fnRef.current = fn;
  const state = useRef(new Map<string, { last: number; timer?: ReturnType<typeof setTimeout> }>());
  useEffect(
    () => () => {
      for (const s of state.current.values()) clearTimeout(s.timer);
      state.current.clear();
    },
    [],
  );
  return (key: string) => {
    const m = state.current;
    const s = m.get(key) ?? { last: 0 };
    m.set(key, s);
    if (s.timer) return;
    const wait = Math.max(0, s.last + ms - Date.now());
    s.timer = setTimeout(() => {
      s.timer = undefined;
      s.last = Date.now();
      fnRef.current(key);
    }, wait);
  };
}

/** Server validation errors, keyed by the form input they belong to. */
export interface FormErrors {
  fields: Record<string, string>;
  top?: string;
}

export const noErrors: FormErrors = { fields: {} };

/**
 * Map an error to the form: a 400 with `field` goes next to the input whose key is the longest path prefix of it
 * (`macs/0` -> `macs`, `boot/kernel` -> `boot/kernel`, `selectors/rack` -> `selectors`); anything else on top.
 */
export function toFormErrors(err: unknown, keys: readonly string[]): FormErrors {
  if (err instanceof ApiError && err.field !== undefined) {
    const segs = err.field
      .replace(/^[/#.]+/, '')
      .split(/[/.]/)
      .filter(Boolean);
    for (let n = segs.length; n > 0; n--) {
      const key = segs.slice(0, n).join('/');
      if (keys.includes(key)) return { fields: { [key]: err.message } };
    }
    return { fields: {}, top: `${err.field}: ${err.message}` };
  }
  return { fields: {}, top: errorText(err) };
}

export function FieldError({ name, errors }: { name: string; errors: FormErrors }) {
  const msg = errors.fields[name];
  if (!msg) return null;
  return (
    <div class="field-error" data-testid={`field-error-${name}`} role="alert">
      {msg}
    </div>
  );
}

export function TopError({ errors }: { errors: FormErrors }) {
  if (!errors.top) return null;
  return (
    <div class="banner error" data-testid="form-error" role="alert">
      {errors.top}
    </div>
  );
}

export function Field(props: {
  label: string;
  name: string;
  errors: FormErrors;
  hint?: string;
  wide?: boolean;
  children: ComponentChildren;
}) {
  const bad = props.errors.fields[props.name] !== undefined;
  return (
    // biome-ignore lint/a11y/noLabelWithoutControl: the control comes in as children, inside the label
    <label class={`field${bad ? ' invalid' : ''}${props.wide ? ' wide' : ''}`}>
      <span class="field-label">{props.label}</span>
      {props.children}
      {props.hint && <span class="hint">{props.hint}</span>}
      <FieldError name={props.name} errors={props.errors} />
    </label>
  );
}

export function ErrorBanner({ error }: { error: unknown }) {
  if (!error) return null;
  return (
    <div class="banner error" role="alert">
      {errorText(error)}
    </div>
  );
}

export function Modal(props: { title: string; onClose: () => void; children: ComponentChildren }) {
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (e.key === 'Escape') props.onClose();
    };
    addEventListener('keydown', onKey);
    return () => removeEventListener('keydown', onKey);
  });
  return (
    <div class="modal-backdrop">
      <div class="modal" role="dialog" aria-modal="true" aria-label={props.title}>
        <div class="modal-head">
          <h2>{props.title}</h2>
          <button type="button" class="icon" onClick={props.onClose} aria-label="Close">
            ×
          </button>
        </div>
        {props.children}
      </div>
    </div>
  );
}

/** A destructive button that asks once more inline (no window.confirm: it blocks and automation dismisses it). */
export function ConfirmButton(props: { label: string; confirm: string; onConfirm: () => void; testid?: string }) {
  const [armed, setArmed] = useState(false);
  useEffect(() => {
    if (!armed) return;
    const t = setTimeout(() => setArmed(false), 5000);
    return () => clearTimeout(t);
  }, [armed]);
  return armed ? (
    <button
      type="button"
      class="danger"
      data-testid={props.testid ? `${props.testid}-confirm` : undefined}
      onClick={() => {
        setArmed(false);
        props.onConfirm();
      }}
    >
      {props.confirm}
    </button>
  ) : (
    <button type="button" class="danger-outline" data-testid={props.testid} onClick={() => setArmed(true)}>
      {props.label}
    </button>
  );
}

/**
 * One listing page's data: the items at `path` (refetched when `path` or `reload()` changes; a late answer for an
 * old path is dropped), its error, and `remove(itemPath)` that deletes and refetches.
 */
export function useListing<T>(path: string) {
  const [items, setItems] = useState<T[]>([]);
  const [error, setError] = useState<unknown>(null);
  const [generation, setGeneration] = useState(0);
  useEffect(() => {
    let alive = true;
    get<Page<T>>(path).then(
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
  }, [path, generation]);
  const reload = () => setGeneration((n) => n + 1);
  async function remove(itemPath: string) {
    try {
      await del(itemPath);
      reload();
    } catch (err) {
      setError(err);
    }
  }
  return { items, error, setError, reload, remove };
}

/** The placeholder row of an empty table. */
export function EmptyRow({ cols, children }: { cols: number; children: ComponentChildren }) {
  return (
    <tr>
      <td colSpan={cols} class="empty">
        {children}
      </td>
    </tr>
  );
}
