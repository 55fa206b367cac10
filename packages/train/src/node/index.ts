// @recur/train/node — file-backed parts: training checkpoints, token caches.
export {};
