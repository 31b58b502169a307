/**
 * Getting values into iPXE script lines safely.
 *
 * iPXE has no quoting. Its shell (core/exec.c) reads a script one line at a time, splits the line on whitespace,
 * and before expanding `${settings}` looks at each raw token: a token that is exactly `&&`, `||` or `;` ends the
 * command, and a token starting with `#` starts a comment. Options are parsed with getopt, which stops at the first
 * non-option argument and treats `--` as the end of options (core/getopt.c).
 *
 * So a value is safe when: it holds no CR, LF or NUL (a new line is a new command), and none of its tokens is a
 * terminator or a comment. We reject the first and defuse the second by inserting `${}` — an empty setting name,
 * which iPXE expands to nothing *after* it has looked for terminators — so `&&` travels as `&${}&` and arrives as
 * `&&`. Callers put `--` before free text whose first word could look like an option.
 */
import { BootherdError } from '../errors.ts';

/** A piece of text that is safe to place in an iPXE command line. Only this module makes them. */
export type Safe = string & { readonly __ipxeSafe: unique symbol };

const LINE_BREAK = /[\r\n\0]/;
const TERMINATORS = new Set(['&&', '||', ';']);
/** iPXE's isspace(): space, \t, \n, \v, \f, \r. */
const IPXE_SPACE = /[ \t\n\v\f\r]+/;

function reject(field: string, why: string): never {
  throw new BootherdError('SCRIPT_VALUE', `${field}: ${why}`, { field });
}

export function assertNoLineBreak(field: string, value: string): void {
  if (LINE_BREAK.test(value)) reject(field, 'contains a line break or NUL, which would start a new iPXE command');
}

/** Defuse one whitespace-free token. */
function defuse(token: string): string {
  if (TERMINATORS.has(token)) return `${token.slice(0, 1)}\${}${token.slice(1)}`;
  if (token.startsWith('#')) return `\${}${token}`;
  return token;
}

/**
 * What makes text() change a value or refuse it: whitespace other than single spaces between words (it is split and
 * joined by one space), a line break or NUL (refused), a word that is a terminator or starts a comment (defused).
 * Most values (a hostname, a kernel command line) have none: they are returned as they are, without splitting.
 */
const TEXT_NEEDS_WORK = /[\t\n\v\f\r\0]|^ | $| {2}|(?:^| )(?:#|(?:&&|\|\||;)(?: |$))/;

/** Free text (a kernel cmdline, a menu label): words joined by one space, none of them a terminator or comment. */
export function text(field: string, value: string): Safe {
  if (!TEXT_NEEDS_WORK.test(value)) return value as Safe;
  assertNoLineBreak(field, value);
  return value
    .split(IPXE_SPACE)
    .filter((w) => w !== '')
    .map(defuse)
    .join(' ') as Safe;
}

/** One argument that must stay one token (a setting value, a name): whitespace is rejected, not split. */
export function word(field: string, value: string): Safe {
  assertNoLineBreak(field, value);
  if (value === '') reject(field, 'is empty');
  if (IPXE_SPACE.test(value)) reject(field, 'contains whitespace, which would split it into several iPXE arguments');
  return defuse(value) as Safe;
}

/** A goto label or menu item id: we make these ourselves, so anything unusual is a bug, not input. */
export function label(value: string): Safe {
  if (!/^[A-Za-z0-9_.-]{1,64}$/.test(value)) reject('label', `"${value}" is not a valid script label`);
  return value as Safe;
}

/**
 * A URL as one token. Characters iPXE or HTTP would misread are percent-encoded (whitespace, quotes, non-ASCII);
 * `${...}` is kept so operators can use iPXE settings in profile URLs. Only http, https and tftp are fetched.
 */
export function url(field: string, value: string): Safe {
  assertNoLineBreak(field, value);
  if (!/^(https?|tftp):\/\/[^/\s]/i.test(value)) reject(field, `"${value}" is not an http, https or tftp URL`);
  const encoded = value.replace(/[^A-Za-z0-9\-._~:/?#[\]@!$&'()*+,;=%{}]/g, (c) =>
    Array.from(new TextEncoder().encode(c), (b) => `%${b.toString(16).toUpperCase().padStart(2, '0')}`).join(''),
  );
  return defuse(encoded) as Safe;
}

/** A number we print ourselves (timeouts, drive numbers). */
export function int(field: string, value: number): Safe {
  if (!Number.isSafeInteger(value) || value < 0) reject(field, `${value} is not a non-negative integer`);
  return String(value) as Safe;
}

/** Script text written in this code base (command names, options, fixed words). */
export function lit(value: string): Safe {
  assertNoLineBreak('literal', value);
  return value as Safe;
}
