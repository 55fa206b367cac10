export { adapterTarget, loadModel } from './load.js';
export { baseFingerprint } from './fingerprint.js';
export { loadPeftAdapter, writePeftAdapter, type AdapterTarget } from './peft.js';
export { DVPT_CONFIG, DVPT_WEIGHTS, loadDvpt, saveDvpt, type DvptConfigFile } from './dvptFiles.js';
export { saveConvertedModel } from './save.js';
export { exportModel, type ExportResult } from './export.js';
export { exportTorch, torchAsset, torchConfigJson, TORCH_FILES, type TorchExportResult } from './torchExport.js';
export { exportGguf, writeGgufModel, type GgufExportOptions, type GgufWriteResult } from './gguf.js';
export { saveModel } from './save.js';
export { convertToFolder, type ConvertSummary } from './convertStream.js';
export { checkOutput, OutputError, writeOutput, type OutputOptions, type OutputTarget } from './output.js';
export { checkModelOutput, isRecurGguf, isRecurModelDir } from './ownOutput.js';
export * from './training/index.js';
// The one text-file rule (UTF-8, no NUL, not empty) that training applies, for `recur eval --data` too.
export { readTextFile } from '@recur/train/node';
export * from './compose/index.js';
export {
  hasIntervals,
  INTERVALS_DIR,
  loadIntervals,
  saveIntervals,
  type IntervalsMeta,
} from './intact/intervalFiles.js';
export { intervalsFrom, textWindows, type IntervalSourceOptions } from './intact/intervalSource.js';
export { addDomainEnds } from './domainEndsFolder.js';
