import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend, tf, wasmThreads } from '@recur/tensor';
import { Decoder, FastDecoder, type DecoderConfig } from '../src/index.js';
import { randomWeights } from './randomWeights.js';

/** Fast path vs the tfjs Decoder: both float32, different summation orders. */
export const TOL = 1e-4;

export const smallFast: DecoderConfig = {
  vocabSize: 96,
  hiddenSize: 32,
  intermediateSize: 72,
  numLayers: 3,
  numHeads: 4,
  numKvHeads: 2,
  headDim: 8,
  maxPositionEmbeddings: 512,
  rmsNormEps: 1e-5,
  ropeTheta: 10000,
  ropeScaling: null,
  tieWordEmbeddings: false,
};

/** A recursive model: 2 stored layers run as 0,1,0,1,0 (a KV slot per executed step). */
export const recursiveFast: DecoderConfig = {
  ...smallFast,
  numLayers: 2,
  layerOrder: [0, 1, 0, 1, 0],
  tieWordEmbeddings: true,
};

/** Wide enough that every linear and the attention run on the thread pool. */
export const wideFast: DecoderConfig = {
  vocabSize: 3000,
  hiddenSize: 256,
  intermediateSize: 640,
  numLayers: 2,
  numHeads: 8,
  numKvHeads: 2,
  headDim: 32,
  maxPositionEmbeddings: 2048,
  rmsNormEps: 1e-6,
  ropeTheta: 100000,
  ropeScaling: { type: 'linear', factor: 2 },
  tieWordEmbeddings: false,
  attentionBias: true,
};

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs((a[i] as number) - (b[i] as number)));
  return worst;
}

export async function decoderLogits(decoder: Decoder, ids: number[][]): Promise<Float32Array[]> {
  const cache = decoder.newCache();
  const out: Float32Array[] = [];
  for (const chunk of ids) {
    const logits = decoder.forward(chunk, { cache });
    out.push((await logits.data()) as Float32Array);
    logits.dispose();
  }
  cache.dispose();
  return out;
}

/** Pieces of a token stream: a prefill chunk (crossing the 8-row kernel chunk), then single-token decode steps. */
export const chunks = (vocab: number, seed: number): number[][] => {
  const ids = Array.from({ length: 30 }, (_, i) => (i * 37 + seed * 11 + 5) % vocab);
  return [ids.slice(0, 13), ...ids.slice(13).map((id) => [id])];
};

export function fastDecoderSuite(threads: number): void {
  describe(`FastDecoder on ${threads} wasm thread(s)`, () => {
    beforeAll(async () => {
      expect(await initBackend({ backend: 'wasm', threads })).toBe('wasm');
      expect(wasmThreads()).toBe(threads);
    });

    for (const [name, config] of [
      ['small', smallFast],
      ['recursive (layerOrder 0,1,0,1,0)', recursiveFast],
      ['wide, qkv bias, linear RoPE scaling', wideFast],
    ] as const) {
      it(`${name}: prefill + decode logits equal the tfjs Decoder within ${TOL}`, async () => {
        const decoder = Decoder.fromArrays(config, randomWeights(config, 3));
        const pieces = chunks(config.vocabSize, 1);
        const expected = await decoderLogits(decoder, pieces);
        const before = tf.memory().numTensors;
        const fast = (await FastDecoder.create(config, decoder.weights))!;
        expect(fast.threads).toBe(threads);
        const cache = fast.newCache(4); // grows (and copies) on the way
        pieces.forEach((piece, i) =>
          expect(maxAbsDiff(fast.forward(piece, { cache }), expected[i]!)).toBeLessThan(TOL),
        );
        expect(cache.length).toBe(30);
        cache.dispose();
        fast.dispose();
        expect(tf.memory().numTensors).toBe(before);
        decoder.dispose();
      });
    }

    it('batch of 8 sequences (own caches, different lengths) equals 8 single-sequence runs', async () => {
      const config = wideFast;
      const decoder = Decoder.fromArrays(config, randomWeights(config, 5));
      const fast = (await FastDecoder.create(config, decoder.weights))!;
      const prompts = Array.from({ length: 8 }, (_, b) =>
        Array.from({ length: 3 + b }, (_, i) => (i * 13 + b * 7) % config.vocabSize),
      );
      const singles = prompts.map((p) => {
        const cache = fast.newCache();
        const out = [fast.forward(p, { cache, lastOnly: true })];
        for (let s = 0; s < 3; s++) out.push(fast.forward([(s * 5 + p.length) % config.vocabSize], { cache }));
        cache.dispose();
        return out;
      });
      const caches = prompts.map(() => fast.newCache());
      const batched = [
        fast.forwardBatch(
          prompts.map((ids, b) => ({ cache: caches[b]!, ids })),
          { lastOnly: true },
        ),
      ];
      for (let s = 0; s < 3; s++)
        batched.push(
          fast.forwardBatch(
            prompts.map((p, b) => ({ cache: caches[b]!, ids: [(s * 5 + p.length) % config.vocabSize] })),
          ),
        );
      // Batched steps (8 rows) run the register-tiled GEMM, single-sequence steps (1 row) the GEMV:
      // two float32 summation orders (and, without relaxed SIMD, no fused multiply-adds), ~1e-5 apart.
      for (let b = 0; b < 8; b++)
        for (let s = 0; s < 4; s++) expect(maxAbsDiff(batched[s]![b]!, singles[b]![s]!)).toBeLessThan(3e-5);
      // And against the tfjs Decoder for one of them.
      const ref = await decoderLogits(decoder, [prompts[7]!]);
      expect(maxAbsDiff(batched[0]![7]!, ref[0]!.subarray(-config.vocabSize))).toBeLessThan(TOL);
      for (const c of caches) c.dispose();
      fast.dispose();
      decoder.dispose();
    });

    it("a long prompt in several row chunks (and small chunks) equals the tfjs Decoder; all rows' logits", async () => {
      const config = wideFast;
      const decoder = Decoder.fromArrays(config, randomWeights(config, 6));
      const ids = Array.from({ length: 150 }, (_, i) => (i * 29 + 3) % config.vocabSize);
      const pieces = [ids.slice(0, 139), ids.slice(139, 141), ...ids.slice(141).map((id) => [id])];
      const expected = await decoderLogits(decoder, pieces);
      for (const chunkRows of [64, 5]) {
        const fast = (await FastDecoder.create(config, decoder.weights, { chunkRows }))!;
        expect(fast.chunkRows).toBe(Math.max(8, chunkRows));
        const cache = fast.newCache(16);
        pieces.forEach((piece, i) =>
          expect(maxAbsDiff(fast.forward(piece, { cache }), expected[i]!)).toBeLessThan(TOL),
        );
        const last = fast.forward([7], { cache, lastOnly: true });
        expect(last.length).toBe(config.vocabSize);
        cache.dispose();
        fast.dispose();
      }
      decoder.dispose();
    });

    it('lastOnly runs the last layer past K/V for the wanted row only: same logits, same cache, across chunks', async () => {
      const config = wideFast;
      const decoder = Decoder.fromArrays(config, randomWeights(config, 7));
      const ids = Array.from({ length: 37 }, (_, i) => (i * 31 + 5) % config.vocabSize);
      const fast = (await FastDecoder.create(config, decoder.weights, { chunkRows: 8 }))!;
      const [full, trimmed] = [fast.newCache(), fast.newCache()];
      const all = fast.forward(ids, { cache: full });
      const last = fast.forward(ids, { cache: trimmed, lastOnly: true });
      // 8-row chunks run the tiled GEMM, the lone wanted row the GEMV: two summation orders
      expect(maxAbsDiff(last, all.subarray(-config.vocabSize))).toBeLessThan(3e-5);
      const [ref] = await decoderLogits(decoder, [ids]);
      expect(maxAbsDiff(last, ref!.subarray(-config.vocabSize))).toBeLessThan(TOL);
      // every row still wrote its K/V: the next step reads identical caches
      expect(fast.forward([11], { cache: trimmed })).toEqual(fast.forward([11], { cache: full }));
      full.dispose();
      trimmed.dispose();
      fast.dispose();
      decoder.dispose();
    });

    it('the pool split changes nothing: all kernels on one thread give the same logits within 1e-5', async () => {
      const config = wideFast;
      const decoder = Decoder.fromArrays(config, randomWeights(config, 4));
      const fast = (await FastDecoder.create(config, decoder.weights))!;
      const run = (parallel: boolean): Float32Array[] => {
        fast.parallel = parallel;
        const cache = fast.newCache();
        const out = chunks(config.vocabSize, 2).map((piece) => fast.forward(piece, { cache }));
        cache.dispose();
        return out;
      };
      const [threaded, inline] = [run(true), run(false)];
      threaded.forEach((logits, i) => expect(maxAbsDiff(logits, inline[i]!)).toBeLessThanOrEqual(1e-5));
      fast.dispose();
      decoder.dispose();
    });

    it('1,000 decode steps keep tf.memory().numTensors flat and resident memory bounded', async () => {
      const decoder = Decoder.fromArrays(smallFast, randomWeights(smallFast, 9));
      const fast = (await FastDecoder.create({ ...smallFast, maxPositionEmbeddings: 1024 }, decoder.weights))!;
      const cache = fast.newCache(1024);
      let next = 1;
      const step = () => {
        const logits = fast.forward([next], { cache, lastOnly: true });
        let best = 0;
        for (let i = 1; i < logits.length; i++) if (logits[i]! > logits[best]!) best = i;
        next = best;
      };
      for (let i = 0; i < 100; i++) step();
      const tensors = tf.memory().numTensors;
      const rss = process.memoryUsage().rss;
      for (let i = 0; i < 900; i++) step();
      expect(tf.memory().numTensors).toBe(tensors);
      expect(process.memoryUsage().rss - rss).toBeLessThan(64 * 1024 * 1024);
      expect(cache.length).toBe(1000);
      cache.dispose();
      fast.dispose();
      decoder.dispose();
    });
  });
}
