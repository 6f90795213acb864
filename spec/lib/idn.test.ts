import fc from 'fast-check';
import { InvalidInputError } from '../../lib/errors';
import { domainToASCII, domainToUnicode } from 'node:url';
import { toASCIIDomain } from '../../lib/idn';

describe('toASCIIDomain', () => {
  it('turns labels with non-ASCII characters into A-labels (UTS #46 folds case) and keeps ASCII domains as written', () => {
    expect(toASCIIDomain('bücher.example')).toBe('xn--bcher-kva.example');
    expect(toASCIIDomain('Bücher.Example')).toBe('xn--bcher-kva.example');
    expect(toASCIIDomain('Mail.Example.ORG')).toBe('Mail.Example.ORG');
    expect(toASCIIDomain('mail.example.org')).toBe('mail.example.org');
    expect(toASCIIDomain('例え。テスト')).toBe('xn--r8jz45g.xn--zckzah');
    expect(toASCIIDomain('münchen.de')).toBe('xn--mnchen-3ya.de');
  });

  it('normalizes to NFC first, so both spellings of ü give one A-label', () => {
    expect(toASCIIDomain('mu\u0308nchen.de')).toBe(toASCIIDomain('m\u00fcnchen.de'));
  });

  it('maps as UTS #46 and Node do: full-width forms fold to ASCII, ß stays (non-transitional)', () => {
    expect(toASCIIDomain('ＥＸＡＭＰＬＥ．ｃｏｍ')).toBe('example.com');
    expect(toASCIIDomain('ｍａｉｌ．bücher．example')).toBe('mail.xn--bcher-kva.example');
    expect(toASCIIDomain('faß.de')).toBe('xn--fa-hia.de');
    for (const domain of ['ＥＸＡＭＰＬＥ．ｃｏｍ', 'faß.de', 'نامه\u200cای.com', 'Bücher.Example', '例え。テスト']) {
      expect(toASCIIDomain(domain)).toBe(domainToASCII(domain));
    }
  });

  it('refuses what UTS #46 refuses, with a typed error that says what to look for', () => {
    for (const bad of ['a\u200db.example', 'a\u200cb.example', 'ü ber.de', 'bücher.9', 'ä\u00ad\u2028.de']) {
      expect(domainToASCII(bad)).toBe('');
      expect(() => toASCIIDomain(bad)).toThrow(InvalidInputError);
    }
    expect(() => toASCIIDomain('a\u200db.example')).toThrow(/zero-width joiner/);
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

describe('toASCIIDomain against Node\'s URL decoder', () => {
  it('gives A-labels that Node decodes back to the lower-case NFC labels', () => {
    const letter = fc.constantFrom(...'abcxyz09-äöüßéñçøåтест中文日本語한국'.split(''));
    const label = fc
      .array(letter, { minLength: 1, maxLength: 12 })
      .map((chars) => chars.join(''))
      .filter((l) => !l.startsWith('-') && !l.endsWith('-') && !/^..--/.test(l));
    fc.assert(
      fc.property(fc.array(label, { minLength: 1, maxLength: 4 }), (labels) => {
        // A last label of digits alone would be read by Node as an IPv4 address.
        const domain = [...labels, 'example'].join('.');
        const ascii = toASCIIDomain(domain);
        expect(ascii).toMatch(/^[a-z0-9.-]+$/);
        expect(domainToUnicode(ascii)).toBe(domain.normalize('NFC'));
      }),
      { numRuns: 300 },
    );
  });
});
