import { TILE_SCORE_FLOATS, type FusedRuntime, type tf } from '@recur/tensor';

/**
 * Score rows of the attention kernels, rows × heads × positions floats each: the shared scratch, and
 * one buffer per EchoAtt source step (arXiv 2409.14595) holding the probabilities its reusing steps
 * apply to their values. They grow together (doubling) so one stride fits all within a pass; growing
 * drops what was kept, so callers `ensure` the longest context before a forward starts.
 */
export class ScoreScratch {
  private scratch: { tensor: tf.Tensor1D; offset: number } | undefined;
  private readonly keptBy = new Map<number, { tensor: tf.Tensor1D; offset: number }>();
  private size = 0;

  /** `sources`: the steps that keep their probabilities (echoSourceSteps). */
  constructor(
    private readonly runtime: FusedRuntime,
    private readonly rowItems: number,
    private readonly sources: ReadonlySet<number>,
  ) {}

  /** Positions each score row holds. */
  get positions(): number {
    return this.size;
  }

  /** Byte offset of the shared score scratch. */
  get offset(): number {
    if (!this.scratch) throw new Error('ScoreScratch: ensure() first');
    return this.scratch.offset;
  }

  /** Rows long enough for contexts up to `positions`. */
  ensure(positions: number): void {
    if (this.scratch && this.size >= positions) return;
    // the tiled prefill kernel's score rows hold one key tile however short the context
    const size = Math.max(positions, 2 * this.size, 64, TILE_SCORE_FLOATS);
    this.free();
    this.scratch = this.runtime.alloc(this.rowItems * size);
    for (const step of this.sources) this.keptBy.set(step, this.runtime.alloc(this.rowItems * size));
    this.size = size;
  }

  /** Byte offset of source step `step`'s kept probability rows. */
  kept(step: number): number {
    const buffer = this.keptBy.get(step);
    if (!buffer) throw new RangeError(`EchoAtt: step ${step} keeps no attention maps (it is no source of the plan)`);
    return buffer.offset;
  }

  dispose(): void {
    this.free();
    this.size = 0;
  }

  private free(): void {
    this.scratch?.tensor.dispose();
    this.scratch = undefined;
    for (const buffer of this.keptBy.values()) buffer.tensor.dispose();
    this.keptBy.clear();
  }
}
