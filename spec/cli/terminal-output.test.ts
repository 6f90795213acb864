/**
 * Regression: text that comes from a message or an SMTP client must not reach
 * the terminal as control characters. An encoded word decodes to any octet, so
 * a Subject could carry ESC sequences that retitle or repaint the terminal of
 * whoever runs `tclmail inspect`; the capture server prints what clients send.
 */
import * as mime from '../../mime';
import { printable } from '../../cli/args';
import { renderTree, treeOf } from '../../cli/commands/inspect';
import { describeMessage } from '../../cli/commands/serve';

describe('printable', () => {
  it('shows controls but TAB as \\xNN and keeps other text, non-ASCII included', () => {
    expect(printable('a\x1b]0;x\x07b\tc\x7f\u009bd é')).toBe('a\\x1b]0;x\\x07b\tc\\x7f\\x9bd é');
    expect(printable('plain text')).toBe('plain text');
  });
});

describe('tclmail inspect output', () => {
  it('does not print control characters that an encoded word decodes to', () => {
    const token = mime.initialize({
      string: 'Subject: =?UTF-8?Q?hi=1B]0;pwned=07_there?=\r\nX-Raw: a\x1b[2Jb\r\n\r\nbody\r\n',
    });
    try {
      const lines: string[] = [];
      renderTree(treeOf(token), (text) => lines.push(text));
      expect(lines).toContain('    Subject: hi\\x1b]0;pwned\\x07 there');
      expect(lines).toContain('    X-Raw: a\\x1b[2Jb');
      expect(lines.join('\n')).not.toMatch(/[\x00-\x08\x0b-\x1f\x7f]/);
    } finally {
      mime.finalize(token, { subordinates: 'all' });
    }
  });
});

describe('tclmail serve output', () => {
  it('does not print control characters from the client', () => {
    const text = describeMessage(
      { path: '/m/new/1.eml', from: 'a\x1b[31m@x.org', to: ['b@x.org'], size: 3, secure: false, client: 'c', user: 'u\x07' },
      new Date(0),
    );
    expect(text).toBe('1970-01-01T00:00:00.000Z <a\\x1b[31m@x.org> -> <b@x.org> (3 bytes, user u\\x07) /m/new/1.eml');
  });
});

describe('bidirectional controls', () => {
  it('are shown as \\u{NNNN}, so a Subject cannot display "cod.exe" as "exe.doc"', () => {
    expect(printable('Invoice \u202Ecod.exe')).toBe('Invoice \\u{202e}cod.exe');
    expect(printable('a\u2066b\u2069c\u200fd\u061ce\u2028f')).toBe('a\\u{2066}b\\u{2069}c\\u{200f}d\\u{61c}e\\u{2028}f');
  });

  it('never reach the tree that tclmail inspect prints', () => {
    const token = mime.initialize({ string: 'Subject: =?UTF-8?Q?Invoice_=E2=80=AEcod.exe?=\r\n\r\nbody\r\n' });
    try {
      const lines: string[] = [];
      renderTree(treeOf(token), (text) => lines.push(text));
      expect(lines).toContain('    Subject: Invoice \\u{202e}cod.exe');
      expect(lines.join('\n')).not.toMatch(/[\u202a-\u202e\u2066-\u2069]/);
    } finally {
      mime.finalize(token, { subordinates: 'all' });
    }
  });
});
