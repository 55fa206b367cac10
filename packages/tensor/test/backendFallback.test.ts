import { describe, expect, it, vi } from 'vitest';

// A wasm package whose binaries cannot be located: initBackend must warn and fall back to cpu.
vi.mock('@tensorflow/tfjs-backend-wasm', () => ({
  setWasmPaths: () => {
    throw new Error('simulated: .wasm binaries not found');
  },
}));

describe('initBackend when wasm fails', () => {
  it('falls back to cpu with one warning, and stays there on later calls', async () => {
    delete process.env.RECUR_BACKEND;
    const { initBackend, activeBackend } = await import('../src/index.js');
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined);
    expect(await initBackend()).toBe('cpu');
    expect(activeBackend()).toBe('cpu');
    expect(warn).toHaveBeenCalledTimes(1);
    expect(String(warn.mock.calls[0]?.[0])).toMatch(/wasm backend unavailable.*simulated/);
    expect(await initBackend()).toBe('cpu');
    expect(warn).toHaveBeenCalledTimes(1);
    warn.mockRestore();
  });
});
