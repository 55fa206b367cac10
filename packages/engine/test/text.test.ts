import { describe, expect, it } from 'vitest';
import { decodeUtf8Prefix, TextStream } from '../src/index.js';

describe('decodeUtf8Prefix', () => {
  const bytes = new TextEncoder().encode('aé€😀b'); // 1 + 2 + 3 + 4 + 1 bytes
  it.each([
    [1, 'a'],
    [2, 'a'],
    [3, 'aé'],
    [5, 'aé'],
    [6, 'aé€'],
    [9, 'aé€'],
    [10, 'aé€😀'],
    [11, 'aé€😀b'],
    [99, 'aé€😀b'],
  ])('cuts %i bytes to a whole character', (n, expected) => {
    expect(decodeUtf8Prefix(bytes, n)).toBe(expected);
  });
});

describe('TextStream', () => {
  it('holds back an unfinished byte sequence until it completes', () => {
    const pieces: Record<number, string> = { 1: 'Hi', 2: ' \uFFFD', 3: ' €' };
    // a toy decoder: id 2 alone is an unfinished character, ids 2+3 form "€"
    const decode = (ids: number[]) => (ids.includes(3) ? 'Hi €' : ids.map((i) => pieces[i] ?? '').join(''));
    const stream = new TextStream(decode, 'Hi');
    expect(stream.push([1, 2])).toBe(' ');
    expect(stream.push([1, 2, 3])).toBe('€');
    expect(stream.text).toBe(' €');
  });
});
