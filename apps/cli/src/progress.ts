import cliProgress from 'cli-progress';

export interface Progress {
  /** `note` is shown after the bar (e.g. the current loss). */
  update(done: number, total: number, note?: string): void;
  stop(): void;
}

/** A progress bar on stderr; silent when stderr is not a terminal, so scripts and --json stay clean. */
export function progressBar(label: string): Progress {
  if (!process.stderr.isTTY) return { update: () => {}, stop: () => {} };
  const bar = new cliProgress.SingleBar(
    {
      format: `${label} [{bar}] {value}/{total} | {percentage}% | ETA {eta_formatted}{note}`,
      stream: process.stderr,
      hideCursor: true,
    },
    cliProgress.Presets.shades_classic,
  );
  let started = false;
  return {
    update(done, total, note) {
      if (!started) {
        bar.start(total, 0, { note: '' });
        started = true;
      }
      bar.setTotal(total);
      bar.update(done, { note: note ? ` | ${note}` : '' });
    },
    stop() {
      if (started) bar.stop();
    },
  };
}
