export type FastPhase = 'embed' | 'norm' | 'qkv' | 'rope' | 'attention' | 'oProj' | 'gateUp' | 'silu' | 'down' | 'head';

/** Wall time per phase of the fast decoder, summed over calls while `enabled` (off: two no-op calls per phase). */
export class FastProfile {
  enabled = false;
  readonly ms = new Map<FastPhase, number>();
  /** Rows that ran a loop (or the whole model); readout-only rows are not counted. */
  rows = 0;
  calls = 0;

  start(): number {
    return this.enabled ? performance.now() : 0;
  }

  /** Adds the time since `since` to `phase`; returns now. */
  lap(phase: FastPhase, since: number): number {
    if (!this.enabled) return 0;
    const now = performance.now();
    this.ms.set(phase, (this.ms.get(phase) ?? 0) + now - since);
    return now;
  }

  count(rows: number): void {
    if (!this.enabled) return;
    this.rows += rows;
    this.calls++;
  }

  reset(): void {
    this.ms.clear();
    this.rows = 0;
    this.calls = 0;
  }
}
