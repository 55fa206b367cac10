/** The element with this id, typed; throws if the page lacks it (a bug in index.html). */
export function byId<T extends HTMLElement>(id: string, type: new () => T): T {
  const el = document.getElementById(id);
  if (!(el instanceof type)) throw new Error(`index.html has no <${type.name}> #${id}`);
  return el;
}

/** Shows a one-line message (an error in red); `undefined` hides it. */
export function showMessage(text: string | undefined, kind: 'error' | 'info' = 'error'): void {
  const box = byId('message', HTMLDivElement);
  box.hidden = text === undefined;
  box.textContent = text ?? '';
  box.dataset.kind = kind;
}

/** The readable message of anything thrown. */
export function messageOf(err: unknown): string {
  if (err instanceof Error) return err.message || err.name;
  return String(err);
}

/** A progress bar shown while `fraction` < 1. */
export function setProgress(bar: HTMLProgressElement, fraction: number | undefined): void {
  bar.hidden = fraction === undefined;
  bar.value = fraction ?? 0;
}

/**
 * Runs one user action with the buttons locked; any failure becomes the page message, and `settle`
 * re-enables what the page's state allows, so the page stays usable after bad input.
 */
export async function action(name: string, run: () => Promise<void>, settle: () => void): Promise<void> {
  document.body.dataset.state = 'busy';
  document.body.dataset.action = name;
  showMessage(undefined);
  for (const b of document.querySelectorAll('button')) b.disabled = true;
  try {
    await run();
  } catch (err) {
    console.error(err);
    showMessage(messageOf(err));
  } finally {
    settle();
    document.body.dataset.state = 'ready';
    document.body.dataset.done = String(Number(document.body.dataset.done ?? 0) + 1); // actions finished, for tests
  }
}
