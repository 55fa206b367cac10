/**
 * Just enough of the WebAssembly binary format to emit one small module from TypeScript: there is no
 * wat2wasm here and a hand-assembled kernel is a few dozen instructions. Spec: webassembly.github.io/spec
 * (binary format, §5); SIMD opcodes are the final 128-bit SIMD proposal numbering.
 */

/** Unsigned LEB128. */
export function uleb(value: number): number[] {
  const out: number[] = [];
  let v = value >>> 0;
  do {
    const byte = v & 0x7f;
    v >>>= 7;
    out.push(v === 0 ? byte : byte | 0x80);
  } while (v !== 0);
  return out;
}

/** Signed LEB128 of a 32-bit integer. */
export function sleb(value: number): number[] {
  const out: number[] = [];
  let v = value | 0;
  for (;;) {
    const byte = v & 0x7f;
    v >>= 7;
    const done = (v === 0 && (byte & 0x40) === 0) || (v === -1 && (byte & 0x40) !== 0);
    out.push(done ? byte : byte | 0x80);
    if (done) return out;
  }
}

export const I32 = 0x7f;
export const F32 = 0x7d;
export const V128 = 0x7b;

/** Opcodes used by our kernels; `simd(n)` prefixes a 0xfd-space opcode. */
export const op = {
  block: 0x02, loop: 0x03, br: 0x0c, brIf: 0x0d, end: 0x0b, void: 0x40,
  localGet: 0x20, localSet: 0x21, localTee: 0x22,
  f32Load: 0x2a, f32Store: 0x38, i32Const: 0x41,
  i32GeU: 0x4f, i32GtU: 0x4b, i32Add: 0x6a, i32Mul: 0x6c, i32And: 0x71, i32Shl: 0x74,
  f32Add: 0x92, f32Mul: 0x94,
} as const;

const simd = (code: number): number[] => [0xfd, ...uleb(code)];
export const simdOp = {
  v128Load: simd(0x00), v128Const: simd(0x0c), f32x4ExtractLane: simd(0x1f),
  f32x4Add: simd(0xe4), f32x4Mul: simd(0xe6),
} as const;

function vec(items: readonly number[][]): number[] {
  return [...uleb(items.length), ...items.flat()];
}

function name(text: string): number[] {
  const bytes = [...new TextEncoder().encode(text)];
  return [...uleb(bytes.length), ...bytes];
}

function section(id: number, body: number[]): number[] {
  return [id, ...uleb(body.length), ...body];
}

export interface FunctionSpec {
  readonly name: string;
  readonly params: readonly number[];
  /** Extra locals after the parameters, in order. */
  readonly locals: readonly number[];
  /** The body's instructions, without the final `end`. */
  readonly body: readonly number[];
}

/**
 * A module that imports one shared memory as `env.memory` (so several threads, and tfjs's own heap,
 * can be the same memory) and exports void functions.
 */
export function moduleWithSharedMemory(functions: readonly FunctionSpec[]): Uint8Array<ArrayBuffer> {
  const types = functions.map((f) => [0x60, ...vec(f.params.map((p) => [p])), 0x00]);
  const maxPages = 65536; // 4 GiB: the most a wasm32 memory can have; an import must allow at least the exporter's max
  const memoryImport = [...name('env'), ...name('memory'), 0x02, 0x03, ...uleb(1), ...uleb(maxPages)]; // 0x03: shared, with max
  const bodies = functions.map((f) => {
    const locals = f.locals.map((t) => [...uleb(1), t]);
    const code = [...vec(locals), ...f.body, op.end];
    return [...uleb(code.length), ...code];
  });
  return Uint8Array.from([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, vec(types)),
    ...section(2, vec([memoryImport])),
    ...section(3, vec(functions.map((_, i) => uleb(i)))),
    ...section(7, vec(functions.map((f, i) => [...name(f.name), 0x00, ...uleb(i)]))),
    ...section(10, vec(bodies)),
  ]);
}
