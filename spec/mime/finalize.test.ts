/**
 * finalize: releasing tokens, and how far
 * below it reaches; a released token is refused everywhere with ETOKEN.
 */
import { PassThrough } from 'node:stream';
import * as mime from '../../mime';

function leaf(text: string): mime.Token {
  return mime.initialize({ canonical: 'text/plain', string: text });
}

const released = (token: mime.Token): void => {
  expect(() => mime.getproperty(token)).toThrow(expect.objectContaining({ name: 'MimeError', code: 'ETOKEN' }));
};
const alive = (token: mime.Token): void => {
  expect(() => mime.getproperty(token)).not.toThrow();
};

describe('finalize', () => {
  it('by default (dynamic) keeps the parts a caller passed with -parts', () => {
    const a = leaf('a');
    const b = leaf('b');
    const multi = mime.initialize({ canonical: 'multipart/mixed', parts: [a, b] });
    mime.finalize(multi);
    released(multi);
    alive(a);
    alive(b);
    mime.finalize(a);
    mime.finalize(b, '-subordinates', 'none');
  });

  it('with all releases the whole tree', () => {
    const a = leaf('a');
    const inner = mime.initialize({ canonical: 'multipart/alternative', parts: [a] });
    const outer = mime.initialize({ canonical: 'multipart/mixed', parts: [inner] });
    mime.finalize(outer, { subordinates: 'all' });
    [outer, inner, a].forEach(released);
  });

  it('with none releases only the token', () => {
    const a = leaf('a');
    const multi = mime.initialize({ canonical: 'multipart/mixed', parts: [a] });
    mime.finalize(multi, { subordinates: 'none' });
    released(multi);
    alive(a);
    mime.finalize(a);
  });

  it('by default releases the sub-parts that parsing created', () => {
    const parsed = mime.initialize({ string: 'Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\none\r\n--b--\r\n' });
    const [child] = mime.getproperty(parsed, 'parts');
    alive(child);
    mime.finalize(parsed);
    released(child);
  });

  it('with none leaves parsed sub-part tokens usable', () => {
    const parsed = mime.initialize({ string: 'Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\none\r\n--b--\r\n' });
    const [child] = mime.getproperty(parsed, 'parts');
    mime.finalize(parsed, { subordinates: 'none' });
    expect(mime.getbody(child)).toEqual(Buffer.from('one'));
    mime.finalize(child);
  });

  it('refuses a bad -subordinates value with an OptionError, leaving the token alive', () => {
    const a = leaf('a');
    expect(() => mime.finalize(a, { subordinates: 'some' as 'all' })).toThrow(expect.objectContaining({ name: 'OptionError', option: 'subordinates' }));
    alive(a);
    mime.finalize(a);
  });

  it('a finalized token is refused by every command, with ETOKEN naming it', async () => {
    const token = leaf('x');
    mime.finalize(token);
    const named = expect.objectContaining({ name: 'MimeError', code: 'ETOKEN', message: expect.stringContaining(String(token)) });
    expect(() => mime.finalize(token)).toThrow(named);
    expect(() => mime.getproperty(token)).toThrow(named);
    expect(() => mime.getheader(token)).toThrow(named);
    expect(() => mime.setheader(token, 'Subject', 'x')).toThrow(named);
    expect(() => mime.getbody(token)).toThrow(named);
    expect(() => mime.buildmessage(token)).toThrow(named);
    await expect(mime.copymessage(token, new PassThrough())).rejects.toEqual(named);
    expect(() => mime.createMessageStream(token)).toThrow(named);
    await expect(mime.messageSize(token)).rejects.toEqual(named);
    expect(() => mime.initialize({ canonical: 'multipart/mixed', parts: [token] })).toThrow(named);
  });

  it('a value that is not a token is refused the same way', () => {
    expect(() => mime.getproperty('::mime::1' as unknown as mime.Token)).toThrow(expect.objectContaining({ code: 'ETOKEN' }));
    expect(() => mime.buildmessage({} as mime.Token)).toThrow(expect.objectContaining({ code: 'ETOKEN' }));
  });
});
