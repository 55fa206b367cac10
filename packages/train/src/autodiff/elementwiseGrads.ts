import { tf } from '@recur/tensor';
import { reduceToShape } from './broadcast.js';

type Saved = tf.Tensor[];
const one = (dy: tf.Tensor | tf.Tensor[]): tf.Tensor => dy as tf.Tensor;

/** Binary ops broadcast their inputs, so each input's gradient is summed back to its own shape. */
export const elementwiseGrads: tf.GradConfig[] = [
  {
    kernelName: 'Add',
    inputsToSave: ['a', 'b'],
    gradFunc: (dy, [a, b]: Saved) => ({
      a: () => reduceToShape(one(dy), a!.shape),
      b: () => reduceToShape(one(dy), b!.shape),
    }),
  },
  {
    kernelName: 'AddN',
    saveAllInputs: true,
    gradFunc: (dy, saved: Saved) => Object.fromEntries(saved.map((_, i) => [String(i), () => tf.clone(one(dy))])),
  },
  {
    kernelName: 'Sub',
    inputsToSave: ['a', 'b'],
    gradFunc: (dy, [a, b]: Saved) => ({
      a: () => reduceToShape(one(dy), a!.shape),
      b: () => reduceToShape(tf.neg(one(dy)), b!.shape),
    }),
  },
  {
    kernelName: 'Multiply',
    inputsToSave: ['a', 'b'],
    gradFunc: (dy, [a, b]: Saved) => ({
      a: () => reduceToShape(tf.mul(one(dy), tf.cast(b!, 'float32')), a!.shape),
      b: () => reduceToShape(tf.mul(one(dy), tf.cast(a!, 'float32')), b!.shape),
    }),
  },
  {
    kernelName: 'RealDiv',
    inputsToSave: ['a', 'b'],
    gradFunc: (dy, [a, b]: Saved) => ({
      a: () => reduceToShape(tf.div(one(dy), b!), a!.shape),
      b: () => reduceToShape(tf.neg(tf.div(tf.mul(one(dy), a!), tf.square(b!))), b!.shape), // −dy·a/b²
    }),
  },
  { kernelName: 'Neg', gradFunc: (dy) => ({ x: () => tf.neg(one(dy)) }) },
  { kernelName: 'Identity', gradFunc: (dy) => ({ x: () => tf.clone(one(dy)) }) },
  // Only float casts lie on a gradient path (token ids never do).
  { kernelName: 'Cast', gradFunc: (dy) => ({ x: () => tf.clone(one(dy)) }) },
  // d|x|/dx = sign(x); 0 at x = 0 (the subgradient InTAct's penalty wants: no pull on unmoved weights).
  {
    kernelName: 'Abs',
    inputsToSave: ['x'],
    gradFunc: (dy, [x]: Saved) => ({ x: () => tf.mul(one(dy), tf.sign(x!)) }),
  },
  {
    kernelName: 'Square',
    inputsToSave: ['x'],
    gradFunc: (dy, [x]: Saved) => ({ x: () => tf.mul(one(dy), tf.mul(x!, 2)) }),
  },
  {
    kernelName: 'Sqrt',
    inputsToSave: ['x'],
    gradFunc: (dy, [x]: Saved) => ({ x: () => tf.div(one(dy), tf.mul(tf.sqrt(x!), 2)) }),
  },
  {
    kernelName: 'Rsqrt',
    inputsToSave: ['x'],
    // d x^-½ = −½·x^-3/2
    gradFunc: (dy, [x]: Saved) => ({ x: () => tf.mul(one(dy), tf.mul(tf.div(tf.rsqrt(x!), x!), -0.5)) }),
  },
  { kernelName: 'Exp', outputsToSave: [true], gradFunc: (dy, [y]: Saved) => ({ x: () => tf.mul(one(dy), y!) }) },
  { kernelName: 'Log', inputsToSave: ['x'], gradFunc: (dy, [x]: Saved) => ({ x: () => tf.div(one(dy), x!) }) },
  {
    kernelName: 'Sigmoid',
    outputsToSave: [true],
    gradFunc: (dy, [y]: Saved) => ({ x: () => tf.mul(one(dy), tf.mul(y!, tf.sub(1, y!))) }),
  },
  {
    kernelName: 'Softmax',
    outputsToSave: [true],
    gradFunc: (dy, [y]: Saved, attrs) => {
      const dim = attrs.dim as number;
      // dx = y·(dy − Σ dy·y) along the softmax axis
      return { logits: () => tf.mul(y!, tf.sub(one(dy), tf.sum(tf.mul(one(dy), y!), dim, true))) };
    },
  },
];
