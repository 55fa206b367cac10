export interface RoutingAgreement {
  /** Candidates both rules keep, only the threshold keeps, only top-k keeps, neither keeps. */
  readonly both: number;
  readonly thresholdOnly: number;
  readonly topKOnly: number;
  readonly neither: number;
  /** (both + neither) / candidates: the fraction of same decisions (1 when there are no candidates). */
  readonly agreement: number;
}

/**
 * How often decode-time threshold decisions match training-time top-k selections on the same hidden
 * states and the same candidates (the MoR issue asks for this number). Both selections are positions.
 */
export function routingAgreement(
  candidates: Int32Array,
  thresholdSelected: Int32Array,
  topKSelected: Int32Array,
): RoutingAgreement {
  const byThreshold = new Set(thresholdSelected);
  const byTopK = new Set(topKSelected);
  let both = 0;
  let thresholdOnly = 0;
  let topKOnly = 0;
  let neither = 0;
  for (const t of candidates) {
    const a = byThreshold.has(t);
    const b = byTopK.has(t);
    if (a && b) both++;
    else if (a) thresholdOnly++;
    else if (b) topKOnly++;
    else neither++;
  }
  const agreement = candidates.length === 0 ? 1 : (both + neither) / candidates.length;
  return { both, thresholdOnly, topKOnly, neither, agreement };
}
