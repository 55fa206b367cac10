/**
 * The 12-byte scale field of Q4_K and Q5_K: eight 6-bit scales and eight 6-bit mins, one pair per
 * 32-element sub-block. Bytes 0–3 hold scales 0–3 and bytes 4–7 mins 0–3 in their low 6 bits; the
 * pairs 4–7 keep their low 4 bits in bytes 8–11 (scale low nibble, min high nibble) and their top
 * 2 bits in the spare top bits of bytes 0–3 (scales) and 4–7 (mins).
 */
export interface SubBlockScales {
  readonly scales: Uint8Array; // [8], 0..63
  readonly mins: Uint8Array; // [8], 0..63
}

export function unpackKScales(bytes: Uint8Array, at: number, into: SubBlockScales): SubBlockScales {
  for (let j = 0; j < 4; j++) {
    into.scales[j] = bytes[at + j]! & 63;
    into.mins[j] = bytes[at + j + 4]! & 63;
    const low = bytes[at + j + 8]!;
    into.scales[j + 4] = (low & 0x0f) | ((bytes[at + j]! >> 6) << 4);
    into.mins[j + 4] = (low >> 4) | ((bytes[at + j + 4]! >> 6) << 4);
  }
  return into;
}

export function packKScales(scales: ArrayLike<number>, mins: ArrayLike<number>, bytes: Uint8Array, at: number): void {
  for (let j = 0; j < 4; j++) {
    const hiScale = scales[j + 4]!;
    const hiMin = mins[j + 4]!;
    bytes[at + j] = (scales[j]! & 63) | ((hiScale >> 4) << 6);
    bytes[at + j + 4] = (mins[j]! & 63) | ((hiMin >> 4) << 6);
    bytes[at + j + 8] = (hiScale & 0x0f) | ((hiMin & 0x0f) << 4);
  }
}

export function emptyScales(): SubBlockScales {
  return { scales: new Uint8Array(8), mins: new Uint8Array(8) };
}
