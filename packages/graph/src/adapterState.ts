import { tf } from '@recur/tensor';

/** What a stateful adapter carried over from earlier calls: its tensors, and how many positions they cover. */
export interface CarriedState {
  readonly tensors: readonly tf.Tensor[];
  /** The tensors summarise positions 0 … upTo − 1 of the sequence. */
  readonly upTo: number;
}

/**
 * Tensors a stateful adapter carries from one forward call to the next over the same sequence (e.g. a
 * DVPT module's running prompt attention over the tokens seen so far), kept by the cache of that
 * sequence and freed with it. Entries outlive the tidy scope that made them: `set` keeps copies and
 * frees the ones it replaces.
 */
export class AdapterState {
  private readonly entries = new Map<string, CarriedState>();

  get(key: string): CarriedState | undefined {
    return this.entries.get(key);
  }

  /** Stores copies of `tensors` (kept past the caller's tidy) under `key`, freeing what was there. */
  set(key: string, tensors: readonly tf.Tensor[], upTo: number): void {
    const old = this.entries.get(key);
    this.entries.set(key, { tensors: tensors.map((t) => tf.keep(tf.clone(t))), upTo });
    for (const t of old?.tensors ?? []) t.dispose();
  }

  dispose(): void {
    for (const { tensors } of this.entries.values()) for (const t of tensors) t.dispose();
    this.entries.clear();
  }
}
