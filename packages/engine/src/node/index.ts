export { loadModel } from './load.js';
