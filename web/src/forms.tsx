/** What the edit forms share: saving with the server's field errors, and a select of named things. */
import { useState } from 'preact/hooks';
import { Field, type FormErrors, noErrors, toFormErrors, useListing } from './ui.tsx';

/**
 * A form's save: `save(run)` clears the errors, marks the form busy while `run` sends, and puts a refusal beside the
 * input it names (`keys`, as toFormErrors maps them) or on top.
 */
export function useSave(keys: readonly string[]) {
  const [errors, setErrors] = useState<FormErrors>(noErrors);
  const [busy, setBusy] = useState(false);
  async function save(run: () => Promise<void>): Promise<void> {
    setBusy(true);
    setErrors(noErrors);
    try {
      await run();
    } catch (err) {
      setErrors(toFormErrors(err, keys));
    } finally {
      setBusy(false);
    }
  }
  return { errors, setErrors, busy, save };
}

/** The names of the items at `path` (profiles, groups) for a select; none while they load or if they cannot. */
export function useNames(path: string): string[] {
  return useListing<{ name: string }>(path).items.map((i) => i.name);
}

/**
 * A select of names with an empty first choice (`none`). A value that is not among `options` (a profile deleted since,
 * or not loaded yet) stays listed, so showing a form never changes what it would save.
 */
export function NameSelect(props: {
  value: string;
  options: string[];
  none: string;
  onChange: (e: Event) => void;
  testid?: string;
}) {
  const { value, options } = props;
  const opts = value && !options.includes(value) ? [value, ...options] : options;
  return (
    <select value={value} onChange={props.onChange} data-testid={props.testid}>
      <option value="">{props.none}</option>
      {opts.map((o) => (
        <option key={o} value={o}>
          {o}
        </option>
      ))}
    </select>
  );
}

/** A form's buttons: save (Create for a new item) and cancel. */
export function FormActions(props: { editing: boolean; busy: boolean; testid: string; onCancel: () => void }) {
  return (
    <div class="actions">
      <button type="submit" class="primary" disabled={props.busy} data-testid={props.testid}>
        {props.editing ? 'Save' : 'Create'}
      </button>
      <button type="button" onClick={props.onCancel}>
        Cancel
      </button>
    </div>
  );
}

/** A one-line text input with its label, hint and the server's error for it. */
export function TextField(props: {
  label: string;
  name: string;
  errors: FormErrors;
  value: string;
  onInput: (e: Event) => void;
  testid?: string;
  placeholder?: string;
  hint?: string;
  readOnly?: boolean;
}) {
  return (
    <Field label={props.label} name={props.name} errors={props.errors} hint={props.hint}>
      <input
        type="text"
        value={props.value}
        onInput={props.onInput}
        data-testid={props.testid}
        placeholder={props.placeholder}
        readOnly={props.readOnly}
        spellcheck={false}
        autocomplete="off"
      />
    </Field>
  );
}
