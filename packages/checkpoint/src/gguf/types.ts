/** GGUF metadata value types, by their on-disk id. */
export const ggufValueTypes = [
  'uint8',
  'int8',
  'uint16',
  'int16',
  'uint32',
  'int32',
  'float32',
  'bool',
  'string',
  'array',
  'uint64',
  'int64',
  'float64',
] as const;

export type GgufValueType = (typeof ggufValueTypes)[number];
export type GgufScalarType = Exclude<GgufValueType, 'array'>;

/** 64-bit integers are numbers when they fit a double exactly, bigints otherwise. */
export type GgufScalar = number | bigint | boolean | string;
export type GgufValue = GgufScalar | readonly GgufScalar[];

/** One metadata key with its stored type, so a file can be written back exactly. */
export interface GgufMetadataEntry {
  readonly key: string;
  readonly type: GgufValueType;
  /** The element type when `type` is 'array'. */
  readonly itemType?: GgufScalarType;
  readonly value: GgufValue;
}

/** Bytes of one scalar on disk; strings take at least their 8-byte length. */
export function scalarBytes(type: GgufScalarType): number {
  switch (type) {
    case 'uint8':
    case 'int8':
    case 'bool':
      return 1;
    case 'uint16':
    case 'int16':
      return 2;
    case 'uint32':
    case 'int32':
    case 'float32':
      return 4;
    case 'uint64':
    case 'int64':
    case 'float64':
    case 'string':
      return 8;
  }
}

/** Layout of a ggml tensor type: `blockBytes` bytes hold `blockSize` consecutive elements. */
export interface GgmlType {
  readonly id: number;
  readonly name: string;
  readonly blockSize: number;
  readonly blockBytes: number;
}

/** Types whose layout we know, so their byte ranges can be validated even if we cannot decode them. */
const ggmlTypeList: readonly GgmlType[] = [
  { id: 0, name: 'F32', blockSize: 1, blockBytes: 4 },
  { id: 1, name: 'F16', blockSize: 1, blockBytes: 2 },
  { id: 2, name: 'Q4_0', blockSize: 32, blockBytes: 18 },
  { id: 3, name: 'Q4_1', blockSize: 32, blockBytes: 20 },
  { id: 6, name: 'Q5_0', blockSize: 32, blockBytes: 22 },
  { id: 7, name: 'Q5_1', blockSize: 32, blockBytes: 24 },
  { id: 8, name: 'Q8_0', blockSize: 32, blockBytes: 34 },
  { id: 9, name: 'Q8_1', blockSize: 32, blockBytes: 36 },
  { id: 10, name: 'Q2_K', blockSize: 256, blockBytes: 84 },
  { id: 11, name: 'Q3_K', blockSize: 256, blockBytes: 110 },
  { id: 12, name: 'Q4_K', blockSize: 256, blockBytes: 144 },
  { id: 13, name: 'Q5_K', blockSize: 256, blockBytes: 176 },
  { id: 14, name: 'Q6_K', blockSize: 256, blockBytes: 210 },
  { id: 15, name: 'Q8_K', blockSize: 256, blockBytes: 292 },
  { id: 20, name: 'IQ4_NL', blockSize: 32, blockBytes: 18 },
  { id: 23, name: 'IQ4_XS', blockSize: 256, blockBytes: 136 },
  { id: 24, name: 'I8', blockSize: 1, blockBytes: 1 },
  { id: 25, name: 'I16', blockSize: 1, blockBytes: 2 },
  { id: 26, name: 'I32', blockSize: 1, blockBytes: 4 },
  { id: 27, name: 'I64', blockSize: 1, blockBytes: 8 },
  { id: 28, name: 'F64', blockSize: 1, blockBytes: 8 },
  { id: 30, name: 'BF16', blockSize: 1, blockBytes: 2 },
];

const byId = new Map(ggmlTypeList.map((t) => [t.id, t]));
const byName = new Map(ggmlTypeList.map((t) => [t.name, t]));

export function ggmlTypeById(id: number): GgmlType | undefined {
  return byId.get(id);
}

export function ggmlTypeByName(name: string): GgmlType | undefined {
  return byName.get(name);
}
