import * as mime from '../../mime';

describe('mime.parseaddress', () => {
  it('decodes encoded words in the friendly name and keeps them raw in the phrase', () => {
    expect(mime.parseaddress('=?utf-8?Q?J=C3=B6rg?= <j@x>')[0]).toMatchObject({ phrase: '=?utf-8?Q?J=C3=B6rg?=', friendly: 'Jörg', address: 'j@x' });
    expect(mime.parseaddress('=?utf-8?Q?J=C3=B6rg?= =?utf-8?Q?_M=C3=BCller?= <j@x>')[0].friendly).toBe('Jörg Müller');
    expect(mime.parseaddress('j@x (=?iso-8859-1?q?J=F6rg?=)')[0].friendly).toBe('Jörg');
  });

  it('falls back to the local part when the display name decodes to nothing', () => {
    expect(mime.parseaddress('=?utf-8?Q??= <jo@x>')[0].friendly).toBe('jo');
  });

  it('decodes a long run of encoded words in linear time', () => {
    const size = 200_000;
    expect(mime.parseaddress('=?utf-8?Q?a?= '.repeat(size / 14) + '<a@b>')[0].friendly).toBe('a'.repeat(Math.floor(size / 14)));
  });
});
