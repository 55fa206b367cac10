/**
 * Cuts streamed text at the first stop string. Text that could still turn into a stop string (a
 * suffix that is a prefix of one) is held back until the next delta settles it, so a client never
 * sees part of a stop string.
 */
export class StopMatcher {
  private pending = '';
  private done = false;

  constructor(private readonly stops: readonly string[]) {}

  /** Text safe to emit after `delta`, and whether a stop string was reached (the text ends before it). */
  push(delta: string): { readonly text: string; readonly stopped: boolean } {
    if (this.done) return { text: '', stopped: true };
    this.pending += delta;
    const cut = this.firstStop();
    if (cut !== undefined) {
      const text = this.pending.slice(0, cut);
      this.pending = '';
      this.done = true;
      return { text, stopped: true };
    }
    const keep = this.heldBack();
    const text = this.pending.slice(0, this.pending.length - keep);
    this.pending = this.pending.slice(this.pending.length - keep);
    return { text, stopped: false };
  }

  /** The held-back text once generation has ended without a stop string. */
  flush(): string {
    const text = this.done ? '' : this.pending;
    this.pending = '';
    return text;
  }

  get stopped(): boolean {
    return this.done;
  }

  private firstStop(): number | undefined {
    let first: number | undefined;
    for (const stop of this.stops) {
      const at = this.pending.indexOf(stop);
      if (at >= 0 && (first === undefined || at < first)) first = at;
    }
    return first;
  }

  /** Length of the longest suffix of the pending text that begins some stop string. */
  private heldBack(): number {
    let keep = 0;
    for (const stop of this.stops) {
      for (let k = Math.min(stop.length - 1, this.pending.length); k > keep; k--) {
        if (this.pending.endsWith(stop.slice(0, k))) {
          keep = k;
          break;
        }
      }
    }
    return keep;
  }
}
