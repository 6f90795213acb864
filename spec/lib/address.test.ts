import fc from 'fast-check';
import { type AddressInfo, parseAddressList, parseAddressList as parseaddress } from '../../lib/address';

const KEYS = ['address', 'comment', 'domain', 'error', 'friendly', 'group', 'local', 'memberP', 'phrase', 'proper', 'route'];

function one(text: string): AddressInfo {
  const list = parseaddress(text);
  expect(list).toHaveLength(1);
  return list[0];
}

describe('parseaddress: the cases Tcllib documents', () => {
  it('reads a name and an angle address, with every key of Tcllib', () => {
    expect(one('John Doe <john@example.com>')).toEqual({
      address: 'john@example.com',
      comment: '',
      domain: 'example.com',
      error: '',
      friendly: 'John Doe',
      group: '',
      local: 'john',
      memberP: 0,
      phrase: 'John Doe',
      proper: 'John Doe <john@example.com>',
      route: '',
    });
  });

  it('takes the friendly name from a comment when there is no phrase', () => {
    const info = one('j@x (John Doe)');
    expect(info).toMatchObject({ address: 'j@x', comment: '(John Doe)', friendly: 'John Doe', phrase: '', proper: 'j@x' });
  });

  it('never appends the local host name to a bare local part (fix)', () => {
    const info = one('root');
    expect(info).toMatchObject({ address: 'root', local: 'root', domain: '', proper: 'root' });
    expect(info.error).toMatch(/missing domain/);
    const bracketed = one('Admin <root>');
    expect(bracketed.address).toBe('root');
    expect(bracketed.error).toMatch(/missing domain/);
    const dangling = one('a@');
    expect(dangling).toMatchObject({ address: 'a', domain: '', error: 'expecting sub-domain in domain-part (found end-of-input)' });
  });

  it('charges a ; outside a group to its own entry and goes on (fix)', () => {
    const list = parseaddress('a@b.c; d@e.f');
    expect(list.map((a) => [a.address, a.error])).toEqual([
      ['a@b.c', 'extraneous semi-colon'],
      ['d@e.f', ''],
    ]);
    expect(parseaddress(';').map((a) => a.error)).toEqual(['extraneous semi-colon']);
    expect(parseaddress('a@b;,c@d').map((a) => [a.address, a.memberP])).toEqual([
      ['a@b', 0],
      ['c@d', 0],
    ]);
  });

  it('marks group members, and names the group on every member (fix)', () => {
    const list = parseaddress('g: a@b, c@d;, e@f');
    expect(list.map((a) => [a.address, a.group, a.memberP])).toEqual([
      ['a@b', 'g', 1],
      ['c@d', 'g', 1],
      ['e@f', '', 0],
    ]);
  });

  it('keeps an obsolete route', () => {
    expect(one('<@r1,@r2:u@d>')).toMatchObject({ address: 'u@d', route: '@r1,@r2:', proper: 'u@d' });
    expect(one('@r:a@b')).toMatchObject({ address: 'a@b', route: '@r:' });
  });

  it('keeps a domain literal with its brackets', () => {
    expect(one('u@[1.2.3.4]')).toMatchObject({ address: 'u@[1.2.3.4]', domain: '[1.2.3.4]' });
  });

  it('quotes a phrase holding a special character', () => {
    expect(one('John Q. Public <x@y>')).toMatchObject({
      phrase: '"John Q. Public"',
      proper: '"John Q. Public" <x@y>',
      friendly: 'John Q. Public',
    });
  });

  it('collects the three comments of the RFC 5322 example', () => {
    expect(one('Pete(A nice \\) chap) <pete(his account)@silly.test(his host)>')).toMatchObject({
      address: 'pete@silly.test',
      comment: '(A nice \\) chap) (his account) (his host)',
      phrase: 'Pete',
      friendly: 'Pete',
    });
  });
});

describe('parseaddress: the confusions of docs/security.md, A1 and A3', () => {
  it('refuses CR LF inside a quoted local part (MimeKit CVE-2026-30227, Tcllib)', () => {
    for (const text of ['"x\r\nRCPT TO:<evil@x.org>"@b.org', '"x\r\nRCPT TO:<evil@x.org>\r\nNOOP "@b.org', '"x\nRCPT TO:<evil@x.org>"@b.org']) {
      const list = parseaddress(text);
      expect(list).toHaveLength(1);
      expect(list[0].error).not.toBe('');
      expect(list[0].address).not.toMatch(/[\r\n]/);
      expect(list[0].address).not.toContain('evil');
    }
  });

  it('refuses a folded quoted local part too, though a folded phrase is fine', () => {
    expect(one('"x\r\n RCPT TO:<evil@x.org>"@b.org').error).toBe('line break in quoted local-part');
    expect(one('"Long\r\n Name" <a@b>')).toMatchObject({ error: '', phrase: 'Long Name', address: 'a@b' });
  });

  it('reads "a@evil x"@good as a quoted local part at good', () => {
    expect(one('"a@evil x"@good')).toMatchObject({ local: '"a@evil x"', domain: 'good', address: '"a@evil x"@good', error: '' });
  });

  it('never finds bob@evil in alice@good(<bob@evil>', () => {
    const list = parseaddress('alice@good(<bob@evil>, carol@x');
    expect(list.some((a) => a.domain.includes('evil') || a.address.includes('bob'))).toBe(false);
    expect(list[0]).toMatchObject({ address: 'alice@good', error: 'junk after local@domain (found end-of-input during comment)' });
  });

  it('keeps ESMTP parameters smuggled into a quoted local part inside the local part', () => {
    expect(one('"foo@x> ORCPT=rfc822;evil@x"@good')).toMatchObject({ domain: 'good', local: '"foo@x> ORCPT=rfc822;evil@x"' });
  });

  it('marks a bare line break or a control character as an error on that entry only', () => {
    const list = parseaddress('a@b, c\u0000d@e, f@g\nh@i, j@k');
    expect(list.map((a) => [a.address, a.error !== ''])).toEqual([
      ['a@b', false],
      ['c', true],
      ['f@g', true],
      ['j@k', false],
    ]);
    expect(list[1].error).toBe('expecting at-sign after local-part (found control character 0x00)');
    expect(list[2].error).toBe('junk after local@domain (found line break)');
  });

  it('reads folding white space as white space', () => {
    expect(parseaddress('a@b,\r\n c@d,\n\te@f\r\n').map((a) => [a.address, a.error])).toEqual([
      ['a@b', ''],
      ['c@d', ''],
      ['e@f', ''],
    ]);
  });
});

describe('parseaddress: groups', () => {
  it('reports an empty group once, with memberP empty', () => {
    for (const text of ['undisclosed-recipients:;', 'undisclosed-recipients:', 'undisclosed-recipients: , ;']) {
      expect(one(text)).toMatchObject({ address: '', group: 'undisclosed-recipients', memberP: '', error: '' });
    }
  });

  it('reads groups one after another, and a group name as a phrase', () => {
    expect(parseaddress('g: a@b; h: c@d;').map((a) => [a.address, a.group])).toEqual([
      ['a@b', 'g'],
      ['c@d', 'h'],
    ]);
    expect(one('"My Group": a@b;').group).toBe('My Group');
    expect(one('Dept. Staff: a@b;').group).toBe('"Dept. Staff"');
  });

  it('refuses a nested group in one entry', () => {
    expect(parseaddress('g1: g2: a@b;;')).toEqual([
      expect.objectContaining({ error: 'nested groups not allowed (found g2)', group: 'g1', phrase: 'g2', address: '' }),
    ]);
  });

  it('gives comments before a group name to its first member, and collects each comment once', () => {
    expect(one('(team) g: a@b;')).toMatchObject({ comment: '(team)', friendly: 'team', group: 'g' });
    expect(one('g: (c) a@b;')).toMatchObject({ comment: '(c)', friendly: 'c' });
  });

  it('ends a group at an error that reaches its ;', () => {
    expect(parseaddress('g: a b@c; d@e').map((a) => [a.group, a.memberP, a.error !== ''])).toEqual([
      ['g', 1, true],
      ['', 0, false],
    ]);
  });
});

describe('parseaddress: Tcllib behaviour kept', () => {
  it('gives Tcllib\'s messages', () => {
    expect(one('john doe@x')).toMatchObject({ error: 'found phrase instead of mailbox (john doe@)', phrase: 'john doe', proper: 'john doe <>' });
    expect(one('<>').error).toBe('expecting mailbox in local-part (found >)');
    expect(one('a@b c@d').error).toBe('junk after local@domain (found c)');
    expect(one('<a@b').error).toBe('expecting right-bracket (found end-of-input)');
    expect(one('x <a@b c@d>').error).toBe('expecting right-bracket (found c)');
    expect(one('.a@b').error).toBe('unexpected character at beginning (found .)');
    expect(one('a..b@c').error).toBe('expecting mailbox in local-part (found .)');
    expect(one('a@b..c').error).toBe('expecting sub-domain in domain-part (found .)');
    expect(one('"unterminated').error).toBe('unexpected character at beginning (found end-of-input during quoted-string)');
    expect(one('a@[1.2').error).toBe('expecting sub-domain in domain-part (found end-of-input during domain-literal)');
  });

  it('turns a@b@c into a%b@c', () => {
    expect(one('a@b@c')).toMatchObject({ address: 'a%b@c', local: 'a%b', domain: 'c', friendly: 'a%b' });
  });

  it('reads a . b @ c . d as a.b@c.d', () => {
    expect(one('a . b @ c . d')).toMatchObject({ address: 'a.b@c.d', error: '' });
  });

  it('reports every comma-separated entry, skipping empty ones', () => {
    expect(parseaddress('a@b,,c@d, , john doe, x@y').map((a) => [a.address, a.error !== ''])).toEqual([
      ['a@b', false],
      ['c@d', false],
      ['', true],
      ['x@y', false],
    ]);
    expect(parseaddress('')).toEqual([]);
    expect(parseaddress(' , ,')).toEqual([]);
    expect(parseaddress('(only a comment)')).toEqual([]);
  });

  it('reads an X.400 local part for the friendly name', () => {
    expect(one('/G=John/S=Smith/@x400.org').friendly).toBe('John Smith');
    expect(one('/PN=John.Smith/O=Org/@x400.org').friendly).toBe('John.Smith');
    expect(one('/S=Smith/@x400.org').friendly).toBe('Smith');
    expect(one('"quoted local"@example.com').friendly).toBe('quoted local');
  });

  it('accepts UTF-8 in phrases, local parts and domains (RFC 6532)', () => {
    expect(one('ö <ö@ü.de>')).toMatchObject({ address: 'ö@ü.de', phrase: 'ö', error: '' });
  });
});

describe('parseaddress: phrases (fixes)', () => {
  it('reads dotted phrases of RFC 5322 section 4.1', () => {
    expect(one('J.R.R. Tolkien <j@x>')).toMatchObject({ phrase: '"J.R.R. Tolkien"', friendly: 'J.R.R. Tolkien', address: 'j@x', error: '' });
    expect(one('Mr. X <x@y>')).toMatchObject({ phrase: '"Mr. X"', error: '' });
  });

  it('re-quotes a phrase correctly and unescapes the friendly name', () => {
    expect(one('"a \\"b\\" c" <x@y>')).toMatchObject({ phrase: '"a \\"b\\" c"', friendly: 'a "b" c' });
    expect(one('"Joe" Smith <j@x>')).toMatchObject({ phrase: 'Joe Smith', friendly: 'Joe Smith' });
    expect(one('"" <x@y>')).toMatchObject({ phrase: '', proper: 'x@y' });
  });

  it('keeps encoded words as written, in the phrase and the friendly name, without a decoder (lib knows no MIME)', () => {
    expect(one('=?utf-8?Q?J=C3=B6rg?= <j@x>')).toMatchObject({ phrase: '=?utf-8?Q?J=C3=B6rg?=', friendly: '=?utf-8?Q?J=C3=B6rg?=' });
    expect(one('j@x (=?iso-8859-1?q?J=F6rg?=)').friendly).toBe('=?iso-8859-1?q?J=F6rg?=');
  });

  it('hands the display name, phrase or comment, to the decoder given', () => {
    const seen: string[] = [];
    const upper = (text: string): string => (seen.push(text), text.toUpperCase());
    expect(parseAddressList('Jo <j@x>, k@y (Kay), l@z', upper).map((info) => info.friendly)).toEqual(['JO', 'KAY', 'l']);
    expect(seen).toEqual(['Jo', 'Kay']);
  });

  it('joins the content of several comments for the friendly name', () => {
    expect(one('x@y (a) (b (c))').friendly).toBe('a b (c)');
  });
});

describe('parseaddress: robustness', () => {
  const alphabet = fc.constantFrom(...'ab@.,;:<>()"[]\\ \t\r\n=?_%/é中'.split(''), 'a@b.c', '=?utf-8?Q?x?=', 'g:', '\u0000');

  it('never throws and always gives records with the eleven keys, on any text', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string({ unit: 'binary', maxLength: 200 }), fc.string({ unit: alphabet, maxLength: 60 })), (text) => {
        const list = parseaddress(text);
        for (const info of list) {
          expect(Object.keys(info).sort()).toEqual(KEYS);
          expect(info.memberP === 0 || info.memberP === 1 || info.memberP === '').toBe(true);
        }
      }),
      { numRuns: 1000 },
    );
  });

  it('gives error-free addresses without line breaks or controls, which read back the same from proper', () => {
    fc.assert(
      fc.property(fc.string({ unit: alphabet, maxLength: 60 }), (text) => {
        for (const info of parseaddress(text)) {
          if (info.error !== '' || info.address === '') continue;
          expect(info.address).not.toMatch(/[\x00-\x1f\x7f]/);
          const again = one(info.proper);
          expect(again.error).toBe('');
          expect(again.address).toBe(info.address);
          expect(again.phrase).toBe(info.phrase);
        }
      }),
      { numRuns: 1000 },
    );
  });

  it('gets through large hostile inputs (linear time: a blow-up would hit the test timeout)', () => {
    const size = 200_000;
    expect(parseaddress('('.repeat(size / 2) + ')'.repeat(size / 2) + ' a@b')).toHaveLength(1);
    expect(parseaddress('('.repeat(size))[0].error).toMatch(/end-of-input during comment/);
    expect(parseaddress('a@b,'.repeat(size / 4))).toHaveLength(size / 4);
    expect(parseaddress('a@b;'.repeat(size / 4))).toHaveLength(size / 4);
    expect(parseaddress('"a" '.repeat(size / 4) + '<x@y>')[0].address).toBe('x@y');
    expect(parseaddress('a.'.repeat(size / 2) + 'a@b')[0].error).toBe('');
    expect(parseaddress('a '.repeat(size / 2) + '@b')[0].error).toMatch(/found phrase/);
    const count = Math.floor(size / 3);
    expect(parseaddress('(c)'.repeat(count) + 'a@b')[0].comment.split(' ')).toHaveLength(count);
    expect(parseaddress('\n'.repeat(size) + 'x')[0].error).toMatch(/line break/);
    expect(parseaddress('g: '.repeat(size / 3))[0].error).toMatch(/nested groups/);
    expect(parseaddress('<'.repeat(size))).toHaveLength(1);
    expect(parseaddress('"' + '\\"'.repeat(size / 2))[0].error).toMatch(/end-of-input during quoted-string/);
  });
});
