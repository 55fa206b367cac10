import { fastDecoderSuite } from './fastSuite.js';

// Its own file (process): the thread count is fixed when the wasm backend starts.
fastDecoderSuite(2);
