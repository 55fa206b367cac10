import { storiesFastSuite } from './fastSuite.js';

// Its own file (process): the thread count is fixed when the wasm backend starts.
storiesFastSuite(2);
