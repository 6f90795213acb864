import fc from 'fast-check';
import { InvalidInputError } from '../../lib/errors';
import { toASCIIDomain, toUnicodeDomain } from '../../lib/idn';

describe('toASCIIDomain', () => {
  it('turns labels with non-ASCII characters into A-labels and keeps ASCII labels as written', () => {
    expect(toASCIIDomain('bücher.example')).toBe('xn--bcher-kva.example');
    expect(toASCIIDomain('Bücher.Example')).toBe('xn--bcher-kva.Example');
    expect(toASCIIDomain('mail.example.org')).toBe('mail.example.org');
    expect(toASCIIDomain('例え。テスト')).toBe('xn--r8jz45g.xn--zckzah');
    expect(toASCIIDomain('münchen.de')).toBe('xn--mnchen-3ya.de');
  });

  it('normalizes to NFC first, so both spellings of ü give one A-label', () => {
    expect(toASCIIDomain('mu\u0308nchen.de')).toBe(toASCIIDomain('m\u00fcnchen.de'));
  });

  it('passes a domain literal through', () => {
    expect(toASCIIDomain('[192.0.2.1]')).toBe('[192.0.2.1]');
    expect(toASCIIDomain('[IPv6:2001:db8::1]')).toBe('[IPv6:2001:db8::1]');
  });

  it('refuses what cannot be a host name', () => {
    for (const bad of ['', 'a..b', '.a', 'a.', 'a b.c', 'a\r\nb.c', 'bad_.-x', '-a.b', 'a-.b', 'x'.repeat(64) + '.com', `${'a'.repeat(60)}.`.repeat(5) + 'com', '[1.2.3.4', '[a]b]', 'a@b', 'ü ber.de']) {
      expect(() => toASCIIDomain(bad)).toThrow(InvalidInputError);
    }
  });
});

describe('toUnicodeDomain', () => {
  it('decodes A-labels and leaves everything else', () => {
    expect(toUnicodeDomain('xn--bcher-kva.example')).toBe('bücher.example');
    expect(toUnicodeDomain('XN--BCHER-KVA.example')).toBe('bücher.example');
    expect(toUnicodeDomain('mail.example.org')).toBe('mail.example.org');
    expect(toUnicodeDomain('[192.0.2.1]')).toBe('[192.0.2.1]');
  });

  it('never throws on an invalid A-label', () => {
    expect(toUnicodeDomain('xn--ü.example')).toBe('xn--ü.example');
  });

  it('undoes toASCIIDomain for lower-case NFC labels', () => {
    const letter = fc.constantFrom(...'abcxyz09-äöüßéñçøåтест中文日本語한국'.split(''));
    const label = fc
      .array(letter, { minLength: 1, maxLength: 12 })
      .map((chars) => chars.join(''))
      .filter((l) => !l.startsWith('-') && !l.endsWith('-') && !/^..--/.test(l));
    fc.assert(
      fc.property(fc.array(label, { minLength: 1, maxLength: 4 }), (labels) => {
        const domain = labels.join('.');
        const ascii = toASCIIDomain(domain);
        expect(ascii).toMatch(/^[a-z0-9.-]+$/);
        expect(toUnicodeDomain(ascii)).toBe(domain.normalize('NFC'));
      }),
      { numRuns: 300 },
    );
  });
});
