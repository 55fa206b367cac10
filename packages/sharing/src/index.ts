export { combineAtoms, combineAtomsReference } from './combine.js';
export {
  atomsKey,
  coefficientsKey,
  derivedKey,
  masaModuleNames,
  masaModules,
  masaTensorPrefix,
  parseMasaModules,
  type MasaModule,
  type MasaModuleName,
} from './keys.js';
export { masaFromPretrained, moduleShape, type MasaEnergy, type MasaInit, type MasaInitOptions } from './decompose.js';
export { MasaDictionary } from './masaDictionary.js';
