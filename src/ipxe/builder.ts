/**
 * A typed iPXE script builder: commands take only `Safe` arguments (see quote.ts), so nothing reaches a script
 * line without having been quoted, defused or rejected.
 */
import { label, lit, type Safe, text } from './quote.ts';

export class IpxeScript {
  readonly #lines: string[];

  /** A script starts with its `#!ipxe` line; a fragment (lines built once, appended to scripts) does not. */
  constructor(kind: 'script' | 'fragment' = 'script') {
    this.#lines = kind === 'script' ? ['#!ipxe'] : [];
  }

  /** A comment line; the text is ours or defused so it cannot end the comment early. */
  comment(value: string): this {
    this.#lines.push(`# ${text('comment', value)}`);
    return this;
  }

  cmd(name: string, ...args: Safe[]): this {
    this.#lines.push([lit(name), ...args].join(' '));
    return this;
  }

  /** `cmd || goto target`: the usual iPXE way to handle a failed command. */
  orGoto(target: string, name: string, ...args: Safe[]): this {
    this.#lines.push(`${[lit(name), ...args].join(' ')} || goto ${label(target)}`);
    return this;
  }

  label(name: string): this {
    this.#lines.push(`:${label(name)}`);
    return this;
  }

  /** `echo -- text`: the `--` keeps a first word like `-n` from being read as an option. */
  echo(value: string): this {
    return this.cmd('echo', lit('--'), text('echo', value));
  }

  /** The lines of a fragment built once (a failure tail): quoted when it was built, not again per script. */
  append(fragment: IpxeScript): this {
    this.#lines.push(...fragment.#lines);
    return this;
  }

  blank(): this {
    this.#lines.push('');
    return this;
  }

  toString(): string {
    return `${this.#lines.join('\n')}\n`;
  }
}
