export { CompositionError } from './errors.js';
export { loadParts, type CompositionPart, type LoadedPart } from './parts.js';
export { COEFFICIENTS_FILE, COMPOSITION_FILE, readCompositionRecord, type CompositionRecord } from './folder.js';
export { loadComposition, loadCompositionLora } from './load.js';
export { withComposition } from './apply.js';
export { compositionTrainable, type CompositionTraining, type TrainableComposition } from './trainable.js';
