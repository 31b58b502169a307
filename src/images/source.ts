/** Positional reads of an ISO image, refused past its end: the one way the ISO readers touch the file. */
import type { FileHandle } from 'node:fs/promises';
import { BootherdError } from '../errors.ts';

export function isoError(message: string): BootherdError {
  return new BootherdError('ISO_INVALID', message);
}

/** A positional reader over the image that refuses ranges past its end. */
export class Source {
  constructor(
    private readonly fh: FileHandle,
    readonly size: number,
    private readonly name: string,
  ) {}

  async read(offset: number, length: number, what: string): Promise<Buffer> {
    if (!Number.isSafeInteger(offset) || offset < 0 || length < 0 || offset + length > this.size)
      throw isoError(`${this.name}: ${what} lies past the end of the image (truncated or corrupt)`);
    const buf = Buffer.alloc(length);
    let done = 0;
    while (done < length) {
      const { bytesRead } = await this.fh.read(buf, done, length - done, offset + done);
      if (bytesRead === 0) throw isoError(`${this.name}: ${what}: unexpected end of file`);
      done += bytesRead;
    }
    return buf;
  }
}
