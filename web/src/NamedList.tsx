/** A page of named inventory items (profiles, groups): the table, New, and Edit and Delete on each row. */
import type { ComponentChildren } from 'preact';
import { useState } from 'preact/hooks';
import { enc } from './api.ts';
import { ConfirmButton, EmptyRow, ErrorBanner, Modal, useAuth, useListing } from './ui.tsx';

export interface ItemFormProps<T> {
  existing?: T;
  onSaved: () => void;
  onCancel: () => void;
}

export function NamedListPage<T extends { name: string }>(props: {
  /** The page's heading ("Profiles"). */
  title: string;
  /** One item ("profile"): the buttons, the modal's title and the test ids. */
  noun: string;
  /** The collection in the API ("/profiles"). */
  path: string;
  columns: string[];
  /** A row's cells after the name. */
  cells: (item: T) => ComponentChildren;
  form: (p: ItemFormProps<T>) => ComponentChildren;
}) {
  const { noun } = props;
  const { canWrite } = useAuth();
  const { items, error, reload, remove } = useListing<T>(props.path);
  const [form, setForm] = useState<{ existing?: T } | null>(null);
  const close = () => setForm(null);

  return (
    <section>
      <div class="page-head">
        <h1>{props.title}</h1>
        <span class="muted">{items.length}</span>
        <span class="spacer" />
        {canWrite && (
          <button type="button" class="primary" data-testid={`new-${noun}`} onClick={() => setForm({})}>
            New {noun}
          </button>
        )}
      </div>
      <ErrorBanner error={error} />
      <table class="data">
        <thead>
          <tr>
            <th>Name</th>
            {props.columns.map((c) => (
              <th key={c}>{c}</th>
            ))}
            {canWrite && <th />}
          </tr>
        </thead>
        <tbody>
          {items.map((item) => (
            <tr key={item.name} data-testid={`${noun}-row-${item.name}`}>
              <td class="mono">{item.name}</td>
              {props.cells(item)}
              {canWrite && (
                <td class="row-actions">
                  <button type="button" onClick={() => setForm({ existing: item })}>
                    Edit
                  </button>
                  <ConfirmButton
                    label="Delete"
                    confirm="Really delete?"
                    testid={`${noun}-delete-${item.name}`}
                    onConfirm={() => remove(`${props.path}/${enc(item.name)}`)}
                  />
                </td>
              )}
            </tr>
          ))}
          {!items.length && !error && (
            <EmptyRow cols={props.columns.length + 2}>No {props.title.toLowerCase()}.</EmptyRow>
          )}
        </tbody>
      </table>
      {form && (
        <Modal title={form.existing ? `Edit ${noun} ${form.existing.name}` : `New ${noun}`} onClose={close}>
          {props.form({
            existing: form.existing,
            onCancel: close,
            onSaved: () => {
              close();
              reload();
            },
          })}
        </Modal>
      )}
    </section>
  );
}
