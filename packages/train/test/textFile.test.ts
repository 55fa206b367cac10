import { describe, expect, test } from 'vitest';
import { DataError, decodeTextFile, utf8PrefixEnd } from '../src/index.js';

describe('decodeTextFile: the one text-file rule of training and eval', () => {
  const bytes = (...values: number[]) => Uint8Array.from(values);

  test('accepts UTF-8 text and cuts --max-bytes back to a whole character', () => {
    const euro = new TextEncoder().encode('a€b'); // 1 + 3 + 1 bytes
    expect(decodeTextFile(euro, 'x.txt')).toBe('a€b');
    expect(decodeTextFile(euro, 'x.txt', 3)).toBe('a');
    expect(utf8PrefixEnd(euro, 4)).toBe(4);
  });

  test.each([
    ['empty', bytes(), /x\.txt: the text file is empty/],
    ['blank', bytes(0x20, 0x0a), /x\.txt: the text file is empty/],
    ['invalid UTF-8', bytes(0x61, 0xff, 0x62), /x\.txt: not a UTF-8 text file \(invalid UTF-8\)/],
    ['NUL bytes', bytes(0x61, 0x00, 0x62), /x\.txt: not a UTF-8 text file \(NUL byte at offset 1\)/],
  ])('refuses %s with a DataError naming the file', (_name, input, message) => {
    expect(() => decodeTextFile(input, 'x.txt')).toThrow(DataError);
    expect(() => decodeTextFile(input, 'x.txt')).toThrow(message);
  });
});
