export {
  COMPOSE_PREFIX,
  compositionMethods,
  gateKey,
  isLinearComposition,
  scaleKey,
  type CompositionMethod,
  type CompositionSpec,
  type GateActivation,
} from './spec.js';
export { ScaLearnAdapter } from './scalearn.js';
export { GatedFusion } from './gated.js';
export { scaledLora } from './scaledLora.js';
export { checkCoefficients, freshCoefficients } from './coefficients.js';
export { composedDeltaReference, type ReferenceMix, type ReferencePart } from './reference.js';
