// Browser-safe entry: no node: imports. File access lives in '@recur/checkpoint/node'.
export { CheckpointError, ConfigError, isCheckpointFault, type CheckpointErrorCode } from './errors.js';
export { bytesSource, blobSource, type ByteSource } from './bytes/source.js';
export { elementCount, type TensorInfo, type TensorStore } from './tensor-info.js';

export { openSafetensors, type SafetensorsFile } from './safetensors/reader.js';
export { parseSafetensorsHeader, type SafetensorsEntry, type SafetensorsHeader } from './safetensors/header.js';
export {
  safetensorsLayout,
  writeSafetensors,
  type SafetensorsLayout,
  type SafetensorsSpec,
  type SafetensorsWriteEntry,
} from './safetensors/writer.js';
export { openShardedSafetensors, parseSafetensorsIndex, type SafetensorsIndex } from './safetensors/sharded.js';
export { writeShardedSafetensors, type ShardedSafetensors } from './safetensors/write-sharded.js';
export type { FloatDtype } from './safetensors/dtypes.js';

export { readGguf, type GgufFile, type GgufMetadata } from './gguf/reader.js';
export type { GgufTensorInfo } from './gguf/tensor-infos.js';
export {
  ggufLayout,
  writeGguf,
  type GgufLayout,
  type GgufTensorSpec,
  type GgufWriteOptions,
  type GgufWriteTensor,
} from './gguf/writer.js';
export { ggufWriteDtypes, encodeGgml, type GgufWriteDtype } from './gguf/encode.js';
export { decodableGgmlTypes, decodeGgml, type DecodeSite } from './gguf/decode.js';
export { ggmlTypeByName, type GgmlType } from './gguf/types.js';
export type { GgufMetadataEntry, GgufScalar, GgufScalarType, GgufValue, GgufValueType } from './gguf/types.js';
export { ggufToHfName } from './gguf/naming.js';
export { unpermuteRopeRows } from './gguf/permute.js';

export type { ModelConfig, RopeScaling } from './config/model-config.js';
export { configSizeLimits } from './config/model-config.js';
export { configFromHf } from './config/from-hf.js';
export { configFromGguf } from './config/from-gguf.js';
export { contextSource, defaultContextLength } from './config/context-source.js';

export type { EncodeOptions, TextTokenizer } from './tokenizer/text-tokenizer.js';
export { tokenizerFromHfJson } from './tokenizer/from-hf.js';
export { ggufTokenizerJson, tokenizerFromGguf, type HfTokenizerFiles } from './tokenizer/from-gguf.js';

export type { Checkpoint } from './checkpoint/checkpoint.js';
export { openCheckpoint, type OpenCheckpointOptions } from './checkpoint/open.js';
export { selectCheckpointFiles, type CheckpointFiles } from './checkpoint/select.js';
export { checkTensorsAgainstConfig, expectedTensors, type ConfigSource } from './checkpoint/expected-shapes.js';
export { checkFinite, firstNonFinite, maxWeightMagnitude } from './checkpoint/finite.js';
export { hfToGgufName } from './gguf/naming.js';
export { permuteRopeRows } from './gguf/permute.js';
export { isPackableQuant, packQuantRows, type PackedQuantRows } from './gguf/quant/pack.js';
export { llamaGgufMetadata } from './config/to-gguf.js';
export { ggufTokenizerMetadata, type SpecialTokenIds } from './tokenizer/to-gguf.js';
