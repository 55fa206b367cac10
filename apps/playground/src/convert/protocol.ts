import type { ConvertOptions, ConvertedModel, RecurSection } from '@recur/engine';
import type { DecoderConfig, TyingPlan } from '@recur/graph';

/** Named float32 arrays with shapes: what crosses the worker boundary (the buffers are transferred). */
export type ArrayTable = [name: string, data: Float32Array, shape: number[]][];

/** Page → worker: the source decoder as arrays and the conversion options (no callbacks). */
export interface ConvertRequest {
  readonly wasmPaths: string;
  readonly config: DecoderConfig;
  readonly weights: ArrayTable;
  readonly sourcePath: string;
  readonly options: Omit<ConvertOptions, 'onProgress'>;
}

/** Worker → page: progress, the converted model as arrays, or a readable failure. */
export type ConvertReply =
  | { readonly kind: 'progress'; readonly done: number; readonly total: number }
  | {
      readonly kind: 'done';
      readonly config: DecoderConfig;
      readonly weights: ArrayTable;
      readonly lora: ArrayTable;
      readonly loraScale: number;
      readonly plan: TyingPlan;
      readonly loraEnergy: ConvertedModel['loraEnergy'];
      readonly parameters: { readonly shared: number; readonly lora: number; readonly source: number };
      readonly recur: RecurSection;
    }
  | { readonly kind: 'error'; readonly message: string };
