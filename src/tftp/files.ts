/**
 * Where TFTP reads come from: generated files (from the boot policy) first, then each root directory in order.
 * Paths are confined: a request can never name, directly or through a symlink, a file outside its root.
 */
import { constants, type Stats } from 'node:fs';
import { type FileHandle, open, realpath, stat } from 'node:fs/promises';
import { join, sep } from 'node:path';
import { TftpErrorCode } from './packet.ts';

export interface TftpClient {
  address: string;
  port: number;
}

/**
 * Implemented by the boot policy (pxelinux.cfg/01-<mac>, per-machine scripts). undefined: not a generated file;
 * `{ file }`: a file elsewhere the policy vouches for (an asset GRUB loads), read like a root's files: small ones
 * cached, large ones through a handle, never whole into memory.
 */
export interface GeneratedFiles {
  get(path: string, client: TftpClient): Promise<Buffer | { file: string } | undefined>;
}

/** An open file. `data` holds the whole content when it is in memory; otherwise use `read`. */
export interface FileSource {
  readonly size: number;
  readonly data: Buffer | undefined;
  read(offset: number, length: number): Promise<Buffer>;
  close(): Promise<void>;
}

export type OpenResult =
  | { ok: true; file: FileSource; path: string }
  | { ok: false; code: TftpErrorCode; message: string };

export interface FileStoreOptions {
  roots: string[];
  generated?: GeneratedFiles;
  /** Total bytes of file contents kept in memory (LRU). Default 64 MiB. */
  cacheBytes?: number;
  /** Files up to this size are cached whole; larger ones are read through a handle. Default 8 MiB. */
  cacheMaxFileBytes?: number;
}

export type PathCheck = { ok: true; path: string; absolute: boolean } | { ok: false; message: string };

/**
 * Normalizes a requested name to a relative path of plain segments. Refuses NUL, backslashes (a Windows-style
 * separator some clients use to smuggle `..\`), control characters and `..` segments. A leading `/` is
 * stripped (clients often ask for `/pxelinux.0`) but remembered, so the caller can refuse absolute names that
 * are not inside a root.
 */
export function checkRequestPath(name: string): PathCheck {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: refusing control characters is the point.
  if (/[\u0000-\u001f\u007f\\]/.test(name)) return { ok: false, message: 'illegal character in file name' };
  const absolute = name.startsWith('/');
  const segments = name.split('/').filter((s) => s !== '' && s !== '.');
  if (segments.some((s) => s === '..')) return { ok: false, message: '".." in file name' };
  if (segments.length === 0) return { ok: false, message: 'empty file name' };
  return { ok: true, path: segments.join('/'), absolute };
}

function memorySource(data: Buffer): FileSource {
  return {
    size: data.length,
    data,
    read: async (offset, length) => data.subarray(offset, offset + length),
    close: async () => {},
  };
}

function handleSource(fh: FileHandle, size: number): FileSource {
  return {
    size,
    data: undefined,
    async read(offset, length) {
      const buf = Buffer.allocUnsafe(Math.max(0, Math.min(length, size - offset)));
      let got = 0;
      while (got < buf.length) {
        const { bytesRead } = await fh.read(buf, got, buf.length - got, offset + got);
        if (bytesRead === 0) break;
        got += bytesRead;
      }
      return got === buf.length ? buf : buf.subarray(0, got);
    },
    close: () => fh.close(),
  };
}

interface CacheEntry {
  data: Buffer;
  mtimeMs: number;
  ino: number;
  size: number;
}

export interface FileStoreStats {
  cacheHits: number;
  cacheMisses: number;
  cachedBytes: number;
}

export class FileStore {
  readonly #roots: string[];
  #realRoots: Promise<string[]> | undefined;
  readonly #generated: GeneratedFiles | undefined;
  readonly #cacheBytes: number;
  readonly #cacheMaxFile: number;
  /** Map iteration order is insertion order: the first key is the least recently used. */
  readonly #cache = new Map<string, CacheEntry>();
  /** Concurrent first reads of one file share one disk read. */
  readonly #loading = new Map<string, Promise<Buffer>>();
  #cached = 0;
  #hits = 0;
  #misses = 0;

  constructor(opts: FileStoreOptions) {
    this.#roots = opts.roots;
    this.#generated = opts.generated;
    this.#cacheBytes = opts.cacheBytes ?? 64 * 1024 * 1024;
    this.#cacheMaxFile = Math.min(opts.cacheMaxFileBytes ?? 8 * 1024 * 1024, this.#cacheBytes);
  }

  stats(): FileStoreStats {
    return { cacheHits: this.#hits, cacheMisses: this.#misses, cachedBytes: this.#cached };
  }

  /** Roots resolved once; a root that does not exist is skipped (a missing ipxe package must not stop TFTP). */
  #resolveRoots(): Promise<string[]> {
    this.#realRoots ??= Promise.all(this.#roots.map((r) => realpath(r).catch(() => undefined))).then((rs) =>
      rs.filter((r): r is string => r !== undefined),
    );
    return this.#realRoots;
  }

  async open(name: string, client: TftpClient): Promise<OpenResult> {
    const checked = checkRequestPath(name);
    if (!checked.ok) return { ok: false, code: TftpErrorCode.AccessViolation, message: checked.message };
    if (this.#generated) {
      const data = await this.#generated.get(checked.path, client);
      if (Buffer.isBuffer(data)) return { ok: true, file: memorySource(data), path: `generated:${checked.path}` };
      if (data) {
        try {
          return await this.#openFile(data.file, await stat(data.file));
        } catch (e) {
          return this.#readError(e);
        }
      }
    }
    const roots = await this.#resolveRoots();
    const candidates: { root: string; rel: string }[] = [];
    if (checked.absolute) {
      // "/srv/tftp/pxelinux.0" with root /srv/tftp: the client sent the full server path.
      for (const root of roots) {
        const prefix = root.endsWith(sep) ? root : root + sep;
        if (`/${checked.path}`.startsWith(prefix))
          candidates.push({ root, rel: `/${checked.path}`.slice(prefix.length) });
      }
    }
    for (const root of roots) candidates.push({ root, rel: checked.path });

    for (const { root, rel } of candidates) {
      const r = await this.#openIn(root, rel);
      if (r) return r;
    }
    // An absolute name found in no root names something outside them: that is an access violation, not a miss.
    if (checked.absolute) return { ok: false, code: TftpErrorCode.AccessViolation, message: 'outside the TFTP roots' };
    return { ok: false, code: TftpErrorCode.FileNotFound, message: 'file not found' };
  }

  /** undefined: not in this root, try the next. */
  async #openIn(root: string, rel: string): Promise<OpenResult | undefined> {
    let real: string;
    try {
      real = await realpath(join(root, rel));
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'EACCES') return { ok: false, code: TftpErrorCode.AccessViolation, message: 'permission denied' };
      return undefined;
    }
    const prefix = root.endsWith(sep) ? root : root + sep;
    if (!real.startsWith(prefix))
      return { ok: false, code: TftpErrorCode.AccessViolation, message: 'outside the root' };
    let st: Stats;
    try {
      st = await stat(real);
    } catch {
      return undefined;
    }
    return this.#openFile(real, st);
  }

  async #openFile(real: string, st: Stats): Promise<OpenResult> {
    if (!st.isFile()) return { ok: false, code: TftpErrorCode.AccessViolation, message: 'not a regular file' };
    if (st.size <= this.#cacheMaxFile) {
      try {
        return { ok: true, file: memorySource(await this.#cachedRead(real, st)), path: real };
      } catch (e) {
        return this.#readError(e);
      }
    }
    try {
      const fh = await open(real, constants.O_RDONLY);
      const size = (await fh.stat()).size;
      return { ok: true, file: handleSource(fh, size), path: real };
    } catch (e) {
      return this.#readError(e);
    }
  }

  #readError(e: unknown): OpenResult {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EACCES' || code === 'EPERM')
      return { ok: false, code: TftpErrorCode.AccessViolation, message: 'permission denied' };
    if (code === 'ENOENT') return { ok: false, code: TftpErrorCode.FileNotFound, message: 'file not found' };
    return { ok: false, code: TftpErrorCode.NotDefined, message: `read error ${code ?? ''}`.trim() };
  }

  async #cachedRead(real: string, st: Stats): Promise<Buffer> {
    const hit = this.#cache.get(real);
    if (hit && hit.mtimeMs === st.mtimeMs && hit.ino === st.ino && hit.size === st.size) {
      this.#hits++;
      this.#cache.delete(real);
      this.#cache.set(real, hit);
      return hit.data;
    }
    const key = `${real}\0${st.ino}\0${st.mtimeMs}\0${st.size}`;
    let loading = this.#loading.get(key);
    if (!loading) {
      this.#misses++;
      loading = this.#load(real, st, key);
      this.#loading.set(key, loading);
    }
    return loading;
  }

  async #load(real: string, st: Stats, key: string): Promise<Buffer> {
    try {
      const fh = await open(real, constants.O_RDONLY);
      let data: Buffer;
      try {
        data = await fh.readFile();
      } finally {
        await fh.close();
      }
      const old = this.#cache.get(real);
      if (old) {
        this.#cache.delete(real);
        this.#cached -= old.data.length;
      }
      this.#cache.set(real, { data, mtimeMs: st.mtimeMs, ino: st.ino, size: data.length });
      this.#cached += data.length;
      for (const [k, v] of this.#cache) {
        if (this.#cached <= this.#cacheBytes) break;
        this.#cache.delete(k);
        this.#cached -= v.data.length;
      }
      return data;
    } finally {
      this.#loading.delete(key);
    }
  }
}
