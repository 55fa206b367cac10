import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FusedOps, TILE_SCORE_FLOATS, initBackend, tf } from '../src/index.js';
import { refCausalAttention } from '../src/reference/index.js';
import { expectClose } from './helpers/close.js';
import { mulberry32, randomArray } from './helpers/prng.js';

/** Online softmax in float32 against a float64 reference: 1e-5 relative to the output scale. */
const TOL = 1e-5;

/** One sequence of a job: its last `T` positions of `S` are the new rows (a prefill chunk; T = 1: a decode row). */
interface Seq {
  readonly T: number;
  readonly S: number;
}

describe('attentionTiled: tiled online-softmax prefill attention on 2 wasm threads', () => {
  let ops: FusedOps;
  const kept: tf.Tensor[] = [];
  beforeAll(async () => {
    expect(await initBackend({ backend: 'wasm', threads: 2 })).toBe('wasm');
    const created = await FusedOps.create();
    if (!created) throw new Error('no fused runtime on wasm');
    ops = created;
  });
  afterAll(() => {
    tf.dispose(kept);
    ops.dispose();
  });

  const put = (data: Float32Array | number): number => {
    const n = typeof data === 'number' ? data : data.length;
    const { tensor, offset } = ops.runtime.alloc(n);
    kept.push(tensor);
    if (typeof data !== 'number') ops.runtime.f32.set(data, offset >> 2);
    return offset;
  };
  const read = (offset: number, n: number): Float32Array => ops.runtime.f32.slice(offset >> 2, (offset >> 2) + n);

  /**
   * Every sequence's rows in one job (each its own head-major cache [kvHeads, capacity, headDim]);
   * returns the expected output and a runner for a given attention method.
   */
  function setup(seqs: readonly Seq[], heads: number, kvHeads: number, headDim: number, seed: number) {
    const rand = mulberry32(seed);
    const T = seqs.reduce((n, s) => n + s.T, 0);
    const rowWidth = heads * headDim;
    const q = randomArray(rand, T * rowWidth).map((x) => x * 3); // [T, heads, headDim]; sharp softmaxes
    const rowInfo = put(4 * T);
    const expected = new Float32Array(T * rowWidth);
    const contexts: number[] = [];
    let t0 = 0;
    for (const seq of seqs) {
      const capacity = seq.S + 5;
      const k = randomArray(rand, seq.S * kvHeads * headDim); // [S, kvHeads, headDim]
      const v = randomArray(rand, seq.S * kvHeads * headDim);
      const headMajor = (a: Float32Array): Float32Array => {
        const out = new Float32Array(kvHeads * capacity * headDim).fill(Number.NaN); // unwritten entries
        for (let s = 0; s < seq.S; s++)
          for (let g = 0; g < kvHeads; g++)
            out.set(
              a.subarray((s * kvHeads + g) * headDim, (s * kvHeads + g + 1) * headDim),
              (g * capacity + s) * headDim,
            );
        return out;
      };
      const [kb, vb] = [put(headMajor(k)), put(headMajor(v))];
      const dims = { tokens: seq.T, keys: seq.S, heads, kvHeads, headDim, queryOffset: seq.S - seq.T };
      const qSeq = q.subarray(t0 * rowWidth, (t0 + seq.T) * rowWidth);
      expected.set(refCausalAttention(qSeq, k, v, dims), t0 * rowWidth);
      for (let t = 0; t < seq.T; t++) {
        const context = seq.S - seq.T + t + 1;
        contexts.push(context);
        ops.writeRowInfo(rowInfo, t0 + t, { kBase: kb, vBase: vb, context, headStride: capacity * headDim * 4 });
      }
      t0 += seq.T;
    }
    const positions = Math.max(TILE_SCORE_FLOATS, ...seqs.map((s) => s.S));
    const [qp, scores] = [put(q), put(T * heads * positions)];
    const run = (method: 'attention' | 'attentionTiled'): Float32Array => runKeeping(method, false).out;
    /**
     * EchoAtt sources: `attention` keeps the probabilities in its score rows, `attentionTiled` in `kept` rows;
     * probs(t, h) are item (t, h)'s first `contexts[t]` of them.
     */
    const runKeeping = (method: 'attention' | 'attentionTiled', keep = true) => {
      const out = put(T * rowWidth);
      const keptRows = put(T * heads * positions);
      const keptScores = keep && method === 'attention';
      ops[method]({
        q: qp,
        qStride: rowWidth * 4,
        T,
        rowInfo,
        heads,
        kvHeads,
        headDim,
        contexts,
        scores: keptScores ? keptRows : scores,
        scoreStride: positions * 4,
        out,
        outStride: rowWidth * 4,
        scale: 1 / Math.sqrt(headDim),
        ...(keptScores && { keepProbabilities: true }),
        ...(keep && method === 'attentionTiled' && { kept: { rows: keptRows, stride: positions * 4 } }),
      });
      const probs = (t: number, h: number): Float32Array =>
        read(keptRows + (t * heads + h) * positions * 4, contexts[t] ?? 0);
      return { out: read(out, T * rowWidth), probs };
    };
    return { expected, run, runKeeping, T, contexts };
  }

  const cases = [
    {
      name: 'SmolLM heads, a 37-row chunk after 63 cached positions',
      seqs: [{ T: 37, S: 100 }],
      heads: 9,
      kvHeads: 3,
      headDim: 64,
    },
    { name: 'a prompt from position 0 (70 rows)', seqs: [{ T: 70, S: 70 }], heads: 9, kvHeads: 3, headDim: 64 },
    {
      name: 'groups of 4 (the last query triple repeats one)',
      seqs: [{ T: 19, S: 45 }],
      heads: 8,
      kvHeads: 2,
      headDim: 16,
    },
    { name: 'no grouping (heads = kvHeads)', seqs: [{ T: 11, S: 11 }], heads: 4, kvHeads: 4, headDim: 8 },
    { name: 'one kv head for 8 query heads', seqs: [{ T: 16, S: 40 }], heads: 8, kvHeads: 1, headDim: 32 },
    {
      name: 'prefill runs and decode rows of five sequences in one job',
      seqs: [
        { T: 20, S: 50 },
        { T: 1, S: 9 },
        { T: 9, S: 9 },
        { T: 1, S: 130 },
        { T: 33, S: 33 },
      ],
      heads: 6,
      kvHeads: 2,
      headDim: 64,
    },
  ];
  for (const c of cases) {
    it(`${c.name}: ${c.heads}/${c.kvHeads} heads, headDim ${c.headDim}, against a float64 reference`, () => {
      const { expected, run } = setup(c.seqs, c.heads, c.kvHeads, c.headDim, c.heads * 100 + c.headDim);
      const kernels: string[] = [];
      const pool = ops.runtime.pool;
      const poolRun = pool.run.bind(pool);
      pool.run = (segments, parallel) => {
        kernels.push(...segments.map((s) => s.kernel));
        poolRun(segments, parallel);
      };
      let tiled: Float32Array;
      try {
        tiled = run('attentionTiled');
      } finally {
        pool.run = poolRun;
      }
      expect(kernels).toContain('attentionTiled'); // runs of ≥ 8 rows take the tiled kernel
      expectClose(tiled, expected, TOL);
      expectClose(run('attention'), expected, TOL);
      // each output element is computed by one thread with the same code: bitwise the same on one thread
      ops.parallel = false;
      try {
        expect(run('attentionTiled')).toEqual(tiled);
      } finally {
        ops.parallel = true;
      }
    });
  }

  for (const c of cases)
    it(`EchoAtt source on the tiled path, ${c.name}: the kept probabilities match the per-row kernel's, out unchanged`, () => {
      const { run, runKeeping, T, contexts } = setup(c.seqs, c.heads, c.kvHeads, c.headDim, c.heads * 100 + c.headDim);
      const tiled = runKeeping('attentionTiled');
      const perRow = runKeeping('attention');
      expect(tiled.out).toEqual(run('attentionTiled')); // keeping changes no output
      for (let t = 0; t < T; t++)
        for (let h = 0; h < c.heads; h++) {
          const p = tiled.probs(t, h);
          expect(p.length).toBe(contexts[t]);
          expectClose(p, perRow.probs(t, h), TOL);
          expect(Math.abs(p.reduce((a, b) => a + b, 0) - 1)).toBeLessThan(1e-5);
        }
    });

  it('decode rows of several sequences stay one per-row segment (one sync, as attention)', () => {
    const seqs = [9, 40, 3, 77, 12].map((S) => ({ T: 1, S }));
    const { expected, run } = setup(seqs, 9, 3, 64, 5);
    const jobs: string[][] = [];
    const pool = ops.runtime.pool;
    const poolRun = pool.run.bind(pool);
    pool.run = (segments, parallel) => {
      jobs.push(segments.map((s) => s.kernel));
      poolRun(segments, parallel);
    };
    try {
      expectClose(run('attentionTiled'), expected, TOL);
    } finally {
      pool.run = poolRun;
    }
    expect(jobs).toEqual([['attention']]);
  });

  it('rejects a score stride shorter than a tile row', () => {
    const job = { q: 0, qStride: 0, T: 0, rowInfo: 0, heads: 1, kvHeads: 1, headDim: 4, contexts: [], scores: 0 };
    const scoreStride = (TILE_SCORE_FLOATS - 1) * 4;
    expect(() => ops.attentionTiled({ ...job, scoreStride, out: 0, outStride: 0, scale: 1 })).toThrow(/scoreStride/);
  });
});
