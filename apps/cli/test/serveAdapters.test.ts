import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { initBackend, tf } from '@recur/tensor';
import { createServingEngine, disposeModel, generate, type LoadedModel, type ServingEngine } from '@recur/engine';
import { adapterTarget, loadModel, loadPeftAdapter, writePeftAdapter } from '@recur/engine/node';
import { defaultLimits } from '../src/serve/limits.js';
import { createServeServer, type ServeServer } from '../src/serve/server.js';
import { call, post } from './serve/client.js';
import { parseCompletion } from './serve/replies.js';

// Per-request adapters in `recur serve`: two PEFT adapters on stories260K served beside the base;
// 16 concurrent clients send a mix of base / alpha / beta requests that share batched steps, and
// every greedy reply must equal generate() of the same prompt with that adapter alone (what
// `recur generate --adapter DIR` runs).

const hf = fileURLToPath(new URL('../../../../shared/models/stories260K/hf', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'recur-serve-adapters-'));
const names = ['alpha', 'beta'] as const;
const clients = 16;

/** A PEFT adapter with non-zero factors on q and down of every layer (d = 64, ff = 172), seeded. */
async function writeAdapter(name: string, rank: number, seed: number): Promise<string> {
  let state = seed;
  const random = () => {
    state = (state * 1_103_515_245 + 12_345) % 2 ** 31;
    return (state / 2 ** 31 - 0.5) * 0.6;
  };
  const tensors = new Map<string, { data: Float32Array; shape: number[] }>();
  const factor = (shape: number[]) => ({ data: Float32Array.from({ length: shape[0]! * shape[1]! }, random), shape });
  for (let layer = 0; layer < 5; layer++) {
    const key = (module: string, f: string) => `base_model.model.model.layers.${layer}.${module}.lora_${f}.weight`;
    tensors.set(key('self_attn.q_proj', 'A'), factor([rank, 64]));
    tensors.set(key('self_attn.q_proj', 'B'), factor([64, rank]));
    tensors.set(key('mlp.down_proj', 'A'), factor([rank, 172]));
    tensors.set(key('mlp.down_proj', 'B'), factor([64, rank]));
  }
  const path = join(dir, name);
  mkdirSync(path);
  await writePeftAdapter(path, {
    config: {
      peft_type: 'LORA',
      task_type: 'CAUSAL_LM',
      base_model_name_or_path: hf,
      r: rank,
      lora_alpha: rank,
      target_modules: ['q_proj', 'down_proj'],
      rank_pattern: {},
      alpha_pattern: {},
      lora_dropout: 0,
      bias: 'none',
      fan_in_fan_out: false,
      inference_mode: true,
      use_rslora: false,
    },
    tensors,
  });
  return path;
}

const prompts = ['Once upon a time', 'The little dog', 'Lily', 'Tom had a red ball.'];
let model: LoadedModel;
let engine: ServingEngine;
let server: ServeServer;
let base: string;
let baseline: number;
/** solo[model][prompt]: greedy text of the prompt with that adapter alone. */
const solo = new Map<string, string[]>();

beforeAll(async () => {
  await initBackend();
  const dirs = [await writeAdapter('alpha', 4, 1), await writeAdapter('beta', 7, 2)];
  for (const [i, name] of ['stories260K', ...names].entries()) {
    const alone = await loadModel(hf, i === 0 ? {} : { adapter: dirs[i - 1]! });
    const texts: string[] = [];
    for (const prompt of prompts)
      texts.push((await generate(alone, { prompt, maxNewTokens: 24, temperature: 0 })).text);
    disposeModel(alone);
    solo.set(name, texts);
  }
  model = await loadModel(hf);
  baseline = tf.memory().numTensors;
  const adapters = await Promise.all(dirs.map((d) => loadPeftAdapter(d, adapterTarget(model))));
  engine = await createServingEngine(model, { adapters });
  for (const lora of adapters) lora.dispose(); // the engine copied them into the fast path's heap
  const limits = { ...defaultLimits, contextLength: model.decoder.config.maxPositionEmbeddings };
  server = createServeServer({ engine, tokenizer: model.tokenizer, modelName: 'stories260K', adapters: names, limits });
  base = (await server.listen(0, '127.0.0.1')).url;
}, 120_000);

afterAll(async () => {
  await server.shutdown();
  engine.dispose();
  expect(tf.memory().numTensors).toBe(baseline);
  disposeModel(model);
  rmSync(dir, { recursive: true, force: true });
});

describe('recur serve --adapter NAME=DIR', () => {
  it('the adapters change the text (else the test below proves nothing)', () => {
    expect(solo.get('alpha')).not.toEqual(solo.get('stories260K'));
    expect(solo.get('beta')).not.toEqual(solo.get('alpha'));
  });

  it(`${clients} concurrent clients with mixed adapters: each reply equals its adapter's solo generation`, async () => {
    const models = ['stories260K', ...names, undefined];
    const jobs = Array.from({ length: clients * 3 }, (_, i) => ({
      model: models[i % models.length],
      prompt: i % prompts.length,
    }));
    let next = 0;
    let maxRows = 0;
    const poll = setInterval(() => (maxRows = Math.max(maxRows, engine.stats().rowsInLastStep)), 2);
    const worker = async () => {
      while (next < jobs.length) {
        const job = jobs[next++]!;
        const body = {
          prompt: prompts[job.prompt],
          max_tokens: 24,
          temperature: 0,
          ...(job.model && { model: job.model }),
        };
        const reply = await post(base, '/v1/completions', body);
        expect(reply.status).toBe(200);
        const completion = JSON.parse(reply.body) as { model: string };
        expect(completion.model).toBe(job.model ?? 'stories260K');
        expect(parseCompletion(reply.body).text, JSON.stringify(body)).toBe(
          solo.get(job.model ?? 'stories260K')![job.prompt],
        );
      }
    };
    await Promise.all(Array.from({ length: clients }, worker)).finally(() => clearInterval(poll));
    expect(maxRows).toBeGreaterThan(1); // requests of different adapters did share steps
    expect(engine.stats().perAdapter?.map((a) => a.finished)).toEqual([24, 12, 12]);
  }, 120_000);

  it('an unknown model is a 404 with an OpenAI-style error body; /v1/models lists the base and every adapter', async () => {
    const reply = await post(base, '/v1/completions', { prompt: 'a', model: 'gamma' });
    expect(reply.status).toBe(404);
    const { error } = JSON.parse(reply.body) as { error: { message: string; type: string; code: string } };
    expect(error).toMatchObject({ type: 'invalid_request_error', code: 'model_not_found' });
    expect(error.message).toMatch(/"gamma" does not exist.*"alpha", "beta"/);
    const models = JSON.parse((await call(base, 'GET', '/v1/models')).body) as { data: { id: string }[] };
    expect(models.data.map((m) => m.id)).toEqual(['stories260K', 'alpha', 'beta']);
  });

  it('GET /metrics counts tokens and requests per adapter', async () => {
    const metrics = (await call(base, 'GET', '/metrics')).body;
    expect(metrics).toMatch(/^recur_adapter_finished_total\{model="alpha"\} 12$/m);
    expect(metrics).toMatch(/^recur_adapter_generated_tokens_total\{model="beta"\} [1-9]\d*$/m);
  });
});
