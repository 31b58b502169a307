/**
 * A whole inventory document checked at once: every record through the one validator (validate.ts), then what only
 * the document as a whole can break — a name defined twice, a reference to a profile or group that exists neither in
 * it nor (when it is applied without prune) in the store, a MAC claimed by two machines. A rejected field is a path
 * from the document's root (`machines/1/macs/0`), which the API returns as is and the YAML reader turns into
 * file:line:column.
 */
import { BootherdError } from '../errors.ts';
import type { Inventory } from './types.ts';
import { checkGroup, checkMachine, checkProfile, fieldError } from './validate.ts';

/** Names the store already holds, for references from a document applied without prune. */
export interface KnownNames {
  profiles: Iterable<string>;
  groups: Iterable<string>;
}

export function checkDocument(inv: Inventory, known?: KnownNames): Inventory {
  const doc: Inventory = {
    profiles: inv.profiles.map((p, i) => inDocument('profiles', i, () => checkProfile(p))),
    groups: inv.groups.map((g, i) => inDocument('groups', i, () => checkGroup(g))),
    machines: inv.machines.map((m, i) => inDocument('machines', i, () => checkMachine(m))),
  };
  const unique = (list: string, names: string[], key: string) => {
    const seen = new Set<string>();
    names.forEach((n, i) => {
      if (seen.has(n)) throw fieldError(`${list}/${i}/${key}`, `"${n}" is defined twice`);
      seen.add(n);
    });
  };
  unique(
    'profiles',
    doc.profiles.map((p) => p.name),
    'name',
  );
  unique(
    'groups',
    doc.groups.map((g) => g.name),
    'name',
  );
  unique(
    'machines',
    doc.machines.map((m) => m.id),
    'id',
  );
  const profiles = new Set([...doc.profiles.map((p) => p.name), ...(known?.profiles ?? [])]);
  const groups = new Set([...doc.groups.map((g) => g.name), ...(known?.groups ?? [])]);
  const ref = (field: string, what: string, name: string | undefined, names: Set<string>) => {
    if (name !== undefined && !names.has(name)) throw fieldError(field, `${what} "${name}" is not defined`);
  };
  for (const [i, p] of doc.profiles.entries())
    if (p.boot.kind === 'menu')
      for (const [j, item] of (p.boot.items ?? []).entries())
        ref(`profiles/${i}/boot/items/${j}`, 'profile', item, profiles);
  for (const [i, g] of doc.groups.entries()) ref(`groups/${i}/profile`, 'profile', g.profile, profiles);
  const macOwner = new Map<string, string>();
  for (const [i, m] of doc.machines.entries()) {
    ref(`machines/${i}/profile`, 'profile', m.profile, profiles);
    ref(`machines/${i}/group`, 'group', m.group, groups);
    const next = m.nextAction;
    if (next && 'profile' in next) ref(`machines/${i}/nextAction/profile`, 'profile', next.profile, profiles);
    for (const [j, mac] of m.macs.entries()) {
      const owner = macOwner.get(mac);
      if (owner !== undefined)
        throw fieldError(`machines/${i}/macs/${j}`, `MAC ${mac} is already used by machine "${owner}"`);
      macOwner.set(mac, m.id);
    }
  }
  return doc;
}

/** Run a record check for item `i` of a document list, so the rejected field is a path from the document's root. */
function inDocument<T>(list: string, i: number, check: () => T): T {
  try {
    return check();
  } catch (err) {
    if (!(err instanceof BootherdError) || typeof err.detail?.field !== 'string') throw err;
    const field = `${list}/${i}/${err.detail.field}`;
    throw fieldError(field, String(err.detail.reason ?? err.message));
  }
}
