/**
 * Regression: getbody undoes quoted-printable as RFC 2045 section 6.7 rule 3
 * asks, and as Tcllib's getbody (through qp_decode) does: white space at the
 * end of an encoded line was added by a transport and is deleted; only `=`
 * before a line break is a soft break.
 */
import * as mime from '../../mime';
import { describeWithTcllib, runTcl, tclQuote } from '../support/tcl';

const HEAD = 'Content-Type: text/plain; charset=us-ascii\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n';
const BODY = 'one  \r\ntwo\t\r\nsoft= \r\nbreak=3D \r\nlast=';

function body(message: string): string {
  const token = mime.initialize({ string: message });
  try {
    return (mime.getbody(token) as Buffer).toString('latin1');
  } finally {
    mime.finalize(token);
  }
}

describe('getbody of a quoted-printable body', () => {
  it('drops transport white space at line ends and keeps a final = that ends no line', () => {
    expect(body(HEAD + BODY)).toBe('one\r\ntwo\r\nsoftbreak=\r\nlast=');
  });
});

describeWithTcllib('getbody of a quoted-printable body against Tcllib', () => {
  it('gives the bytes Tcllib gives, line ends aside', () => {
    const tcl = runTcl(
      `fconfigure stdout -translation binary\nset t [mime::initialize -string ${tclQuote(HEAD.replace(/\r\n/g, '\n') + BODY.replace(/\r\n/g, '\n'))}]\nputs -nonewline [mime::getbody $t]`,
    ).toString('latin1');
    expect(body(HEAD + BODY).replace(/\r\n/g, '\n')).toBe(tcl);
  });
});
