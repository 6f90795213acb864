/**
 * `-canonical "text/plain; name=\"attach1.csv\""`, a common Tcl idiom: the
 * parameters are read as in a Content-Type field and join those of -param;
 * one named in both is refused, as Tcllib refuses a -param given twice.
 */
import * as mime from '../../mime';
import { MimeError, OptionError } from '../../lib/errors';
import { libmime } from '../../mime/codec/libraries';
import { describeWithTcllib, runTcl } from '../support/tcl';

function contentTypeOf(message: string): { value: string; params: Record<string, string> } {
  const field = /^Content-Type: (.*(?:\r?\n[ \t].*)*)$/m.exec(message)![1].replace(/\r?\n[ \t]+/g, ' ');
  return libmime().parseHeaderValue(field);
}

describe('parameters in -canonical', () => {
  it('are taken as parameters, with the type alone as content', () => {
    const tok = mime.initialize('-canonical', 'text/plain; name="attach1.csv"', '-string', 'a,b');
    expect(mime.getproperty(tok, 'content')).toBe('text/plain');
    expect(mime.getproperty(tok, 'params')).toEqual({ name: 'attach1.csv' });
    expect(contentTypeOf(mime.buildmessage(tok).toString())).toEqual({ value: 'text/plain', params: { name: 'attach1.csv' } });
    mime.finalize(tok);
  });

  it('join -param, keep the case of values, and lower the case of names', () => {
    const tok = mime.initialize({ canonical: 'Text/Plain; Name="Attach1.CSV"', param: [['charset', 'utf-8']], string: 'a,b' });
    expect(mime.getproperty(tok, 'params')).toEqual({ name: 'Attach1.CSV', charset: 'utf-8' });
    mime.finalize(tok);
  });

  it('refuse a parameter given both there and in -param', () => {
    const both = (): unknown => mime.initialize('-canonical', 'text/plain; name="a.csv"', '-param', ['Name', 'b.csv'], '-string', 'x');
    expect(both).toThrow(MimeError);
    expect(both).toThrow('the Name parameter may be specified at most once: it is in -canonical and in -param');
  });

  it('still refuse what is no type/subtype, with a line break, or a bad parameter name', () => {
    expect(() => mime.initialize({ canonical: 'text; name=a', string: 'x' })).toThrow(OptionError);
    expect(() => mime.initialize({ canonical: 'text/plain; name=a\r\nBcc: x@y', string: 'x' })).toThrow(/line break|CR|LF/);
  });
});

describeWithTcllib('against Tcllib', () => {
  it('the Content-Type written means what Tcllib writes', () => {
    const tcl = runTcl('puts -nonewline [mime::buildmessage [mime::initialize -canonical "text/plain; name=\\"attach1.csv\\"" -string "a,b"]]').toString();
    const tok = mime.initialize('-canonical', 'text/plain; name="attach1.csv"', '-string', 'a,b');
    const ours = mime.buildmessage(tok).toString();
    expect(contentTypeOf(ours)).toEqual(contentTypeOf(tcl));
    const body = (message: string): string => message.split(/\r?\n\r?\n/)[1].trim();
    expect(body(ours)).toBe(body(tcl));
    mime.finalize(tok);
  });
});
