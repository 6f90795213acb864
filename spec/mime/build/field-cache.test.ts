/**
 * The memory of formatField (docs/fast-paths.md): fields written again come
 * from two generations of remembered texts. These tests hold it to the rule
 * that makes it safe: the text depends on the name and the value alone, and
 * only fields that passed every check are remembered.
 */
import { InvalidInputError } from '../../../lib/errors';
import { formatField } from '../../../mime/build/headers';

describe('formatField, written again', () => {
  it('gives each name its own text for the same value', () => {
    const value = 'Ann <ann@example.org>, =?utf-8?Q?B=C3=B6b?= <bob@example.org>';
    const subject = formatField('Subject', value);
    const to = formatField('To', value);
    expect(subject).not.toBe(to);
    expect(formatField('Subject', value)).toBe(subject);
    expect(formatField('To', value)).toBe(to);
  });

  it('refuses a bad field every time, as it did the first time', () => {
    for (let round = 0; round < 3; round++) {
      expect(() => formatField('X Bad', 'v')).toThrow(InvalidInputError);
      expect(() => formatField('Subject', 'a\r\nBcc: evil@example.org')).toThrow(InvalidInputError);
    }
    // A good field with the same value as a refused one is not refused, and the other way round.
    expect(formatField('X-Good', 'v')).toBe('X-Good: v');
    expect(() => formatField('X Bad', 'v')).toThrow(InvalidInputError);
  });

  it('gives the same text after thousands of other fields have pushed it out of both generations', () => {
    const first = ['Subject', 'Grüße aus Köln, noch einmal'] as const;
    const text = formatField(...first);
    for (let i = 0; i < 5000; i++) formatField('X-Filler', `value ${i}`);
    expect(formatField(...first)).toBe(text);
    expect(formatField('X-Filler', 'value 7')).toBe('X-Filler: value 7');
  });

  it('writes a value too long to be remembered the same each time', () => {
    const long = 'word '.repeat(400).trim();
    const text = formatField('Subject', long);
    expect(text.split('\r\n').every((line) => line.length <= 78)).toBe(true);
    expect(formatField('Subject', long)).toBe(text);
  });
});
