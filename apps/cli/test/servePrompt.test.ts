import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '@recur/tensor';
import { loadModel } from '@recur/engine/node';
import type { ServeTokenizer } from '../src/serve/generation.js';
import { defaultLimits, type ServeLimits } from '../src/serve/limits.js';
import { encodePrompt, tokenizerFacts } from '../src/serve/promptTokens.js';
import { createServeServer, type ServeServer } from '../src/serve/server.js';
import { call, post } from './serve/client.js';
import { charTokenizer, FakeEngine } from './serve/fakeEngine.js';
import { parseError } from './serve/replies.js';
import { healthProbe } from './serve/health.js';

// Prompts are bounded in bytes before they are tokenized (a ~1 MB prompt used to block the event loop
// for seconds), and prompts that pass the bound are tokenized in chunks that yield to the event loop,
// giving exactly the ids of one encode call.

const stories = fileURLToPath(new URL('../../../../shared/models/stories260K/', import.meta.url));
const corpus = readFileSync(
  fileURLToPath(new URL('../../../../shared/corpora/tinystories_val/tinystories_val.txt', import.meta.url)),
  'utf8',
);
let hfTokenizer: ServeTokenizer;
let ggufTokenizer: ServeTokenizer;
let server: ServeServer | undefined;

beforeAll(async () => {
  await initBackend();
  hfTokenizer = (await loadModel(`${stories}hf`)).tokenizer;
  ggufTokenizer = (await loadModel(`${stories}stories260K.gguf`)).tokenizer;
}, 60_000);

afterEach(async () => {
  await server?.shutdown();
  server = undefined;
});

async function start(tokenizer: ServeTokenizer, limits: Partial<ServeLimits> = {}): Promise<string> {
  server = createServeServer({
    engine: new FakeEngine(),
    tokenizer,
    modelName: 'fake',
    limits: { ...defaultLimits, contextLength: 512, ...limits },
  });
  return (await server.listen(0, '127.0.0.1')).url;
}

/** charTokenizer that counts the characters it was asked to encode. */
function countingTokenizer(): ServeTokenizer & { encoded: number } {
  const counting = { ...charTokenizer, encoded: 0 };
  counting.encode = (text, options) => {
    counting.encoded += text.length;
    return charTokenizer.encode(text, options);
  };
  return counting;
}

describe('recur serve: prompt size', () => {
  it('refuses a ~1 MB prompt by its bytes with 400, before tokenizing it', async () => {
    const tokenizer = countingTokenizer();
    const base = await start(tokenizer);
    const big = 'x'.repeat(1_000_000);
    const completion = await post(base, '/v1/completions', { prompt: big, max_tokens: 4 });
    expect(completion.status).toBe(400);
    // 511 tokens (the context minus one) × 4 bytes (charTokenizer's longest token, one character).
    expect(parseError(completion.body)).toMatch(
      /the prompt is 1000000 bytes; a prompt of at most 511 tokens is at most 2044 bytes for this tokenizer/,
    );
    const chat = await post(base, '/v1/chat/completions', { messages: [{ role: 'user', content: big }] });
    expect(chat.status).toBe(400);
    expect(JSON.parse(chat.body)).toMatchObject({ error: { param: 'messages' } });
    expect(tokenizer.encoded).toBe(0);
    expect((await post(base, '/v1/completions', { prompt: 'x'.repeat(400), max_tokens: 4 })).status).toBe(200);
  });

  it('bounds the bytes by the longest token of the real tokenizer (stories260K: 9 bytes, "▁friend")', () => {
    expect(tokenizerFacts(hfTokenizer)).toEqual({ maxTokenBytes: 9, splitsAtSpaces: true });
    expect(tokenizerFacts(ggufTokenizer)).toEqual({ maxTokenBytes: 9, splitsAtSpaces: true });
  });

  it('tokenizes in chunks to exactly the ids of one encode call (HF and GGUF tokenizers)', async () => {
    const texts = [
      corpus.slice(0, 60_000),
      corpus.slice(123_457, 140_000),
      ' lead  and  double  spaces \n\n end ',
      'é ü 中文 🙂 words '.repeat(800),
      'x'.repeat(9000),
    ];
    for (const tokenizer of [hfTokenizer, ggufTokenizer]) {
      for (const text of texts) {
        const expected = tokenizer.encode(text, { addBos: true });
        for (const chunkChars of [64, 1000, 4096]) {
          let longest = 0;
          const watched = {
            ...tokenizer,
            encode: (t: string, o?: { addBos?: boolean }) => {
              longest = Math.max(longest, t.length);
              return tokenizer.encode(t, o);
            },
          };
          expect(await encodePrompt(watched, text, { addBos: true, chunkChars })).toEqual(expected);
          // Really in pieces (no fall-back to one call), except text with no single space to split at.
          if (text[0] !== 'x') expect(longest).toBeLessThan(2 * chunkChars + 64);
        }
      }
    }
  });

  it('keeps /health answering while a large allowed prompt is tokenized', async () => {
    const limits = { maxBodyBytes: 4 << 20, maxPromptTokens: 1 << 20, contextLength: 1 << 21 };
    const base = await start(hfTokenizer, limits);
    const prompt = corpus.slice(0, 150_000);
    const probe = healthProbe(base);
    const replies = await Promise.all([0, 1].map(() => post(base, '/v1/completions', { prompt, max_tokens: 4 })));
    const latencies = await probe.stop();
    // The FakeEngine refuses prompts over its 512 positions: the prompt was tokenized in full first.
    expect(replies.map((r) => r.status)).toEqual([400, 400]);
    expect(parseError(replies[0]!.body)).toMatch(/exceeds the context/);
    expect(latencies.length).toBeGreaterThan(5);
    expect(median(latencies)).toBeLessThan(100);
    expect(Math.max(...latencies)).toBeLessThan(500);
    expect((await call(base, 'GET', '/health')).status).toBe(200);
  }, 30_000);
});

function median(values: readonly number[]): number {
  return [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
}
