/**
 * BPE merges recovered from a SentencePiece vocabulary, as transformers' SentencePieceExtractor
 * does: every split of a token into two pieces that are both in the vocabulary is a merge, ranked
 * by the merged token's score (highest first); splits of one token are ordered by the ids of
 * their pieces. Only `mergeable` tokens take part (control and byte tokens never merge).
 */
export function spmMerges(
  tokens: readonly string[],
  scores: readonly number[],
  mergeable: (id: number) => boolean,
): [string, string][] {
  const ids = new Map<string, number>();
  tokens.forEach((token, id) => {
    if (mergeable(id) && !ids.has(token)) ids.set(token, id);
  });
  const ranked: { left: string; right: string; score: number; order: number }[] = [];
  tokens.forEach((token, id) => {
    if (!mergeable(id)) return;
    const chars = Array.from(token); // split by code point, never inside a surrogate pair
    const splits: { left: string; right: string; key: [number, number] }[] = [];
    for (let i = 1; i < chars.length; i++) {
      const left = chars.slice(0, i).join('');
      const right = chars.slice(i).join('');
      const l = ids.get(left);
      const r = ids.get(right);
      if (l !== undefined && r !== undefined) splits.push({ left, right, key: [l, r] });
    }
    splits.sort((a, b) => a.key[0] - b.key[0] || a.key[1] - b.key[1]);
    for (const s of splits) ranked.push({ left: s.left, right: s.right, score: scores[id] ?? 0, order: ranked.length });
  });
  ranked.sort((a, b) => b.score - a.score || a.order - b.order);
  return ranked.map((m) => [m.left, m.right]);
}
