/**
 * The one WebAssembly byte encoder of the package: just enough of the binary format to emit a module
 * of hand-assembled kernels from TypeScript (there is no wat2wasm here, and a kernel is a few hundred
 * instructions). Spec: webassembly.github.io/spec, binary format §5.
 */
export type Code = number[];

export const I32 = 0x7f;
export const F32 = 0x7d;
export const F64 = 0x7c;
export const V128 = 0x7b;

/** Unsigned LEB128. */
export function uleb(value: number): Code {
  const out: Code = [];
  let v = value >>> 0;
  do {
    const byte = v & 0x7f;
    v >>>= 7;
    out.push(v === 0 ? byte : byte | 0x80);
  } while (v !== 0);
  return out;
}

/** Signed LEB128 of a 32-bit integer. */
export function sleb(value: number): Code {
  const out: Code = [];
  let v = value | 0;
  for (;;) {
    const byte = v & 0x7f;
    v >>= 7;
    const done = (v === 0 && (byte & 0x40) === 0) || (v === -1 && (byte & 0x40) !== 0);
    out.push(done ? byte : byte | 0x80);
    if (done) return out;
  }
}

/** One exported function: `params` i32 parameters, no result. */
export interface KernelFunction {
  readonly name: string;
  /** Parameter count (all i32). */
  readonly params: number;
  /** Types of the extra locals, in order after the parameters. */
  readonly locals: readonly number[];
  /** The body's instructions, without the final `end`. */
  readonly body: Code;
}

function vec(items: readonly Code[]): Code {
  return [...uleb(items.length), ...items.flat()];
}

function name(text: string): Code {
  const bytes = [...new TextEncoder().encode(text)];
  return [...uleb(bytes.length), ...bytes];
}

function section(id: number, body: Code): Code {
  return [id, ...uleb(body.length), ...body];
}

/** The most pages a wasm32 memory can have: an import must allow at least its exporter's maximum. */
const MAX_PAGES = 65536;

/**
 * A module importing `env.memory` and exporting void functions of i32 parameters. `shared`: the
 * memory is shared with a 4 GiB maximum (several threads, and tfjs's threaded heap, are then the same
 * memory); else plain with no maximum, so a growable emscripten heap fits.
 */
export function kernelModule(functions: readonly KernelFunction[], shared: boolean): Uint8Array<ArrayBuffer> {
  const types = functions.map((f) => [0x60, ...vec(new Array<Code>(f.params).fill([I32])), 0x00]);
  const limits = shared ? [0x03, ...uleb(1), ...uleb(MAX_PAGES)] : [0x00, ...uleb(1)];
  const memoryImport = [...name('env'), ...name('memory'), 0x02, ...limits];
  const bodies = functions.map((f) => {
    const code = [...vec(f.locals.map((t) => [...uleb(1), t])), ...f.body, 0x0b];
    return [...uleb(code.length), ...code];
  });
  return Uint8Array.from([
    0x00,
    0x61,
    0x73,
    0x6d,
    0x01,
    0x00,
    0x00,
    0x00,
    ...section(1, vec(types)),
    ...section(2, vec([memoryImport])),
    ...section(3, vec(functions.map((_, i) => uleb(i)))),
    ...section(7, vec(functions.map((f, i) => [...name(f.name), 0x00, ...uleb(i)]))),
    ...section(10, vec(bodies)),
  ]);
}
