import { TextStream } from '@recur/engine';
import type { ServeTokenizer } from './generation.js';
import { StopMatcher } from './stopMatcher.js';

/** Text as it becomes final, with the depths of the tokens that produced it since the last call. */
export type OnDelta = (text: string, depths: readonly number[]) => void;

/**
 * One request's generated tokens as text: each token decoded in context (TextStream keeps merges
 * and unfinished UTF-8 right), cut at the first stop string, handed on in deltas.
 */
export class TokenText {
  readonly ids: number[] = [];
  readonly depths: number[] = [];
  private readonly all: number[];
  private readonly stream: TextStream;
  private readonly matcher: StopMatcher;
  private emitted = '';
  /** Tokens whose text has not been handed on yet. */
  private unsent = 0;

  constructor(
    tokenizer: ServeTokenizer,
    promptIds: readonly number[],
    stops: readonly string[],
    private readonly onDelta?: OnDelta,
  ) {
    this.all = [...promptIds];
    this.stream = new TextStream((list) => tokenizer.decode(list), tokenizer.decode(promptIds));
    this.matcher = new StopMatcher(stops);
  }

  /** Adds a generated token; true once a stop string has been reached (later tokens are ignored). */
  push(id: number, depth: number): boolean {
    if (this.matcher.stopped) return true;
    this.ids.push(id);
    this.depths.push(depth);
    this.all.push(id);
    this.unsent++;
    this.deliver(this.stream.push(this.all));
    return this.matcher.stopped;
  }

  /** Generation ended: hands on what was held back (an unfinished character, a possible stop-string prefix). */
  finish(): void {
    if (!this.matcher.stopped) this.deliver(this.stream.push(this.all, true));
    this.hand(this.matcher.flush());
  }

  get text(): string {
    return this.emitted;
  }

  get stopped(): boolean {
    return this.matcher.stopped;
  }

  private deliver(delta: string): void {
    if (delta.length > 0) this.hand(this.matcher.push(delta).text);
  }

  private hand(text: string): void {
    if (text.length === 0) return;
    this.emitted += text;
    this.onDelta?.(text, this.depths.slice(this.depths.length - this.unsent));
    this.unsent = 0;
  }
}
