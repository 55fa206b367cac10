import { call } from './client.js';

export interface HealthProbe {
  /** Stops probing; resolves with every probe's latency in ms (each must have answered 200). */
  stop(): Promise<number[]>;
}

/** Probes GET /health every `everyMs` (one at a time) until stopped, timing each answer. */
export function healthProbe(base: string, everyMs = 20): HealthProbe {
  const latencies: number[] = [];
  let running = true;
  const loop = (async () => {
    while (running) {
      const t0 = performance.now();
      const reply = await call(base, 'GET', '/health');
      if (reply.status !== 200) throw new Error(`/health answered ${reply.status}: ${reply.body}`);
      latencies.push(performance.now() - t0);
      await new Promise((resolve) => setTimeout(resolve, everyMs));
    }
  })();
  return {
    stop: async () => {
      running = false;
      await loop;
      return latencies;
    },
  };
}
