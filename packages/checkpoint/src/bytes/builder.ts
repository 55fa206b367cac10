/** A growable little-endian byte buffer for writers. */
export class ByteBuilder {
  private buf = new Uint8Array(1024);
  private view = new DataView(this.buf.buffer);
  length = 0;

  private reserve(n: number): number {
    if (this.length + n > this.buf.byteLength) {
      const next = new Uint8Array(Math.max(this.buf.byteLength * 2, this.length + n));
      next.set(this.buf.subarray(0, this.length));
      this.buf = next;
      this.view = new DataView(next.buffer);
    }
    const at = this.length;
    this.length += n;
    return at;
  }

  u8(v: number): void {
    this.view.setUint8(this.reserve(1), v);
  }
  i8(v: number): void {
    this.view.setInt8(this.reserve(1), v);
  }
  u16(v: number): void {
    this.view.setUint16(this.reserve(2), v, true);
  }
  i16(v: number): void {
    this.view.setInt16(this.reserve(2), v, true);
  }
  u32(v: number): void {
    this.view.setUint32(this.reserve(4), v, true);
  }
  i32(v: number): void {
    this.view.setInt32(this.reserve(4), v, true);
  }
  f32(v: number): void {
    this.view.setFloat32(this.reserve(4), v, true);
  }
  f64(v: number): void {
    this.view.setFloat64(this.reserve(8), v, true);
  }
  u64(v: number | bigint): void {
    this.view.setBigUint64(this.reserve(8), BigInt(v), true);
  }
  i64(v: number | bigint): void {
    this.view.setBigInt64(this.reserve(8), BigInt(v), true);
  }
  bytes(b: Uint8Array): void {
    const at = this.reserve(b.byteLength); // may replace this.buf, so reserve first
    this.buf.set(b, at);
  }
  /** Zero bytes up to the next multiple of `alignment`. */
  pad(alignment: number): void {
    const target = Math.ceil(this.length / alignment) * alignment;
    this.reserve(target - this.length);
  }

  finish(): Uint8Array {
    return this.buf.slice(0, this.length);
  }
}
