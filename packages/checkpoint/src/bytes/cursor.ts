import { CheckpointError } from '../errors.js';
import type { ByteSource } from './source.js';

const firstChunk = 64 * 1024;
const maxChunk = 16 * 1024 * 1024;

/**
 * Sequential little-endian reads over a ByteSource for headers of unknown length: bytes are
 * fetched in growing chunks, and `need(n)` must succeed before the synchronous getters read n bytes.
 */
export class ByteCursor {
  pos = 0;
  private buf: Uint8Array = new Uint8Array(0);
  private view = new DataView(this.buf.buffer);
  private bufStart = 0;
  private chunk = firstChunk;

  constructor(private readonly source: ByteSource) {}

  get file(): string {
    return this.source.name;
  }

  get remaining(): number {
    return this.source.size - this.pos;
  }

  /** Makes the next `n` bytes available; `what` names the field for the 'truncated' message. */
  async need(n: number, what: string): Promise<void> {
    if (n > this.remaining) {
      throw new CheckpointError(
        'truncated',
        this.file,
        `${what} needs ${n} bytes at offset ${this.pos} but the file ends at ${this.source.size}`,
      );
    }
    if (this.pos >= this.bufStart && this.pos + n <= this.bufStart + this.buf.byteLength) return;
    const length = Math.min(this.remaining, Math.max(n, this.chunk));
    this.chunk = Math.min(this.chunk * 2, maxChunk);
    this.buf = await this.source.read(this.pos, length);
    this.view = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.byteLength);
    this.bufStart = this.pos;
  }

  private take(n: number): number {
    const at = this.pos - this.bufStart;
    this.pos += n;
    return at;
  }

  u8(): number {
    return this.view.getUint8(this.take(1));
  }
  i8(): number {
    return this.view.getInt8(this.take(1));
  }
  u16(): number {
    return this.view.getUint16(this.take(2), true);
  }
  i16(): number {
    return this.view.getInt16(this.take(2), true);
  }
  u32(): number {
    return this.view.getUint32(this.take(4), true);
  }
  i32(): number {
    return this.view.getInt32(this.take(4), true);
  }
  f32(): number {
    return this.view.getFloat32(this.take(4), true);
  }
  f64(): number {
    return this.view.getFloat64(this.take(8), true);
  }
  u64(): bigint {
    return this.view.getBigUint64(this.take(8), true);
  }
  i64(): bigint {
    return this.view.getBigInt64(this.take(8), true);
  }
  /** A view of the next n bytes (valid until the next `need`). */
  bytes(n: number): Uint8Array {
    const at = this.take(n);
    return this.buf.subarray(at, at + n);
  }
}
