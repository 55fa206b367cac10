export { registerGradients, trainingGradients } from './registerGradients.js';
