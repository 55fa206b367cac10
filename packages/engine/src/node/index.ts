export { loadModel } from './load.js';
export { saveConvertedModel } from './save.js';
