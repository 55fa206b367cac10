// llama.cpp's view of one GGUF file (run in its own process by quantGolden.mjs): node-llama-cpp, CPU.
// argv: <node_modules dir of node-llama-cpp> <model.gguf> <steps> <ids as JSON>
// Prints one JSON line: `greedy`, its own greedy continuation of ids[0] (argmax of the raw logits,
// so no sampler is involved), and `logits`, the full next-token logits after each prefix of `ids`
// (teacher forcing, so both engines are compared on the same tokens even after they diverge).
import { createRequire } from 'node:module';

const [modulesDir, modelPath, stepsArg, idsArg] = process.argv.slice(2);
const { getLlama, LlamaLogLevel } = await import(createRequire(`${modulesDir}/`).resolve('node-llama-cpp'));
const steps = Number(stepsArg);
const ids = /** @type {number[]} */ (JSON.parse(/** @type {string} */ (idsArg)));

const llama = await getLlama({ gpu: false, build: 'never', logLevel: LlamaLogLevel.error });
const model = await llama.loadModel({ modelPath });
const vocab = model.tokens.vocabSize ?? 0;
const context = await model.createContext({ contextSize: Math.max(steps, ids.length) + 16, sequences: 1, threads: 2 });
const sequence = context.getSequence();

/** Dense logits [vocab] from node-llama-cpp's Map. @param {Map<number, number>} map */
function dense(map) {
  const out = new Array(vocab).fill(0);
  for (const [token, logit] of map) out[token] = logit;
  return out;
}

/** @param {number[]} row */
const argmax = (row) => row.reduce((best, v, i) => (v > /** @type {number} */ (row[best]) ? i : best), 0);

/** @param {number[]} tokens @returns {Promise<number[][]>} logits after each token */
async function logitsAfterEach(tokens) {
  const input = tokens.map((token) => /** @type {const} */ ([token, { generateNext: { logits: true } }]));
  const out = await sequence.controlledEvaluate(input);
  return tokens.map((_, i) => dense(out[i]?.next?.logits ?? new Map()));
}

const greedy = [];
let last = /** @type {number} */ (ids[0]);
for (let i = 0; i < steps; i++) {
  const [row] = await logitsAfterEach([last]);
  last = argmax(/** @type {number[]} */ (row));
  greedy.push(last);
}
await sequence.clearHistory();
const logits = await logitsAfterEach(ids);
process.stdout.write(`${JSON.stringify({ greedy, logits })}\n`);
await context.dispose();
await model.dispose();
