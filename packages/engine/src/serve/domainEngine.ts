import { domainView, type DomainView } from '../domainView.js';
import type { LoadedModel } from '../model.js';
import type { ServingEngineOptions } from './options.js';
import { createServingEngine } from './servingEngine.js';
import type { ServeCallbacks, ServeRequest, ServeResult, ServeStats, ServingEngine } from './types.js';

/** A serving engine over a model with per-domain ends: `domains` in the order the model lists them. */
export interface DomainServingEngine extends ServingEngine {
  readonly domains: readonly string[];
  /** The domain a request without `domain` runs (the model's active one). */
  readonly defaultDomain: string;
}

/**
 * Serves a model with per-domain ends (Uni-X, "Uni-X: Mitigating Modality Conflict with a
 * Two-End-Separated Architecture for Unified Multimodal Models", Hao et al. 2025, arXiv 2509.24365):
 * one serving engine per domain, each over a `domainView` that shares every middle weight with `model`
 * (a domain costs its ends plus one fast decoder's scratch); a request's `domain` picks its engine
 * (absent: the model's active domain). Engines step in turn on the event loop, each step synchronous.
 */
export async function createDomainServingEngine(
  model: LoadedModel,
  options: ServingEngineOptions = {},
): Promise<DomainServingEngine> {
  const section = model.domain?.section;
  if (!section) throw new RangeError(`${model.source.path}: the model has no per-domain ends`);
  const views: DomainView[] = [];
  const engines = new Map<string, ServingEngine>();
  try {
    for (const name of section.domains) {
      const view = domainView(model, name);
      views.push(view);
      engines.set(name, await createServingEngine(view.model, options));
    }
  } catch (error) {
    for (const engine of engines.values()) engine.dispose();
    for (const view of views) view.dispose();
    throw error;
  }
  return new DomainEngines(engines, model.domain!.active, views);
}

class DomainEngines implements DomainServingEngine {
  readonly domains: readonly string[];
  readonly maxDepth: number;

  constructor(
    private readonly engines: ReadonlyMap<string, ServingEngine>,
    readonly defaultDomain: string,
    private readonly views: readonly DomainView[],
  ) {
    this.domains = [...engines.keys()];
    this.maxDepth = engines.get(defaultDomain)!.maxDepth;
  }

  submit(request: ServeRequest, callbacks?: ServeCallbacks): Promise<ServeResult> {
    const domain = request.domain ?? this.defaultDomain;
    const engine = this.engines.get(domain);
    if (!engine)
      return Promise.reject(new RangeError(`domain ${domain}: the model's domains are ${this.domains.join(', ')}`));
    return engine.submit({ ...request, domain }, callbacks);
  }

  /** Every engine's counters summed (rowsInLastStep too: the rows each engine's last step ran). */
  stats(): ServeStats {
    return [...this.engines.values()].map((e) => e.stats()).reduce(sumStats);
  }

  async drain(): Promise<void> {
    await Promise.all([...this.engines.values()].map((e) => e.drain()));
  }

  dispose(): void {
    for (const engine of this.engines.values()) engine.dispose();
    for (const view of this.views) view.dispose();
  }
}

function sumStats(a: ServeStats, b: ServeStats): ServeStats {
  const add = (x: readonly number[], y: readonly number[]) =>
    Array.from({ length: Math.max(x.length, y.length) }, (_, i) => (x[i] ?? 0) + (y[i] ?? 0));
  const adapters = Math.max(a.perAdapter?.length ?? 0, b.perAdapter?.length ?? 0);
  return {
    waiting: a.waiting + b.waiting,
    running: a.running + b.running,
    rowsInLastStep: a.rowsInLastStep + b.rowsInLastStep,
    stepsRun: a.stepsRun + b.stepsRun,
    generatedTokens: a.generatedTokens + b.generatedTokens,
    tokensPerSecond: a.tokensPerSecond + b.tokensPerSecond,
    depthHistogram: add(a.depthHistogram, b.depthHistogram),
    finished: a.finished + b.finished,
    cancelled: a.cancelled + b.cancelled,
    preemptions: (a.preemptions ?? 0) + (b.preemptions ?? 0),
    perAdapter: Array.from({ length: adapters }, (_, i) => ({
      generatedTokens: (a.perAdapter?.[i]?.generatedTokens ?? 0) + (b.perAdapter?.[i]?.generatedTokens ?? 0),
      finished: (a.perAdapter?.[i]?.finished ?? 0) + (b.perAdapter?.[i]?.finished ?? 0),
    })),
  };
}
