/** A growable little-endian byte buffer for writers. */
export class ByteBuilder {
  private buf = new Uint8Array(1024);
  private view = new DataView(this.buf.buffer);
  length = 0;

  /** Claims n bytes at the end, growing (and so replacing buf and view) when needed. */
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

  /** Reserve first, then write through the (possibly new) view. */
  private put(n: number, write: (view: DataView, at: number) => void): void {
    const at = this.reserve(n);
    write(this.view, at);
  }

  u8(v: number): void {
    this.put(1, (d, at) => d.setUint8(at, v));
  }
  i8(v: number): void {
    this.put(1, (d, at) => d.setInt8(at, v));
  }
  u16(v: number): void {
    this.put(2, (d, at) => d.setUint16(at, v, true));
  }
  i16(v: number): void {
    this.put(2, (d, at) => d.setInt16(at, v, true));
  }
  u32(v: number): void {
    this.put(4, (d, at) => d.setUint32(at, v, true));
  }
  i32(v: number): void {
    this.put(4, (d, at) => d.setInt32(at, v, true));
  }
  f32(v: number): void {
    this.put(4, (d, at) => d.setFloat32(at, v, true));
  }
  f64(v: number): void {
    this.put(8, (d, at) => d.setFloat64(at, v, true));
  }
  u64(v: number | bigint): void {
    this.put(8, (d, at) => d.setBigUint64(at, BigInt(v), true));
  }
  i64(v: number | bigint): void {
    this.put(8, (d, at) => d.setBigInt64(at, BigInt(v), true));
  }
  bytes(b: Uint8Array): void {
    const at = this.reserve(b.byteLength);
    this.buf.set(b, at);
  }
  /** Zero bytes up to the next multiple of `alignment`. */
  pad(alignment: number): void {
    this.reserve(Math.ceil(this.length / alignment) * alignment - this.length);
  }

  finish(): Uint8Array {
    return this.buf.slice(0, this.length);
  }
}
