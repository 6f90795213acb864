/**
 * The envelope rules of sendmessage (Tcllib smtp 1.5.1's, with the fixes in
 * docs/differences-from-tcllib.md), as pure
 * functions over header lists: who MAIL FROM names, who gets a RCPT, and what
 * the transmitted header gains and loses.
 */
import { deriveEnvelope, type EnvelopeInput, type Field } from '../../smtp/envelope';
import { InvalidInputError, OptionError } from '../../lib/errors';

const stamp = { date: () => 'Tue, 29 Feb 2000 21:57:00 +0000', messageId: () => '<1.2.3@test>' };

function derive(over: Partial<EnvelopeInput> & { header?: Array<[string, string]>; part?: Field[] }) {
  return deriveEnvelope({
    header: over.header ?? [],
    partHeaders: over.part ?? [],
    originator: over.originator,
    recipients: over.recipients,
    bcc: over.bcc ?? 'same',
    stamp,
  });
}

function thrown(fn: () => unknown): Error {
  try {
    fn();
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected a throw');
}

describe('deriveEnvelope: sender and recipients', () => {
  it('takes MAIL FROM from From and RCPTs from To then Cc, and adds Date and Message-ID', () => {
    const env = derive({ header: [['From', 'Ann <ann@x.org>'], ['To', 'bob@y.org, cy@z.org'], ['Cc', 'dee@y.org'], ['Subject', 'Hi']] });
    expect(env.sender).toBe('ann@x.org');
    expect(env.recipients).toEqual(['bob@y.org', 'cy@z.org', 'dee@y.org']);
    expect(env.resent).toBe(false);
    expect(env.addHeaders).toEqual([
      ['From', 'Ann <ann@x.org>'],
      ['To', 'bob@y.org, cy@z.org'],
      ['Cc', 'dee@y.org'],
      ['Subject', 'Hi'],
      ['Date', stamp.date()],
      ['Message-ID', stamp.messageId()],
    ]);
    expect(env.subject).toBe('Hi');
  });

  it("reads the part's own fields when the header option has none (a message built with setheader sends as written)", () => {
    const env = derive({ part: [{ name: 'From', value: 'ann@x.org' }, { name: 'To', value: 'bob@y.org' }, { name: 'Date', value: 'Mon, 1 Jan 2001 00:00:00 +0000' }] });
    expect(env.sender).toBe('ann@x.org');
    expect(env.recipients).toEqual(['bob@y.org']);
    // The part's Date is kept; only the Message-ID is missing.
    expect(env.addHeaders).toEqual([['Message-ID', stamp.messageId()]]);
  });

  it('lets the recipients option replace To, Cc and Dcc, while Bcc still applies', () => {
    const env = derive({
      header: [['From', 'ann@x.org'], ['To', 'shown@y.org'], ['Dcc', 'dcc@y.org'], ['Bcc', 'blind@y.org']],
      recipients: 'real@y.org,other@y.org',
    });
    expect(env.recipients).toEqual(['real@y.org', 'other@y.org', 'blind@y.org']);
    expect(env.addHeaders.map(([k]) => k)).not.toContain('Dcc');
    expect(env.addHeaders.map(([k]) => k)).not.toContain('Bcc');
    expect(env.omitHeaders).toEqual(expect.arrayContaining(['bcc', 'dcc', 'resent-bcc', 'resent-dcc']));
  });

  it('sends Dcc and Bcc recipients in the same transaction and never transmits those fields', () => {
    const env = derive({
      header: [['From', 'ann@x.org'], ['To', 'bob@y.org'], ['Dcc', 'dee@y.org']],
      part: [{ name: 'Bcc', value: 'hid@z.org' }],
    });
    expect(env.recipients).toEqual(['bob@y.org', 'dee@y.org', 'hid@z.org']);
    expect(env.blind).toEqual([]);
    expect(env.addHeaders.some(([k]) => /^(b|d)cc$/i.test(k))).toBe(false);
    expect(env.omitHeaders).toContain('bcc');
  });

  it("keeps Bcc apart for bcc 'digest', without addresses that already get the message", () => {
    const env = derive({ header: [['From', 'ann@x.org'], ['To', 'bob@y.org'], ['Bcc', 'BOB@y.org, hid@z.org']], bcc: 'digest' });
    expect(env.recipients).toEqual(['bob@y.org']);
    expect(env.blind).toEqual(['hid@z.org']);
  });

  it("refuses bcc 'digest' for a message whose only recipients are blind", () => {
    const error = thrown(() => derive({ header: [['From', 'ann@x.org'], ['Bcc', 'hid@z.org']], bcc: 'digest' }));
    expect(error).toBeInstanceOf(OptionError);
    expect((error as OptionError).option).toBe('bcc');
  });

  it('removes duplicate recipients, comparing case-insensitively and keeping the first spelling', () => {
    const env = derive({ header: [['From', 'ann@x.org'], ['To', 'Bob@Y.org, cy@z.org'], ['Cc', 'bob@y.org'], ['Bcc', 'CY@z.org']] });
    expect(env.recipients).toEqual(['Bob@Y.org', 'cy@z.org']);
  });

  it('expands groups to their members and lets an empty group address nobody (no RCPT TO:<>)', () => {
    const env = derive({ header: [['From', 'ann@x.org'], ['To', 'undisclosed-recipients:;'], ['Cc', 'team: a@x.org, b@x.org;'], ['Bcc', 'c@x.org']] });
    expect(env.recipients).toEqual(['a@x.org', 'b@x.org', 'c@x.org']);
  });

  it('throws before any connection when there is no recipient at all', () => {
    const error = thrown(() => derive({ header: [['From', 'ann@x.org'], ['To', 'undisclosed-recipients:;']] }));
    expect(error).toBeInstanceOf(OptionError);
    expect(error.message).toMatch(/no recipients/);
  });
});

describe('deriveEnvelope: originator, From and Sender', () => {
  it('adds the originator as From when the message has none (Tcllib)', () => {
    const env = derive({ originator: 'ann@x.org', recipients: 'bob@y.org' });
    expect(env.sender).toBe('ann@x.org');
    expect(env.addHeaders[0]).toEqual(['From', 'ann@x.org']);
    expect(env.addHeaders.some(([k]) => k === 'Sender')).toBe(false);
  });

  it('names the originator, not the author, in the Sender it adds (RFC 5322 §3.6.2; Tcllib put the From address there)', () => {
    const env = derive({ originator: 'b@x.org', header: [['From', 'a@y.org'], ['To', 'c@z.org']] });
    expect(env.sender).toBe('b@x.org');
    expect(env.addHeaders).toContainEqual(['Sender', 'b@x.org']);
    expect(env.addHeaders).not.toContainEqual(['Sender', 'a@y.org']);
  });

  it('adds no Sender when the originator is the author or a Sender is already there', () => {
    expect(derive({ originator: 'A@y.org', header: [['From', 'Ann <a@y.org>'], ['To', 'c@z.org']] }).addHeaders.some(([k]) => k === 'Sender')).toBe(false);
    const env = derive({ originator: 'b@x.org', header: [['To', 'c@z.org']], part: [{ name: 'From', value: 'a@y.org' }, { name: 'Sender', value: 's@y.org' }] });
    expect(env.addHeaders.filter(([k]) => k === 'Sender')).toEqual([]);
  });

  it("sends MAIL FROM:<> for originator '' and keeps the message's From", () => {
    const env = derive({ originator: '', header: [['From', 'ann@x.org'], ['To', 'bob@y.org']] });
    expect(env.sender).toBe('');
    expect(env.addHeaders[0]).toEqual(['From', 'ann@x.org']);
  });

  it.each([
    ['no originator', undefined],
    ["originator ''", ''],
  ])('requires a From with %s (Tcllib used the login name, or sent none)', (_, originator) => {
    const error = thrown(() => derive({ originator, header: [['To', 'bob@y.org']] }));
    expect(error).toBeInstanceOf(OptionError);
    expect(error.message).toMatch(/need -header "From/);
  });

  it('refuses two authors without a Sender, and sends from the Sender when there is one', () => {
    expect(thrown(() => derive({ header: [['From', 'a@x.org, b@x.org'], ['To', 'c@y.org']] })).message).toMatch(/too many mailboxes in From/);
    const env = derive({ header: [['From', 'a@x.org, b@x.org'], ['Sender', 's@x.org'], ['To', 'c@y.org']] });
    expect(env.sender).toBe('s@x.org');
  });

  it('refuses an originator with two mailboxes', () => {
    const error = thrown(() => derive({ originator: 'a@x.org, b@x.org', recipients: 'c@y.org' }));
    expect(error).toBeInstanceOf(OptionError);
    expect((error as OptionError).option).toBe('originator');
    expect(error.message).toMatch(/too many mailboxes in -originator/);
  });

  it('switches to the Resent- fields when a header option key starts with Resent-', () => {
    const env = derive({
      header: [['Resent-From', 'fwd@x.org'], ['Resent-To', 'new@y.org'], ['Resent-Bcc', 'hid@y.org']],
      part: [{ name: 'From', value: 'orig@z.org' }, { name: 'To', value: 'old@z.org' }, { name: 'Date', value: 'Mon, 1 Jan 2001 00:00:00 +0000' }],
    });
    expect(env.resent).toBe(true);
    expect(env.sender).toBe('fwd@x.org');
    expect(env.recipients).toEqual(['new@y.org', 'hid@y.org']);
    const names = env.addHeaders.map(([k]) => k);
    expect(names).toEqual(['Resent-From', 'Resent-To', 'Resent-Date', 'Resent-Message-ID']);
  });
});

describe('deriveEnvelope: refusing bad input', () => {
  it('never invents a domain (Tcllib appended the local host name)', () => {
    const error = thrown(() => derive({ header: [['From', 'ann@x.org'], ['To', 'root']] }));
    expect(error).toBeInstanceOf(OptionError);
    expect(error.message).toMatch(/error in To: .*domain/);
  });

  it('remembers checked address lists without letting one call change another (the envelope cache)', () => {
    // The same text, first as a good From, then inside a bad To: the error still names To.
    const first = derive({ header: [['From', 'ann@x.org'], ['To', 'bob@y.org']] });
    first.recipients.push('mallory@evil.org');
    const second = derive({ header: [['From', 'ann@x.org'], ['To', 'bob@y.org']] });
    expect(second.recipients).toEqual(['bob@y.org']);
    const error = thrown(() => derive({ header: [['From', 'ann@x.org'], ['To', 'ann@x.org, root']] }));
    expect(error.message).toMatch(/error in To: /);
    const again = thrown(() => derive({ header: [['From', 'ann@x.org'], ['To', 'ann@x.org, root']] }));
    expect(again.message).toBe(error.message);
  });

  it("reports an address error from the part's headers as InvalidInputError and from an option as OptionError", () => {
    const fromPart = thrown(() => derive({ header: [['From', 'ann@x.org']], part: [{ name: 'To', value: 'john doe@x.org' }] }));
    expect(fromPart).toBeInstanceOf(InvalidInputError);
    expect(fromPart.message).toMatch(/error in To:/);
    const fromOption = thrown(() => derive({ header: [['From', 'ann@x.org']], recipients: 'john doe@x.org' }));
    expect(fromOption).toBeInstanceOf(OptionError);
    expect((fromOption as OptionError).option).toBe('recipients');
  });

  it.each([
    ['a CRLF in recipients', { recipients: 'a@x.org\r\nRCPT TO:<evil@x.org>' }],
    ['a CRLF inside a quoted local part', { recipients: '"x\r\nRCPT TO:<evil@x.org>\r\nNOOP "@b.org' }],
    ['a NUL in the originator', { originator: 'a\0@x.org', recipients: 'b@x.org' }],
    ['an ESMTP parameter smuggled in a quoted local part', { recipients: '"foo@x> ORCPT=rfc822;a@evil"@good.org' }],
  ])('refuses %s with InvalidInputError (no SMTP command injection)', (_, over) => {
    const error = thrown(() => derive({ header: [['From', 'ann@x.org']], ...over }));
    expect(error).toBeInstanceOf(InvalidInputError);
  });

  it("refuses the fields the MIME layer owns with Tcllib's message", () => {
    for (const name of ['Content-Type', 'content-transfer-encoding', 'Content-MD5', 'MIME-Version']) {
      const error = thrown(() => derive({ header: [[name, 'x'], ['From', 'a@x.org'], ['To', 'b@x.org']] }));
      expect(error).toBeInstanceOf(OptionError);
      expect(error.message).toMatch(/Content-Type, Content-Transfer-Encoding, Content-MD5, and MIME-Version cannot be user-specified\./);
    }
  });

  it.each([
    ['a CRLF in a value', ['Subject', 'hi\r\nBcc: evil@x.org']],
    ['a space in a key', ['X Bad', 'v']],
    ['a colon in a key', ['X-Bad:', 'v']],
  ])('refuses a header pair with %s', (_, pair) => {
    const error = thrown(() => derive({ header: [pair as [string, string], ['From', 'a@x.org'], ['To', 'b@x.org']] }));
    expect(error).toBeInstanceOf(InvalidInputError);
  });
});
