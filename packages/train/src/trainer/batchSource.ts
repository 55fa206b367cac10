/** Where training batches come from; its state is plain JSON so a checkpoint can restore the exact position. */
export interface BatchSource {
  /** B sequences of seqLen+1 token ids each (inputs are [0..seqLen), targets [1..seqLen]). */
  next(): Int32Array[];
  state(): unknown; // JSON-serialisable
  restore(state: unknown): void;
}
