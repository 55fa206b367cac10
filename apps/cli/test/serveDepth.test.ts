import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fileURLToPath } from 'node:url';
import { initBackend, tf } from '@recur/tensor';
import { convertModel, createServingEngine, disposeModel, type LoadedModel } from '@recur/engine';
import { loadModel } from '@recur/engine/node';
import { defaultLimits } from '../src/serve/limits.js';
import { createServeServer } from '../src/serve/server.js';
import { call, post, sseData } from './serve/client.js';
import { parseChunk, parseCompletion, streamedText } from './serve/replies.js';

// `recur serve` on a recursive model: stories260K converted to a 2-layer block looped twice
// (middle-cycle, depth-wise LoRA, per-loop norms), served with continuous depth-wise batching and early exit
// (maxprob:0.5). Under 16 concurrent clients each request keeps its solo text and per-token depths,
// and /metrics' depth histogram counts the early exits.

const hf = fileURLToPath(new URL('../../../../shared/models/stories260K/hf', import.meta.url));
let source: LoadedModel;
let model: LoadedModel;

beforeAll(async () => {
  await initBackend();
  source = await loadModel(hf);
  model = await convertModel(source, {
    strategy: 'middle-cycle',
    loops: 2,
    init: 'lower',
    ranks: { attention: 4, mlp: 4 },
    loraInit: 'svd',
    norms: 'per-loop',
  });
}, 60_000);

afterAll(() => {
  disposeModel(model);
  disposeModel(source);
});

const bodies = ['Once upon a time', 'The little dog', 'Lily', 'One day, a girl', 'The sun was', 'Mom said'].map(
  (prompt, i) => ({ prompt, max_tokens: 10 + 4 * i, temperature: 0 }),
);

interface Seen {
  readonly text: string;
  readonly depths: readonly number[];
}

async function complete(base: string, body: (typeof bodies)[number], stream: boolean): Promise<Seen> {
  const reply = await post(base, '/v1/completions', stream ? { ...body, stream } : body);
  expect(reply.status).toBe(200);
  if (!stream) {
    const { text, depths } = parseCompletion(reply.body);
    return { text, depths };
  }
  const data = sseData(reply.body);
  return { text: streamedText(data), depths: parseChunk(data.at(-2)!).recur?.depths ?? [] };
}

describe('recur serve on a recursive model (continuous depth-wise batching, early exit)', () => {
  it('16 clients × 4 requests keep their solo text and depths; metrics count exits per depth', async () => {
    const baseline = tf.memory().numTensors;
    const engine = await createServingEngine(model, { exit: { kind: 'maxProb', threshold: 0.5 } });
    expect(engine.maxDepth).toBe(2);
    const server = createServeServer({
      engine,
      tokenizer: model.tokenizer,
      modelName: 'stories260K-x2',
      limits: { ...defaultLimits, contextLength: model.decoder.config.maxPositionEmbeddings },
    });
    const { url } = await server.listen(0, '127.0.0.1');
    const solo: Seen[] = [];
    for (const body of bodies) solo.push(await complete(url, body, false));
    const all = solo.flatMap((s) => s.depths);
    expect(all.some((d) => d === 1) && all.some((d) => d === 2)).toBe(true);
    await Promise.all(
      Array.from({ length: 16 }, async (_, c) => {
        for (let r = 0; r < 4; r++) {
          const k = (c + r) % bodies.length;
          expect(await complete(url, bodies[k]!, (c + r) % 2 === 1)).toEqual({
            text: solo[k]!.text,
            depths: solo[k]!.depths,
          });
        }
      }),
    );
    const metrics = (await call(url, 'GET', '/metrics')).body;
    const bucket = (le: string): number =>
      Number(
        new RegExp(`^recur_token_depth_bucket\\{le="${le.replace('+', '\\+')}"\\} (\\d+)$`, 'm').exec(metrics)?.[1],
      );
    expect(bucket('1')).toBeGreaterThan(0);
    expect(bucket('2')).toBeGreaterThan(bucket('1'));
    expect(bucket('+Inf')).toBe(bucket('2'));
    await server.shutdown();
    engine.dispose();
    expect(tf.memory().numTensors).toBe(baseline);
  }, 120_000);
});
