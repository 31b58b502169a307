/**
 * A transfer's blocks, copied out synchronously when their bytes are in memory: the whole file when it is cached,
 * otherwise a chunk read from the file handle, with the next chunk read ahead while this one is sent, so an ACK
 * seldom waits for the disk (tftpd-hpa's `read_ahead` does the same). Chunks start on block boundaries and hold
 * whole blocks, so every block lies in one chunk.
 */
import type { FileSource } from './files.ts';

/** At least this much is read at once: fewer reads for lock-step clients. */
const MIN_CHUNK = 128 * 1024;

interface Chunk {
  /** File offset of the first byte (a multiple of blksize). */
  start: number;
  data: Buffer;
}

export class BlockReader {
  readonly #source: FileSource;
  readonly #bs: number;
  readonly #chunkBytes: number;
  #cur: Chunk | undefined;
  #next: Chunk | undefined;
  /** A read in progress and the offset it starts at. */
  #reading: { start: number; done: Promise<Chunk> } | undefined;

  constructor(source: FileSource, blksize: number, windowsize: number) {
    this.#source = source;
    this.#bs = blksize;
    // Two windows a chunk, so the next one can be read while a window is in flight.
    const blocks = Math.max(Math.ceil(MIN_CHUNK / blksize), 2 * windowsize);
    this.#chunkBytes = blocks * blksize;
    if (source.data) this.#cur = { start: 0, data: source.data };
  }

  /**
   * Copies block `b` (counted from 1) into `dst` at `at`; returns its length (0 for the empty last block of a file
   * whose size is a multiple of blksize), or -1 when its bytes are not in memory yet (call `load`).
   */
  copy(b: number, dst: Buffer, at: number): number {
    const start = (b - 1) * this.#bs;
    const end = Math.min(start + this.#bs, this.#source.size);
    if (end <= start) return 0;
    let c = this.#cur;
    if (!c || start < c.start || end > c.start + c.data.length) {
      const n = this.#next;
      if (!n || start < n.start || end > n.start + n.data.length) return -1;
      this.#cur = c = n;
      this.#next = undefined;
    }
    c.data.copy(dst, at, start - c.start, end - c.start);
    // Past the middle of the chunk: read the next one while this one is sent.
    if (!this.#source.data && !this.#next && start - c.start >= c.data.length / 2) this.#prefetch();
    return end - start;
  }

  /** Brings the chunk holding block `b` into memory. Rejects on a read error. */
  async load(b: number): Promise<void> {
    const start = (b - 1) * this.#bs;
    const r = this.#reading;
    if (r && r.start <= start && start < r.start + this.#chunkBytes) {
      const chunk = await r.done;
      if (start < chunk.start + chunk.data.length) {
        this.#cur = chunk;
        this.#next = undefined;
        return;
      }
    }
    this.#cur = await this.#read(start);
    this.#next = undefined;
  }

  #prefetch(): void {
    const c = this.#cur!;
    const start = c.start + c.data.length;
    if (start >= this.#source.size || this.#reading?.start === start) return;
    this.#read(start).then(
      (chunk) => {
        // Keep it only if the transfer is still in the chunk before it.
        if (this.#cur === c) this.#next = chunk;
      },
      // A failed read ahead is retried by `load`, which reports the error.
      () => {},
    );
  }

  #read(start: number): Promise<Chunk> {
    const done = this.#source.read(start, this.#chunkBytes).then((data) => ({ start, data }));
    const reading = { start, done };
    this.#reading = reading;
    const clear = () => {
      if (this.#reading === reading) this.#reading = undefined;
    };
    done.then(clear, clear);
    return done;
  }
}
