import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { initBackend } from '@recur/tensor';
import { disposeModel, evaluateDepths, keepFractions, parseExitRule } from '@recur/engine';
import { loadModel, trainingData } from '@recur/engine/node';
import { expectOneLineFailure, recur, shared } from './support/recur.js';

const hf = `${shared}models/stories260K/hf`;

describe('recur train --router', () => {
  const dir = mkdtempSync(join(tmpdir(), 'recur-train-router-'));
  const data = join(dir, 'stories.txt');
  writeFileSync(data, readFileSync(`${shared}corpora/tinystories_val/tinystories_val.txt`, 'utf8').slice(0, 40_000));
  const config = join(dir, 'config.json');
  writeFileSync(
    config,
    JSON.stringify({
      model_type: 'llama',
      hidden_size: 32,
      intermediate_size: 64,
      num_hidden_layers: 4,
      num_attention_heads: 4,
      num_key_value_heads: 2,
      vocab_size: 512,
      max_position_embeddings: 128,
      rms_norm_eps: 1e-5,
      tie_word_embeddings: true,
    }),
  );
  const scratch = [
    '--from-scratch',
    '--config',
    config,
    '--tokenizer',
    `${hf}/tokenizer.json`,
    '--loops',
    '2',
    '--strategy',
    'middle-cycle',
  ];
  const base = [
    '--data',
    data,
    '--batch',
    '2',
    '--seq',
    '32',
    '--eval-every',
    '2',
    '--save-every',
    '2',
    '--lr',
    '3e-3',
    '--seed',
    '1',
    '--json',
  ]; // seed ≥ 1: randomDecoder's seed + i = 0 would leave tf.randomNormal unseeded
  const losses = (runDir: string) =>
    readFileSync(join(runDir, 'train.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { kind: string; loss: number })
      .filter((r) => r.kind === 'step')
      .map((r) => r.loss);

  it('trains an expert-choice MoR model from scratch; stop + resume is exact; the model reloads with its router', async () => {
    const args = [...scratch, '--router', 'expert', '--z-coef', '1e-3', ...base];
    const straight = await recur('train', ...args, '--out', join(dir, 'straight'), '--steps', '4');
    expect(straight.code).toBe(0);
    const summary = JSON.parse(straight.stdout) as { heldOut: { after: { averageDepth: number } } };
    expect(summary.heldOut.after.averageDepth).toBeCloseTo(1.5, 1);
    expect((await recur('train', ...args, '--out', join(dir, 'split'), '--steps', '4', '--stop-at', '2')).code).toBe(0);
    const resumed = JSON.parse(
      (await recur('train', ...args, '--out', join(dir, 'split'), '--steps', '4', '--resume')).stdout,
    ) as { resumedFrom: number };
    expect(resumed.resumedFrom).toBe(2);
    expect(losses(join(dir, 'split'))).toEqual(losses(join(dir, 'straight')));
    const weights = (run: string) => readFileSync(join(dir, run, 'model', 'model.safetensors'));
    expect(weights('split').equals(weights('straight'))).toBe(true); // router weights included, bit for bit
    const saved = JSON.parse(readFileSync(join(dir, 'straight', 'model', 'config.json'), 'utf8')) as {
      recur: { router: unknown; strategy: string };
    };
    // Expert-choice routers save decode thresholds calibrated on the
    // held-out split by default (index 0: everyone runs loop 0).
    expect(saved.recur.router).toEqual({
      kind: 'expert',
      architecture: 'linear',
      alpha: 0.1,
      kvMode: 'recursion-wise',
      thresholds: [0, expect.any(Number)],
    });
    expect(weights('straight').includes(Buffer.from('mor.routers.1.weight'))).toBe(true);
    const evalRun = await recur(
      'eval',
      '--model',
      join(dir, 'straight', 'model'),
      '--data',
      data,
      '--max-bytes',
      '2048',
      '--window',
      '64',
      '--exit',
      'router',
      '--json',
    );
    expect(evalRun.code).toBe(0);
    const policy = (JSON.parse(evalRun.stdout) as { policy: { averageDepth: number } }).policy;
    expect(policy.averageDepth).toBeGreaterThanOrEqual(1);
    expect(policy.averageDepth).toBeLessThanOrEqual(2);
  });

  it('trains a token-choice router on a converted model (fresh router weights)', async () => {
    const converted = join(dir, 'rrt');
    expect(
      (
        await recur(
          'convert',
          hf,
          '--out',
          converted,
          '--loops',
          '2',
          '--strategy',
          'middle-cycle',
          '--init',
          'lower',
          '--lora-rank-attn',
          '2',
          '--lora-rank-mlp',
          '2',
          '--json',
        )
      ).code,
    ).toBe(0);
    const run = await recur(
      'train',
      '--model',
      converted,
      '--router',
      'token',
      '--distill',
      ...base,
      '--out',
      join(dir, 'token'),
      '--steps',
      '2',
    );
    expect(run.code).toBe(0);
    const saved = JSON.parse(readFileSync(join(dir, 'token', 'model', 'config.json'), 'utf8')) as {
      recur: { router: { kind: string } };
    };
    expect(saved.recur.router.kind).toBe('token');
    expect(
      readFileSync(join(dir, 'token', 'model', 'model.safetensors')).includes(Buffer.from('mor.token_router.weight')),
    ).toBe(true);
    const again = await recur(
      'train',
      '--model',
      join(dir, 'token', 'model'),
      '--router',
      'token',
      ...base,
      '--out',
      join(dir, 'token2'),
      '--steps',
      '1',
    );
    expectOneLineFailure(again, /already has a token router/);
  });

  it('a router model keeps its router: generate and eval route by default (serve too: serveRouter.test.ts), export refuses to drop it silently, inspect shows it', async () => {
    for (const kind of ['straight', 'token']) {
      const model = join(dir, kind, 'model'); // the expert (from scratch) and token-choice models trained above
      const gen = (...extra: string[]) =>
        recur(
          'generate',
          '--model',
          model,
          '--prompt',
          'Once',
          '--max-new-tokens',
          '6',
          '--temperature',
          '0',
          '--json',
          ...extra,
        );
      const [byDefault, routed, full, onTfjs] = await Promise.all([
        gen(),
        gen('--exit', 'router'),
        gen('--exit', 'none'),
        gen('--backend', 'tfjs'),
      ]);
      for (const run of [byDefault, routed, full, onTfjs]) expect(run.code, run.stderr).toBe(0);
      const ids = (run: { stdout: string }) =>
        JSON.parse(run.stdout) as { ids: number[]; depths?: number[]; path: string };
      expect(ids(byDefault).ids).toEqual(ids(routed).ids);
      expect(ids(byDefault).depths).toEqual(ids(routed).depths);
      // The router runs on the fused kernels by default and on tfjs when
      // asked: same ids, same depths (the prompt's last token routed too).
      expect([ids(byDefault).path, ids(routed).path, ids(onTfjs).path]).toEqual(['fast', 'fast', 'tfjs']);
      expect(ids(onTfjs).ids).toEqual(ids(byDefault).ids);
      expect(ids(onTfjs).depths).toEqual(ids(byDefault).depths);
      expect(ids(byDefault).depths).toHaveLength(ids(byDefault).ids.length);
      expect(ids(full).depths).toBeUndefined(); // --exit none: full depth, no routing
      const score = (...extra: string[]) =>
        recur('eval', '--model', model, '--data', data, '--max-bytes', '2048', '--window', '64', '--json', ...extra);
      const [evalDefault, evalRouted, evalTfjs] = await Promise.all([
        score(),
        score('--exit', 'router'),
        score('--backend', 'tfjs'),
      ]);
      expect(evalDefault.code, evalDefault.stderr).toBe(0);
      const scored = (run: { stdout: string }) =>
        JSON.parse(run.stdout) as { policy: { perplexity: number; depthCounts: number[] }; path: string };
      expect(scored(evalDefault).policy).toEqual(scored(evalRouted).policy);
      expect([scored(evalDefault).path, scored(evalTfjs).path]).toEqual(['fast', 'tfjs']);
      expect(scored(evalTfjs).policy.depthCounts).toEqual(scored(evalDefault).policy.depthCounts);
      expect(Math.abs(scored(evalTfjs).policy.perplexity / scored(evalDefault).policy.perplexity - 1)).toBeLessThan(
        1e-4,
      );
      expectOneLineFailure(await recur('serve', model, '--port', '0', '--mode', 'continuous-sequence'), /cannot route/); // a flat mode would run the loops ungated
      expectOneLineFailure(
        await recur('export', model, '--out', join(dir, `${kind}-plain`)),
        /router cannot go into a plain Llama export; pass --drop-router/,
      );
      const dropped = await recur('export', model, '--out', join(dir, `${kind}-plain`), '--drop-router', '--json');
      expect(dropped.code, dropped.stderr).toBe(0);
      const shown = await recur('inspect', model);
      expect(shown.stdout).toMatch(
        new RegExp(`router: ${kind === 'token' ? 'token' : 'expert'}-choice.*2 recursions.*KV recursion-wise`),
      );
      if (kind === 'token') expect(shown.stdout).toMatch(/depth chosen up front \(paper form, loss balancing\)/);
      // bench times the model as generate runs it: routed on the fused kernels by default, full depth with --exit none.
      const bench = (...extra: string[]) =>
        recur('bench', '--model', model, '--prefill', '16', '--decode', '4', '--json', ...extra);
      const [benchRouted, benchFull] = await Promise.all([bench(), bench('--exit', 'none')]);
      expect(benchRouted.code, benchRouted.stderr).toBe(0);
      const timed = (run: { stdout: string }) =>
        JSON.parse(run.stdout) as { path: string; routing: string; averageDepth?: number };
      expect(timed(benchRouted)).toMatchObject({ path: 'fast', routing: 'router' });
      expect(timed(benchRouted).averageDepth).toBeGreaterThanOrEqual(1);
      expect(timed(benchRouted).averageDepth).toBeLessThanOrEqual(2);
      expect(timed(benchFull)).toMatchObject({ path: 'fast', routing: 'none' });
      expect(timed(benchFull).averageDepth).toBeUndefined();
      expectOneLineFailure(await bench('--backend', 'tfjs'), /routed bench runs on the fast path.*--exit none/);
    }
    const forced = await recur(
      'generate',
      '--model',
      join(dir, 'token', 'model'),
      '--prompt',
      'Once',
      '--fast',
      '--max-new-tokens',
      '4',
      '--json',
    );
    expect(forced.code, forced.stderr).toBe(0); // --fast on a router model is accepted and runs the fused kernels
    expect((JSON.parse(forced.stdout) as { path: string }).path).toBe('fast');
  });

  it('loss-free balancing (--balance loss-free): per-depth loads end more even than unbalanced; the bias is saved; stop + resume is exact', async () => {
    // A near-frozen router (lr 1e-9) isolates the bias: its probabilities differ by ~1e-3 across tokens,
    // so u = 1e-4 moves loads a few tokens at a time (a larger u flips them all at once and oscillates).
    const token = [...scratch, '--router', 'token', ...base, '--steps', '6', '--lr', '1e-9'];
    const free = [...token, '--balance', 'loss-free', '--balance-rate', '1e-4'];
    expect((await recur('train', ...free, '--out', join(dir, 'free'))).code).toBe(0);
    expect((await recur('train', ...free, '--out', join(dir, 'free-split'), '--stop-at', '3')).code).toBe(0);
    const resumed = JSON.parse(
      (await recur('train', ...free, '--out', join(dir, 'free-split'), '--resume')).stdout,
    ) as { resumedFrom: number };
    expect(resumed.resumedFrom).toBe(3);
    expect(losses(join(dir, 'free-split'))).toEqual(losses(join(dir, 'free')));
    const weights = (run: string) => readFileSync(join(dir, run, 'model', 'model.safetensors'));
    expect(weights('free-split').equals(weights('free'))).toBe(true); // the balancing bias included, bit for bit
    expect(weights('free').includes(Buffer.from('mor.token_router.balance_bias'))).toBe(true);
    const saved = JSON.parse(readFileSync(join(dir, 'free', 'model', 'config.json'), 'utf8')) as {
      recur: { router: Record<string, unknown> };
    };
    expect(saved.recur.router).toMatchObject({ kind: 'token', tokenForm: 'paper', balance: 'loss-free' });
    expect((await recur('train', ...token, '--balance-coef', '0', '--out', join(dir, 'unbalanced'))).code).toBe(0);
    const spread = async (run: string) => {
      const out = await recur(
        'eval',
        '--model',
        join(dir, run, 'model'),
        '--data',
        data,
        '--max-bytes',
        '4096',
        '--window',
        '64',
        '--exit',
        'router',
        '--json',
      );
      const counts = (JSON.parse(out.stdout) as { policy: { depthCounts: number[] } }).policy.depthCounts;
      return (Math.max(...counts) - Math.min(...counts)) / counts.reduce((a, b) => a + b, 0);
    };
    expect(await spread('free')).toBeLessThan(await spread('unbalanced'));
  });

  it('calibrated expert-choice thresholds: keep fraction within ±5 points of capacity per recursion on text it never saw; eval reports keep vs capacity; inspect shows them; --router-threshold X stores X', async () => {
    const config3 = join(dir, 'config3.json'); // 5 layers: prologue, one layer looped 3 times, epilogue
    writeFileSync(config3, readFileSync(config, 'utf8').replace('"num_hidden_layers":4', '"num_hidden_layers":5'));
    const three = [
      '--from-scratch',
      '--config',
      config3,
      '--tokenizer',
      `${hf}/tokenizer.json`,
      '--loops',
      '3',
      '--strategy',
      'middle-cycle',
      '--router',
      'expert',
    ];
    const run = await recur('train', ...three, ...base, '--out', join(dir, 'calibrated'), '--steps', '8');
    expect(run.code, run.stderr).toBe(0);
    const thresholds = (JSON.parse(run.stdout) as { routerThresholds: number[] }).routerThresholds;
    expect(thresholds).toHaveLength(3);
    expect(thresholds[0]).toBe(0);
    const modelDir = join(dir, 'calibrated', 'model');
    const saved = JSON.parse(readFileSync(join(modelDir, 'config.json'), 'utf8')) as {
      recur: { router: { thresholds: number[]; threshold?: number } };
    };
    expect(saved.recur.router.thresholds).toEqual(thresholds);
    expect(saved.recur.router.threshold).toBeUndefined();
    // Text past the training file's 40 000 characters: neither trained nor calibrated on. Scored in the
    // trainer's held-out form (blank-line documents, packed windows): eval's raw-text windows also hold
    // the blank-line tokens training never sees, which the router scores differently.
    const unseen = join(dir, 'unseen.txt');
    writeFileSync(
      unseen,
      readFileSync(`${shared}corpora/tinystories_val/tinystories_val.txt`, 'utf8').slice(40_000, 56_000),
    );
    await initBackend();
    const model = await loadModel(modelDir);
    try {
      const held = await trainingData({
        textFile: unseen,
        tokenizer: model.tokenizer,
        tokenizerIdentity: 'unseen',
        cacheDir: join(dir, 'unseen-cache'),
        seqLen: 32,
        batchSize: 2,
        valFraction: 0.5,
        seed: 1,
      });
      const windows = held.validation.map((w) => Array.from(w));
      expect(windows.length).toBeGreaterThanOrEqual(100);
      const keep = keepFractions(
        evaluateDepths(model, { windows, rule: parseExitRule('router'), perLoop: false }).policy!.depthCounts,
      );
      expect(keep.map((k) => k.capacity)).toEqual([1, 2 / 3, 1 / 3]);
      for (const { fraction, capacity } of keep) expect(Math.abs(fraction - capacity)).toBeLessThanOrEqual(0.05);
    } finally {
      disposeModel(model);
    }
    const scored = await recur(
      'eval',
      '--model',
      modelDir,
      '--data',
      unseen,
      '--max-bytes',
      '2048',
      '--window',
      '64',
      '--per-loop',
      '--json',
    );
    expect(scored.code, scored.stderr).toBe(0);
    const out = JSON.parse(scored.stdout) as {
      keep: { recursion: number; fraction: number; capacity: number }[];
      perLoop: { depth: number; perplexity: number }[];
    };
    expect(out.keep.map((k) => [k.recursion, k.capacity])).toEqual([
      [0, 1],
      [1, 2 / 3],
      [2, 1 / 3],
    ]);
    expect(out.perLoop.map((p) => p.depth)).toEqual([1, 2, 3]);
    const text = await recur('eval', '--model', modelDir, '--data', unseen, '--max-bytes', '2048', '--window', '64');
    expect(text.stdout).toMatch(
      /router keep per recursion .*r1 0\.\d{3} \(capacity 0\.667\) · r2 0\.\d{3} \(capacity 0\.333\)/,
    );
    expect((await recur('inspect', modelDir)).stdout).toMatch(
      /continues while σ > r1 0\.\d+, r2 0\.\d+ \(calibrated to capacity\)/,
    );
    const fixed = await recur(
      'train',
      ...three,
      '--router-threshold',
      '0.45',
      ...base,
      '--out',
      join(dir, 'fixed'),
      '--steps',
      '1',
    );
    expect(fixed.code, fixed.stderr).toBe(0);
    const fixedRouter = (
      JSON.parse(readFileSync(join(dir, 'fixed', 'model', 'config.json'), 'utf8')) as {
        recur: { router: Record<string, unknown> };
      }
    ).recur.router;
    expect(fixedRouter.threshold).toBe(0.45);
    expect(fixedRouter.thresholds).toBeUndefined();
  });

  it('eval --per-loop scores router models at each forced depth (expert and token-choice)', async () => {
    for (const kind of ['straight', 'token']) {
      const run = await recur(
        'eval',
        '--model',
        join(dir, kind, 'model'),
        '--data',
        data,
        '--max-bytes',
        '2048',
        '--window',
        '64',
        '--per-loop',
        '--json',
      );
      expect(run.code, run.stderr).toBe(0);
      const perLoop = (JSON.parse(run.stdout) as { perLoop: { depth: number; perplexity: number }[] }).perLoop;
      expect(perLoop.map((p) => p.depth)).toEqual([1, 2]);
      for (const { perplexity } of perLoop) expect(Number.isFinite(perplexity) && perplexity > 1).toBe(true);
    }
  });

  it('refuses bad router flags with one line', async () => {
    const out = (name: string) => ['--out', join(dir, name), '--steps', '1'];
    expectOneLineFailure(
      await recur('train', ...scratch, '--router', 'tokn', ...base, ...out('bad1')),
      /--router must be expert or token, got "tokn"/,
    );
    expectOneLineFailure(
      await recur('train', '--model', hf, '--router', 'expert', ...base, ...out('bad2')),
      /needs a recursive model/,
    );
    const sequence = join(dir, 'seq');
    expect(
      (
        await recur(
          'convert',
          hf,
          '--out',
          sequence,
          '--loops',
          '2',
          '--strategy',
          'sequence',
          '--lora-rank-attn',
          '0',
          '--lora-rank-mlp',
          '0',
          '--json',
        )
      ).code,
    ).toBe(0);
    expectOneLineFailure(
      await recur('train', '--model', sequence, '--router', 'token', ...base, ...out('bad3')),
      /cycle or middle-cycle/,
    );
    expectOneLineFailure(
      await recur('train', ...scratch, '--router', 'expert', '--router-kv', 'copy', ...base, ...out('bad4')),
      /--router-kv must be recursion-wise or shared/,
    );
    expectOneLineFailure(
      await recur(
        'train',
        '--from-scratch',
        '--config',
        config,
        '--loops',
        '2',
        '--strategy',
        'sequence',
        ...base,
        ...out('bad5'),
      ),
      /--strategy must be one of cycle, middle-cycle/,
    );
    expectOneLineFailure(
      await recur('train', ...scratch, '--router', 'expert', '--balance', 'loss-free', ...base, ...out('bad6')),
      /--balance applies with --router token only/,
    );
    expectOneLineFailure(
      await recur('train', ...scratch, '--router', 'token', '--token-form', 'once', ...base, ...out('bad7')),
      /--token-form must be paper or gated-every-loop, got "once"/,
    );
    expectOneLineFailure(
      await recur('train', ...scratch, '--router', 'expert', '--router-threshold', '1', ...base, ...out('bad8')),
      /--router-threshold must be calibrated or a number in \(0, 1\), got "1"/,
    );
    expectOneLineFailure(
      await recur(
        'train',
        ...scratch,
        '--router',
        'token',
        '--router-threshold',
        'calibrated',
        ...base,
        ...out('bad9'),
      ),
      /--router-threshold applies to expert-choice routers/,
    );
    expectOneLineFailure(
      await recur('train', ...scratch, '--router-threshold', '0.4', ...base, ...out('bad10')),
      /--router-threshold applies to expert-choice routers/,
    );
  });
});
