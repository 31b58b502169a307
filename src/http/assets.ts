/**
 * Static files for machines: boot assets under /assets/ and iPXE binaries under /ipxe-bin/. Replaces @fastify/static
 * on this path: it streamed in 64 KiB pieces, and bench/http's profile was spent in per-piece stream and syscall
 * overhead (0.3× nginx). Here a file is read in 1 MiB pieces from a pool, each read overlapping the socket write of
 * the one before, and metadata comes from one open and one fstat.
 *
 * HTTP semantics (RFC 9110): GET and HEAD; strong ETag and Last-Modified; If-Match / If-Unmodified-Since (412),
 * If-None-Match / If-Modified-Since (304); a single byte range (§14.1.2: `a-b`, `a-`, `-n`; ranges that overlap or
 * touch are combined) gets 206, several disjoint ones get the whole file (§14.2: "A server MAY ignore the Range
 * header field"), none satisfiable gets 416 naming the size in Content-Range; If-Range honours Range only when
 * it names the current ETag or Last-Modified (§13.1.5).
 */
import { closeSync, fstatSync, openSync, read, readSync } from 'node:fs';
import type { OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { extname, join, sep } from 'node:path';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { BootherdError } from '../errors.ts';

/** Bytes per read and per socket write: large pieces are what made the difference (see the header comment). */
const CHUNK = 1 << 20;

export interface FileRoutesOptions {
  /** URL prefix with both slashes, e.g. `/assets/`. */
  prefix: string;
  root: string;
  /** Cache-Control when a hook before the handler set none. */
  cacheControl: string;
}

export interface FileMeta {
  size: number;
  mtimeMs: number;
}

export type RangeResult =
  | { kind: 'full' }
  | { kind: 'partial'; start: number; end: number }
  | { kind: 'unsatisfiable' };

/** A Range header against a file of `size` bytes. Anything we do not understand means the whole file. */
export function parseRange(header: string | undefined, size: number): RangeResult {
  if (header === undefined) return { kind: 'full' };
  const m = /^\s*bytes\s*=\s*(.+)$/i.exec(header);
  if (!m?.[1]) return { kind: 'full' };
  const ranges: [number, number][] = [];
  for (const spec of m[1].split(',')) {
    const r = /^\s*(\d*)\s*-\s*(\d*)\s*$/.exec(spec);
    if (!r || (r[1] === '' && r[2] === '')) return { kind: 'full' };
    if (r[1] === '') {
      // suffix-range: the last n bytes; `-0` selects nothing.
      const n = Number(r[2]);
      if (n > 0 && size > 0) ranges.push([Math.max(0, size - n), size - 1]);
      continue;
    }
    const start = Number(r[1]);
    const last = r[2] === '' ? Number.POSITIVE_INFINITY : Number(r[2]);
    // `last < first` makes the whole header invalid (§14.1.1), which means: ignore it.
    if (last < start) return { kind: 'full' };
    if (start < size) ranges.push([start, Math.min(last, size - 1)]);
  }
  if (!ranges.length) return { kind: 'unsatisfiable' };
  ranges.sort((a, b) => a[0] - b[0]);
  const merged: [number, number][] = [ranges[0]!];
  for (const [s, e] of ranges.slice(1)) {
    const last = merged[merged.length - 1]!;
    if (s <= last[1] + 1) last[1] = Math.max(last[1], e);
    else merged.push([s, e]);
  }
  if (merged.length > 1) return { kind: 'full' };
  const [start, end] = merged[0]!;
  return start === 0 && end === size - 1 ? { kind: 'full' } : { kind: 'partial', start, end };
}

export function etagOf(f: FileMeta): string {
  return `"${f.size.toString(16)}-${Math.floor(f.mtimeMs).toString(16)}"`;
}

function lastModifiedOf(f: FileMeta): string {
  return new Date(f.mtimeMs).toUTCString();
}

/** An entity-tag list header (`"a", W/"b"` or `*`) against our tag; `weak` compares without the W/ prefix. */
function tagMatches(header: string, etag: string, weak: boolean): boolean {
  if (header.trim() === '*') return true;
  const plain = (t: string) => (weak ? t.replace(/^W\//, '') : t);
  return header.split(',').some((t) => plain(t.trim()) === etag);
}

/** Whole seconds, as HTTP dates carry them; NaN for a date we cannot read (the header is then ignored). */
function seconds(httpDate: string): number {
  return Math.floor(Date.parse(httpDate) / 1000);
}

export type Verdict =
  | { status: 412 | 304 }
  | { status: 200 }
  | { status: 206; start: number; end: number }
  | { status: 416 };

/** The status for a GET/HEAD of `f` given the request's conditional and Range headers (RFC 9110 §13.2.2 order). */
export function evaluate(h: Record<string, string | string[] | undefined>, f: FileMeta): Verdict {
  const one = (k: string) => {
    const v = h[k];
    return Array.isArray(v) ? v.join(', ') : v;
  };
  const etag = etagOf(f);
  const mtime = Math.floor(f.mtimeMs / 1000);
  const ifMatch = one('if-match');
  const ifUnmodified = one('if-unmodified-since');
  if (ifMatch !== undefined) {
    if (!tagMatches(ifMatch, etag, false)) return { status: 412 };
  } else if (ifUnmodified !== undefined && mtime > seconds(ifUnmodified)) return { status: 412 };
  const ifNoneMatch = one('if-none-match');
  const ifModified = one('if-modified-since');
  if (ifNoneMatch !== undefined) {
    if (tagMatches(ifNoneMatch, etag, true)) return { status: 304 };
  } else if (ifModified !== undefined && mtime <= seconds(ifModified)) return { status: 304 };
  const ifRange = one('if-range');
  if (ifRange !== undefined) {
    const current = ifRange.trim().startsWith('"') ? ifRange.trim() === etag : seconds(ifRange) === mtime;
    if (!current) return { status: 200 };
  }
  const range = parseRange(one('range'), f.size);
  if (range.kind === 'unsatisfiable') return { status: 416 };
  return range.kind === 'partial' ? { status: 206, start: range.start, end: range.end } : { status: 200 };
}

/** The file a URL names under `root`, or undefined: no `..`, no dotfiles, no NUL, nothing outside the root. */
export function resolveUnder(root: string, rawPath: string): string | undefined {
  let rel: string;
  try {
    rel = decodeURIComponent(rawPath);
  } catch {
    return undefined;
  }
  if (!rel || rel.includes('\0')) return undefined;
  const parts = rel.split('/');
  if (parts.some((p) => p === '' || p.startsWith('.'))) return undefined;
  const file = join(root, ...parts);
  return file.startsWith(root.endsWith(sep) ? root : root + sep) ? file : undefined;
}

/** Buffers free for reuse; a buffer comes back once the socket has taken its bytes (the write callback). */
const pool: Buffer[] = [];
const POOL_MAX = 64;

/**
 * Bytes start..end of fd to res: one read ahead of the socket, a piece written as soon as the socket has drained.
 * Ends the response, or destroys it on a read error; closes fd either way.
 */
function pump(fd: number, start: number, end: number, res: ServerResponse): void {
  let pos = start;
  let reading = false;
  let ready: Buffer | undefined;
  let piece: Buffer | undefined;
  let waiting = false;
  let done = false;
  const finish = () => {
    if (done) return;
    done = true;
    closeSync(fd);
  };
  res.once('close', finish);
  const readNext = () => {
    if (reading || ready || done || pos > end) return;
    reading = true;
    const buf = pool.pop() ?? Buffer.allocUnsafeSlow(CHUNK);
    read(fd, buf, 0, Math.min(CHUNK, end - pos + 1), pos, (err, n) => {
      reading = false;
      if (done) return void give(buf);
      if (err || n === 0) {
        give(buf);
        res.destroy(err ?? new Error('file ended early'));
        return;
      }
      pos += n;
      ready = n === buf.length ? buf : buf.subarray(0, n);
      piece = buf;
      writeReady();
    });
  };
  const writeReady = () => {
    if (!ready || waiting) return;
    const data = ready;
    const whole = piece!;
    ready = undefined;
    const more = res.write(data, () => give(whole));
    if (pos > end) {
      res.end();
      return;
    }
    if (!more) {
      waiting = true;
      res.once('drain', () => {
        waiting = false;
        writeReady();
        readNext();
      });
    }
    readNext();
  };
  if (end - start < CHUNK) {
    // One piece (sanboot's Range requests): read it here, not via the thread pool, whose round trip was a fifth of
    // a 1 MiB response's time on one keep-alive connection. The page cache serves it, as it does nginx's sendfile.
    const buf = pool.pop() ?? Buffer.allocUnsafeSlow(CHUNK);
    let n: number;
    try {
      n = readSync(fd, buf, 0, end - start + 1, start);
    } catch (err) {
      give(buf);
      res.destroy(err as Error);
      return;
    }
    if (n < end - start + 1) {
      give(buf);
      res.destroy(new Error('file ended early'));
      return;
    }
    pos += n;
    ready = buf.subarray(0, n);
    piece = buf;
    writeReady();
    return;
  }
  readNext();
}

function give(buf: Buffer): void {
  if (pool.length < POOL_MAX && buf.length === CHUNK) pool.push(buf);
}

const TYPES: Record<string, string> = {
  '.cfg': 'text/plain; charset=utf-8',
  '.ipxe': 'text/plain; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
  '.json': 'application/json',
  '.iso': 'application/x-iso9660-image',
  '.gz': 'application/gzip',
  '.efi': 'application/efi',
};

export async function fileRoutes(app: FastifyInstance, o: FileRoutesOptions): Promise<void> {
  const handler = async (req: FastifyRequest, reply: FastifyReply) => {
    const q = req.url.indexOf('?');
    const path = (q < 0 ? req.url : req.url.slice(0, q)).slice(o.prefix.length);
    const file = resolveUnder(o.root, path);
    const notFound = () => new BootherdError('NOT_FOUND', `no route or file for ${req.method} ${o.prefix}${path}`);
    if (!file) throw notFound();
    let fd: number;
    try {
      // Synchronous: the inode is in the kernel's cache after the first request, and a thread-pool round trip
      // per 1 MiB Range request cost more than these two calls (nginx opens the same way).
      fd = openSync(file, 'r');
    } catch {
      throw notFound();
    }
    let owned = true;
    try {
      const st = fstatSync(fd);
      if (!st.isFile()) throw notFound();
      const meta = { size: st.size, mtimeMs: st.mtimeMs };
      const verdict = evaluate(req.headers, meta);
      if (!reply.hasHeader('cache-control')) reply.header('cache-control', o.cacheControl);
      reply.header('etag', etagOf(meta)).header('last-modified', lastModifiedOf(meta));
      if (verdict.status === 304 || verdict.status === 412) return reply.code(verdict.status).send();
      reply.header('accept-ranges', 'bytes');
      if (verdict.status === 416) {
        reply.header('content-range', `bytes */${meta.size}`);
        throw new BootherdError('RANGE_NOT_SATISFIABLE', `range ${req.headers.range} is outside ${meta.size} bytes`);
      }
      const start = verdict.status === 206 ? verdict.start : 0;
      const end = verdict.status === 206 ? verdict.end : meta.size - 1;
      if (verdict.status === 206) reply.code(206).header('content-range', `bytes ${start}-${end}/${meta.size}`);
      reply
        .header('content-length', String(end - start + 1))
        .type(TYPES[extname(file).toLowerCase()] ?? 'application/octet-stream');
      if (req.method === 'HEAD' || end < start) return reply.send();
      // The body bypasses Fastify's stream piping so pieces come from a pool (a fresh 1 MiB buffer per piece kept
      // the garbage collector busy: 12 % of the profile with 100 clients). onResponse hooks still run on 'finish'.
      owned = false;
      reply.hijack();
      reply.raw.writeHead(reply.statusCode, reply.getHeaders() as OutgoingHttpHeaders);
      pump(fd, start, end, reply.raw);
      return reply;
    } finally {
      if (owned) closeSync(fd);
    }
  };
  app.get(`${o.prefix}*`, { exposeHeadRoute: false }, handler);
  app.head(`${o.prefix}*`, handler);
}
