/**
 * A typed reader over a YAML document that remembers where every value came from, so that a bad value is reported
 * as `file:line:column: field: what is wrong` — the one thing an operator needs at 2 a.m.
 */
import { isMap, isScalar, isSeq, LineCounter, type Node, parseDocument, type Range } from 'yaml';

export class YamlError extends Error {
  constructor(
    readonly file: string,
    readonly line: number,
    readonly column: number,
    readonly field: string,
    readonly reason: string,
  ) {
    super(`${file}:${line}:${column}: ${field ? `${field}: ` : ''}${reason}`);
    this.name = 'YamlError';
  }
}

/** One value in the document with its position and dotted path. */
export class Value {
  constructor(
    private readonly doc: YamlDoc,
    readonly node: Node | null,
    readonly path: string,
    private readonly at: Range | undefined,
  ) {}

  fail(reason: string): never {
    const [line, column] = this.doc.position(this.node?.range ?? this.at);
    throw new YamlError(this.doc.file, line, column, this.path, reason);
  }

  get present(): boolean {
    return this.node !== null && !(isScalar(this.node) && this.node.value === null);
  }

  /** Keys of a mapping, each checked against `allowed` so a typo is an error, not a silently ignored field. */
  keys(allowed?: readonly string[]): string[] {
    if (!this.present) return [];
    if (!isMap(this.node)) this.fail('expected a mapping');
    const out: string[] = [];
    for (const pair of this.node.items) {
      const key = isScalar(pair.key) ? String(pair.key.value) : undefined;
      const keyValue: Value = new Value(this.doc, pair.key as Node, this.path, undefined);
      if (key === undefined) keyValue.fail('keys must be plain strings');
      if (allowed && !allowed.includes(key)) {
        keyValue.fail(`unknown field "${key}" (expected one of: ${allowed.join(', ')})`);
      }
      out.push(key);
    }
    return out;
  }

  get(key: string): Value {
    const sub = this.path ? `${this.path}.${key}` : key;
    if (!this.present) return new Value(this.doc, null, sub, this.node?.range ?? this.at);
    if (!isMap(this.node)) this.fail('expected a mapping');
    const pair = this.node.items.find((p) => isScalar(p.key) && String(p.key.value) === key);
    return new Value(this.doc, (pair?.value as Node | undefined) ?? null, sub, this.node.range ?? undefined);
  }

  items(): Value[] {
    if (!this.present) return [];
    if (!isSeq(this.node)) this.fail('expected a list');
    return this.node.items.map(
      (n, i) => new Value(this.doc, n as Node, `${this.path}[${i}]`, this.node?.range ?? undefined),
    );
  }

  private scalar(): unknown {
    if (!isScalar(this.node)) this.fail('expected a single value');
    return this.node.value;
  }

  string(): string;
  string(fallback: string): string;
  string(fallback?: string): string | undefined {
    if (!this.present) return fallback;
    const v = this.scalar();
    if (typeof v === 'string') return v;
    if (typeof v === 'number' || typeof v === 'boolean') return String(v);
    this.fail('expected a string');
  }

  optString(): string | undefined {
    return this.present ? this.string() : undefined;
  }

  int(fallback: number, min = Number.MIN_SAFE_INTEGER, max = Number.MAX_SAFE_INTEGER): number {
    if (!this.present) return fallback;
    const v = this.scalar();
    const n = typeof v === 'string' && /^-?\d+$/.test(v.trim()) ? Number(v) : v;
    if (typeof n !== 'number' || !Number.isInteger(n)) this.fail(`expected a whole number, got ${JSON.stringify(v)}`);
    if (n < min || n > max) this.fail(`must be between ${min} and ${max}, got ${n}`);
    return n;
  }

  bool(fallback: boolean): boolean {
    if (!this.present) return fallback;
    const v = this.scalar();
    if (typeof v === 'boolean') return v;
    if (v === 'true' || v === 'false') return v === 'true';
    this.fail(`expected true or false, got ${JSON.stringify(v)}`);
  }

  oneOf<T extends string>(choices: readonly T[], fallback: T): T {
    const v = this.string(fallback);
    if (!(choices as readonly string[]).includes(v)) this.fail(`must be one of ${choices.join(', ')}, got "${v}"`);
    return v as T;
  }

  strings(): string[] {
    if (!this.present) return [];
    if (isScalar(this.node) && typeof this.node.value === 'string') {
      return this.node.value
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean);
    }
    return this.items().map((i) => i.string());
  }

  /** A flat string → string mapping (labels, variables, selectors). */
  record(): Record<string, string> {
    const out: Record<string, string> = {};
    for (const k of this.keys()) out[k] = this.get(k).string();
    return out;
  }
}

export class YamlDoc {
  private readonly lines = new LineCounter();
  readonly root: Value;

  constructor(
    text: string,
    readonly file: string,
  ) {
    const doc = parseDocument(text, { lineCounter: this.lines, prettyErrors: false, uniqueKeys: true });
    const err = doc.errors[0];
    if (err) {
      const [line, column] = this.position([err.pos[0], err.pos[1], err.pos[1]]);
      throw new YamlError(file, line, column, '', err.message.split('\n')[0] ?? 'YAML syntax error');
    }
    this.root = new Value(this, (doc.contents as Node | null) ?? null, '', undefined);
  }

  position(range: Range | null | undefined): [number, number] {
    if (!range) return [1, 1];
    const p = this.lines.linePos(range[0]);
    return [p.line, p.col];
  }
}
