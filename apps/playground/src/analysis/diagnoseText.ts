import { diagnoseModel, perplexityWindows, type DiagnoseResult, type LoadedModel } from '@recur/engine';

/** A short default text (written for the playground) to diagnose on when the box is left as it is. */
export const DEFAULT_DIAGNOSE_TEXT =
  'Once upon a time there was a little fox who lived near a big green hill. Every morning the fox ran to the river to look at the fish. One day she saw a small boat stuck between two rocks. "I can help," said the fox, and she pushed the boat with her nose until it floated again. The boy who owned the boat smiled and gave the fox a red apple. From that day on, the fox and the boy played by the river together.';

export interface DiagnoseTextOptions {
  /** Tokens per window, BOS included. */
  readonly window: number;
  /** At most this many windows of each text (the page stays responsive on long pastes). */
  readonly maxWindows: number;
  /** A second domain's text: adds ΔCKA per layer (shared PCA basis). */
  readonly target?: string;
}

/**
 * The engine's own per-layer diagnostics (`diagnoseModel`, the same code `recur diagnose` runs: attention
 * entropy, ‖∂L/∂h‖, ‖∂L/∂θ‖, ΔCKA, inflection layers — Wang 2025, arXiv 2511.00797) on pasted text.
 */
export async function diagnoseText(
  model: LoadedModel,
  text: string,
  options: DiagnoseTextOptions,
): Promise<DiagnoseResult> {
  const windows = (t: string) => perplexityWindows(model, t, options.window).slice(0, options.maxWindows);
  const source = windows(text);
  if (source.length === 0) throw new RangeError('diagnose: the text is empty; paste some text to diagnose on');
  const target = options.target?.trim() ? windows(options.target) : undefined;
  return diagnoseModel(model, { windows: source, ...(target && { targetWindows: target }) });
}
