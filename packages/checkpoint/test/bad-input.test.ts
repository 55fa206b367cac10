import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  bytesSource,
  CheckpointError,
  ConfigError,
  expectedTensors,
  hfToGgufName,
  openCheckpoint,
  openSafetensors,
  readGguf,
  writeGguf,
  writeSafetensors,
  type CheckpointErrorCode,
} from '@recur/checkpoint';
import { loadCheckpoint } from '@recur/checkpoint/node';
import { tinyConfig, tinyGguf, tinyGgufMetadata, tinyHfConfigJson, tinySafetensors } from './tiny-model.js';

/** A safetensors file with a hand-written header and `dataBytes` zero bytes of data. */
function rawSafetensors(header: string | Uint8Array, dataBytes: number): Uint8Array {
  const json = typeof header === 'string' ? new TextEncoder().encode(header) : header;
  const out = new Uint8Array(8 + json.byteLength + dataBytes);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.byteLength), true);
  out.set(json, 8);
  return out;
}

const entry = (dtype: string, shape: number[], begin: number, end: number) => ({
  dtype,
  shape,
  data_offsets: [begin, end],
});

async function failure(promise: Promise<unknown>): Promise<CheckpointError | ConfigError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (error instanceof CheckpointError || error instanceof ConfigError) return error;
  throw new Error(`expected a CheckpointError or ConfigError, got ${String(error)}`);
}

async function expectCode(promise: Promise<unknown>, code: CheckpointErrorCode, message?: RegExp): Promise<void> {
  const error = await failure(promise);
  expect(error).toBeInstanceOf(CheckpointError);
  expect((error as CheckpointError).code).toBe(code);
  expect(error.message).not.toContain('\n');
  if (message) expect(error.message).toMatch(message);
}

const openRaw = (header: string | Uint8Array | object, dataBytes: number) =>
  openSafetensors(
    bytesSource(
      rawSafetensors(
        typeof header === 'object' && !(header instanceof Uint8Array) ? JSON.stringify(header) : header,
        dataBytes,
      ),
      'model.safetensors',
    ),
  );

describe('safetensors: every fault is a typed CheckpointError naming the file and tensor', () => {
  it('truncated file', async () => {
    await expectCode(
      openSafetensors(bytesSource(new Uint8Array(5), 'model.safetensors')),
      'truncated',
      /^model\.safetensors: /,
    );
    const cut = tinySafetensors().subarray(0, 2000);
    await expectCode(openSafetensors(bytesSource(cut, 'model.safetensors')), 'offset-out-of-range');
  });

  it('header length beyond the file', async () => {
    const bytes = rawSafetensors('{}', 0);
    new DataView(bytes.buffer).setBigUint64(0, 2n ** 62n, true);
    await expectCode(openSafetensors(bytesSource(bytes, 'model.safetensors')), 'header-too-long');
  });

  it('offsets out of range', async () => {
    await expectCode(
      openRaw({ x: entry('F32', [20], 10, 90) }, 64),
      'offset-out-of-range',
      /^model\.safetensors: tensor "x" spans bytes 10\.\.90 but the data area has 64 bytes$/,
    );
    await expectCode(openRaw({ x: entry('F32', [1], 8, 4) }, 64), 'offset-out-of-range');
  });

  it('overlapping tensors', async () => {
    await expectCode(openRaw({ a: entry('F32', [4], 0, 16), b: entry('F32', [4], 12, 28) }, 64), 'overlap', /"a".*"b"/);
  });

  it('tensors must tile the data area: a hole, bytes before the first or after the last are refused', async () => {
    await expectCode(
      openRaw({ a: entry('F32', [2], 0, 8), b: entry('F32', [2], 16, 24) }, 24),
      'gap',
      /"a" ends at byte 8 but "b" starts at 16/,
    );
    await expectCode(openRaw({ a: entry('F32', [2], 4, 12) }, 12), 'gap', /first tensor "a" starts at byte 4/);
    await expectCode(
      openRaw({ a: entry('F32', [2], 0, 8) }, 64),
      'trailing-data',
      /56 bytes after the last tensor "a"/,
    );
    const file = await openRaw(
      { b: entry('F32', [2], 8, 16), a: entry('F32', [2], 0, 8), empty: entry('F32', [0], 16, 16) },
      16,
    );
    expect(await file.read('b')).toEqual(new Float32Array(2));
  });

  it('a header length one byte short (every tensor shifted by one) is refused', async () => {
    const bytes = tinySafetensors().slice();
    const view = new DataView(bytes.buffer);
    view.setBigUint64(0, view.getBigUint64(0, true) - 1n, true);
    await expectCode(
      openSafetensors(bytesSource(bytes, 'model.safetensors')),
      'trailing-data',
      /1 byte after the last tensor/,
    );
  });

  it('unknown dtype; known but undecodable dtype', async () => {
    await expectCode(openRaw({ x: entry('F12', [1], 0, 2) }, 8), 'unknown-dtype', /"x".*F12/);
    const file = await openRaw({ x: entry('I64', [1], 0, 8) }, 8);
    await expectCode(file.read('x'), 'unsupported-dtype', /"x" is I64/);
  });

  it('dtype / shape / byte size mismatch, and bad shapes', async () => {
    await expectCode(
      openRaw({ x: entry('F16', [4], 0, 16) }, 64),
      'size-mismatch',
      /F16 \[4\] = 8 bytes but its offsets span 16/,
    );
    await expectCode(openRaw({ x: entry('F32', [2 ** 40, 2 ** 40], 0, 16) }, 64), 'size-mismatch');
    await expectCode(openRaw({ x: entry('F32', [-1], 0, 0) }, 64), 'bad-shape');
    await expectCode(openRaw({ x: entry('F32', [1.5], 0, 0) }, 64), 'bad-shape');
    await expectCode(openRaw({ x: { dtype: 'F32', shape: [1] } }, 64), 'bad-header');
  });

  it('missing tensor', async () => {
    const file = await openRaw({ a: entry('F32', [1], 0, 4) }, 4);
    await expectCode(file.read('b'), 'missing-tensor', /"b"/);
  });

  it('non-UTF-8 header, non-JSON header, non-object header, bad __metadata__', async () => {
    await expectCode(openRaw(new Uint8Array([0x7b, 0xff, 0xfe, 0x7d]), 0), 'bad-utf8');
    await expectCode(openRaw('{"a": ', 0), 'bad-json');
    await expectCode(openRaw('[1, 2]', 0), 'bad-json');
    await expectCode(openRaw({ __metadata__: { n: 1 } }, 0), 'bad-metadata');
  });
});

describe('GGUF: every fault is a typed CheckpointError', () => {
  const open = (bytes: Uint8Array) => readGguf(bytesSource(bytes, 'model.gguf'));
  const patched = (at: number, write: (view: DataView) => void): Uint8Array => {
    const bytes = tinyGguf().slice();
    write(new DataView(bytes.buffer, at));
    return bytes;
  };

  it('wrong magic', async () => {
    const bytes = tinyGguf().slice();
    bytes.set([0x47, 0x47, 0x55, 0x58]);
    await expectCode(open(bytes), 'bad-magic', /^model\.gguf: starts with "GGUX"/);
  });

  it('wrong version', async () => {
    await expectCode(open(patched(4, (v) => v.setUint32(0, 4, true))), 'bad-version', /version 4/);
    await expectCode(open(patched(4, (v) => v.setUint32(0, 1, true))), 'bad-version');
  });

  it('absurd counts are refused before allocating', async () => {
    await expectCode(open(patched(8, (v) => v.setBigUint64(0, 2n ** 60n, true))), 'truncated', /tensor count/);
    await expectCode(open(patched(16, (v) => v.setBigUint64(0, 2n ** 60n, true))), 'truncated', /metadata count/);
    await expectCode(open(patched(24, (v) => v.setBigUint64(0, 2n ** 63n, true))), 'truncated', /metadata key #0/);
  });

  it('truncated file', async () => {
    await expectCode(open(tinyGguf().subarray(0, 2)), 'truncated');
    const one = writeGguf({
      metadata: [],
      tensors: [{ name: 'w', shape: [1], dtype: 'F32', data: new Float32Array(1) }],
    });
    await expectCode(
      open(one.subarray(0, 45)),
      'truncated',
      /shape, type and offset of tensor "w" needs 20 bytes at offset 37/,
    );
    await expectCode(open(tinyGguf().subarray(0, 30)), 'truncated', /tensor count is 11 but only 14 bytes remain/);
    await expectCode(open(tinyGguf().subarray(0, 1000)), 'truncated', /tokenizer\.ggml\.tokens.*275/);
    await expectCode(open(tinyGguf().subarray(0, tinyGguf().byteLength - 4)), 'offset-out-of-range');
  });

  it('nested arrays, unknown value types, duplicate keys, bad alignment', async () => {
    const nested = writeGguf({ metadata: [{ key: 'k', type: 'array', itemType: 'int8', value: [] }], tensors: [] });
    new DataView(nested.buffer).setUint32(24 + 8 + 1 + 4, 9, true); // item type → array
    await expectCode(open(nested), 'nested-array');
    const badType = writeGguf({ metadata: [{ key: 'k', type: 'uint8', value: 1 }], tensors: [] });
    new DataView(badType.buffer).setUint32(24 + 8 + 1, 99, true);
    await expectCode(open(badType), 'bad-value-type', /99/);
    const twice = writeGguf({
      metadata: [
        { key: 'k', type: 'uint8', value: 1 },
        { key: 'k', type: 'uint8', value: 2 },
      ],
      tensors: [],
    });
    await expectCode(open(twice), 'duplicate-key');
    const align = writeGguf({ metadata: [], alignment: 64, tensors: [] });
    new DataView(align.buffer).setUint32(24 + 8 + 'general.alignment'.length + 4, 3, true);
    await expectCode(open(align), 'bad-alignment', /general\.alignment is 3/);
  });

  it('tensors must tile the data area in order (as llama.cpp requires): a type change that no longer fits is refused', async () => {
    const two = () =>
      writeGguf({
        metadata: [],
        tensors: [
          { name: 'a', shape: [64], dtype: 'F16', data: new Float32Array(64) },
          { name: 'b', shape: [8], dtype: 'F32', data: new Float32Array(8) },
        ],
      });
    const typeOffset = 24 + 8 + 'a'.length + 4 + 8;
    const grown = two();
    new DataView(grown.buffer).setUint32(typeOffset, 0, true); // a: F16 → F32, 256 bytes where 128 are
    await expectCode(open(grown), 'overlap', /"a".*"b"/);
    const shrunk = two();
    new DataView(shrunk.buffer).setUint32(typeOffset, 8, true); // a: F16 → Q8_0, 68 bytes where 128 are
    await expectCode(open(shrunk), 'gap', /"b" starts at data offset 128 but "a" ends at 68 \(96 with padding\)/);
    const moved = two();
    const offsetOfB = typeOffset + 4 + 8 + 8 + 'b'.length + 4 + 8 + 4;
    new DataView(moved.buffer).setBigUint64(offsetOfB, 96n, true);
    await expectCode(open(moved), 'overlap');
    const padded = new Uint8Array(two().byteLength + 64);
    padded.set(two());
    await expectCode(open(padded), 'trailing-data', /64 bytes after the last tensor "b"/);
  });

  it('unsupported tensor types are refused on read, unknown ones on open', async () => {
    const f32 = writeGguf({
      metadata: [],
      tensors: [{ name: 'w', shape: [32], dtype: 'F32', data: new Float32Array(32) }],
    });
    const typeOffset = 24 + 8 + 'w'.length + 4 + 8; // header, name length, name, n_dims, ne[0]
    const { dataOffset } = await open(f32);
    // Q4_1 (known, not decoded): 20 bytes per 32 values, padded to the alignment
    const q4 = f32.slice(0, dataOffset + 32);
    new DataView(q4.buffer).setUint32(typeOffset, 3, true);
    const file = await open(q4);
    expect(file.tensors[0]!.dtype).toBe('Q4_1');
    await expectCode(file.read('w'), 'unsupported-dtype', /"w" is Q4_1; only .*Q4_0.*can be decoded/);
    new DataView(q4.buffer).setUint32(typeOffset, 77, true);
    await expectCode(open(q4), 'unknown-dtype', /77/);
  });
});

describe('checkpoints: missing pieces and inconsistent configs', () => {
  const dir = mkdtempSync(join(tmpdir(), 'recur-checkpoint-'));
  const text = (s: string, name: string) => bytesSource(new TextEncoder().encode(s), name);

  it('non-existent path', async () => {
    await expectCode(loadCheckpoint(join(dir, 'nope.gguf')), 'not-found', /nope\.gguf: no such file or directory/);
  });

  it('directory with no model', async () => {
    const empty = join(dir, 'empty');
    mkdirSync(empty);
    writeFileSync(join(empty, 'notes.txt'), 'hi');
    await expectCode(loadCheckpoint(empty), 'no-model', /empty: no model found/);
  });

  it('safetensors without config.json', async () => {
    await expectCode(openCheckpoint([bytesSource(tinySafetensors(), 'model.safetensors')]), 'no-config');
  });

  it('inconsistent head counts in config.json → ConfigError', async () => {
    const error = await failure(
      openCheckpoint([
        text(tinyHfConfigJson({ num_key_value_heads: 3 }), 'config.json'),
        bytesSource(tinySafetensors(), 'model.safetensors'),
      ]),
    );
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).field).toBe('num_key_value_heads');
  });

  it('config that does not fit the tensors → shape-mismatch; missing tensor → missing-tensor', async () => {
    const files = (config: string) => [
      text(config, 'config.json'),
      bytesSource(tinySafetensors(), 'model.safetensors'),
    ];
    await expectCode(
      openCheckpoint(files(tinyHfConfigJson({ intermediate_size: 16 }))),
      'shape-mismatch',
      /gate_proj.*\[12, 8\].*\[16, 8\]/,
    );
    await expectCode(
      openCheckpoint(files(tinyHfConfigJson({ num_hidden_layers: 2 }))),
      'missing-tensor',
      /model\.layers\.1\./,
    );
    const checkpoint = await openCheckpoint(files(tinyHfConfigJson()));
    await expectCode(checkpoint.read('lm_head.weight'), 'missing-tensor', /"lm_head\.weight"/);
  });

  it('a config declaring fewer layers than the weights hold → unused-tensor naming the layer (safetensors and GGUF)', async () => {
    const twoLayers = [...expectedTensors({ ...tinyConfig, numLayers: 2 })].map(([name, shape]) => ({
      name,
      shape,
      dtype: 'F32' as const,
      data: new Float32Array(shape.reduce((a, b) => a * b, 1)),
    }));
    const files = [
      text(tinyHfConfigJson({ num_hidden_layers: 1 }), 'config.json'),
      bytesSource(writeSafetensors(twoLayers), 'model.safetensors'),
    ];
    await expectCode(
      openCheckpoint(files),
      'unused-tensor',
      /model\.safetensors: .*"model\.layers\.1\.input_layernorm\.weight".*layer 1.*declares 1 layer/,
    );
    const gguf = writeGguf({
      metadata: tinyGgufMetadata(),
      tensors: twoLayers.map((t) => ({ ...t, name: hfToGgufName(t.name)! })),
    });
    await expectCode(
      openCheckpoint([bytesSource(gguf, 'model.gguf')]),
      'unused-tensor',
      /model\.gguf: .*"blk\.1\.attn_norm\.weight".*llama\.block_count/,
    );
  });

  it('unreadable tokenizer.json → bad-tokenizer; bad config JSON → bad-json', async () => {
    const weights = () => bytesSource(tinySafetensors(), 'model.safetensors');
    await expectCode(
      openCheckpoint([text(tinyHfConfigJson(), 'config.json'), weights(), text('{"model": 3}', 'tokenizer.json')]),
      'bad-tokenizer',
    );
    await expectCode(openCheckpoint([text('{oops', 'config.json'), weights()]), 'bad-json', /config\.json/);
  });
});
