import { fusedKernelSuite } from './helpers/fusedSuite.js';

// Its own file: the thread count is fixed when the wasm backend starts (one per test process).
fusedKernelSuite(2);
