/**
 * The EHLO reply as a ServerInfo: keywords case-insensitive (Tcllib matched
 * whole lines case-sensitively), parameters kept, AUTH mechanisms merged from
 * every AUTH and AUTH= line (Tcllib read only the first).
 */
import { parseEhlo } from '../../../smtp/protocol/extensions';
import { parseReply } from '../../../smtp/protocol/reply';

describe('smtp/extensions', () => {
  const ext = parseEhlo(
    parseReply([
      '250-mx.example.org Hello client [127.0.0.1]',
      '250-pipelining',
      '250-SIZE 10485760',
      '250-8BITMIME',
      '250-AUTH=LOGIN PLAIN',
      '250-AUTH cram-md5 login XOAUTH2',
      '250-DSN',
      '250 STARTTLS',
    ]),
  );

  it('reads the domain and greeting of the first line', () => {
    expect(ext.domain).toBe('mx.example.org');
    expect(ext.greeting).toBe('Hello client [127.0.0.1]');
  });

  it('compares keywords case-insensitively', () => {
    expect(ext.has('PIPELINING')).toBe(true);
    expect(ext.has('Pipelining')).toBe(true);
    expect(ext.has('starttls')).toBe(true);
    expect(ext.has('SMTPUTF8')).toBe(false);
  });

  it('keeps parameters', () => {
    expect(ext.param('size')).toBe('10485760');
    expect(ext.size).toBe(10485760);
    expect(ext.param('DSN')).toBe('');
    expect(ext.param('CHUNKING')).toBeNull();
  });

  it('merges every AUTH line, uppercased, without duplicates', () => {
    expect(ext.authMechanisms).toEqual(['LOGIN', 'PLAIN', 'CRAM-MD5', 'XOAUTH2']);
    expect(ext.has('AUTH')).toBe(true);
  });

  it('reads SIZE without a limit as 0 and no SIZE as null', () => {
    expect(parseEhlo(parseReply(['250-x', '250 SIZE'])).size).toBe(0);
    expect(parseEhlo(parseReply(['250 x'])).size).toBeNull();
  });

  it('copes with a one-line EHLO reply', () => {
    const bare = parseEhlo(parseReply(['250 mx.example.org']));
    expect(bare.domain).toBe('mx.example.org');
    expect(bare.keywords.size).toBe(0);
    expect(bare.authMechanisms).toEqual([]);
  });
});
