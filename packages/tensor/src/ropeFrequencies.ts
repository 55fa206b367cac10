/**
 * RoPE scaling as Hugging Face configs spell it (`rope_scaling`), with camelCase keys.
 * `null` is plain RoPE.
 */
export type RopeScaling =
  | null
  | { type: 'linear'; factor: number }
  | {
      type: 'llama3';
      factor: number;
      lowFreqFactor: number;
      highFreqFactor: number;
      originalMaxPositionEmbeddings: number;
    };

export interface RopeFrequencyOptions {
  readonly headDim: number;
  readonly theta: number;
  readonly scaling: RopeScaling;
}

/**
 * Inverse frequencies `theta^(-2i/headDim)` for i < headDim/2, scaled as Hugging Face does
 * (`modeling_rope_utils`). Computed in float64, rounded once to float32.
 */
export function ropeInverseFrequencies(opts: RopeFrequencyOptions): Float32Array {
  const { headDim, theta, scaling } = opts;
  if (!Number.isInteger(headDim) || headDim <= 0 || headDim % 2 !== 0) {
    throw new RangeError(`ropeInverseFrequencies: headDim must be a positive even integer, got ${headDim}`);
  }
  if (!(theta > 0)) throw new RangeError(`ropeInverseFrequencies: theta must be positive, got ${theta}`);
  const half = headDim / 2;
  const out = new Float32Array(half); // [headDim/2]
  for (let i = 0; i < half; i++) {
    out[i] = scaleFrequency(theta ** ((-2 * i) / headDim), scaling);
  }
  return out;
}

function scaleFrequency(invFreq: number, scaling: RopeScaling): number {
  if (scaling === null) return invFreq;
  if (!(scaling.factor > 0))
    throw new RangeError(`ropeInverseFrequencies: scaling factor must be positive, got ${scaling.factor}`);
  // Linear ("position interpolation") divides positions by the factor; dividing the frequency is the same angle.
  if (scaling.type === 'linear') return invFreq / scaling.factor;
  return llama3Frequency(invFreq, scaling);
}

/**
 * HF `_compute_llama3_parameters`: long wavelengths are slowed by `factor`, short ones kept, and
 * the band between is interpolated smoothly in 1/wavelength.
 */
function llama3Frequency(invFreq: number, s: Extract<RopeScaling, { type: 'llama3' }>): number {
  if (!(s.highFreqFactor > s.lowFreqFactor)) {
    throw new RangeError(
      `ropeInverseFrequencies: llama3 needs highFreqFactor > lowFreqFactor, got ${s.highFreqFactor} <= ${s.lowFreqFactor}`,
    );
  }
  const lowFreqWavelen = s.originalMaxPositionEmbeddings / s.lowFreqFactor;
  const highFreqWavelen = s.originalMaxPositionEmbeddings / s.highFreqFactor;
  const wavelen = (2 * Math.PI) / invFreq;
  if (wavelen < highFreqWavelen) return invFreq;
  if (wavelen > lowFreqWavelen) return invFreq / s.factor;
  const smooth = (s.originalMaxPositionEmbeddings / wavelen - s.lowFreqFactor) / (s.highFreqFactor - s.lowFreqFactor);
  return ((1 - smooth) * invFreq) / s.factor + smooth * invFreq;
}
