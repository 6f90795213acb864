/**
 * bounce.parse on messages built here: RFC 3464 fields (RFC 6533 utf-8
 * addresses, ENVID, delayed and delivered actions), VERP correlation, the
 * three input forms and the typed errors.
 */
import { InvalidInputError, OptionError, mime } from '../../index';
import { bounce } from '../../index';

function dsn(recipients: string, perMessage = 'Reporting-MTA: dns; mx.example.org\r\nOriginal-Envelope-Id: item+2D42\r\n'): string {
  return [
    'From: Mail Delivery System <MAILER-DAEMON@mx.example.org>',
    'To: bounces+a1b2@example.org',
    'Subject: Undelivered Mail Returned to Sender',
    'MIME-Version: 1.0',
    'Content-Type: multipart/report; report-type=delivery-status; boundary="b"',
    '',
    '--b',
    'Content-Type: text/plain',
    '',
    'Your message could not be delivered.',
    '--b',
    'Content-Type: message/global-delivery-status',
    '',
    perMessage + '\r\n' + recipients,
    '--b',
    'Content-Type: text/rfc822-headers',
    '',
    'Message-ID: <m1@example.org>',
    'To: someone@example.net',
    '',
    '--b--',
    '',
  ].join('\r\n');
}

test('per-recipient groups in order, with status, reply code, remote MTA and reason', () => {
  const report = bounce.parse(
    dsn(
      'Final-Recipient: rfc822; ann@example.net\r\nAction: failed\r\nStatus: 5.1.1\r\nRemote-MTA: dns; mx.example.net\r\nDiagnostic-Code: smtp; 550 5.1.1 <ann@example.net>: Recipient address rejected: User unknown\r\n\r\n' +
        'Final-Recipient: rfc822; bob@example.net\r\nAction: delayed\r\nStatus: 4.2.2\r\nDiagnostic-Code: smtp; 452 4.2.2 Mailbox full\r\n\r\n' +
        'Final-Recipient: utf-8; J\\x{F6}rg@example.net\r\nAction: failed\r\nStatus: 5.0.0\r\nDiagnostic-Code: smtp; 550 5.2.1 account disabled\r\n',
    ),
  );
  expect(report?.kind).toBe('dsn');
  expect(report?.reportingMta).toBe('mx.example.org');
  expect(report?.original).toEqual({ messageId: 'm1@example.org', envid: 'item-42', item: '' });
  expect(report?.recipients.map((r) => [r.address, r.action, r.status, r.replyCode, r.reason, r.hard])).toEqual([
    ['ann@example.net', 'failed', '5.1.1', 550, 'userunknown', true],
    ['bob@example.net', 'delayed', '4.2.2', 452, 'mailboxfull', false],
    // RFC 6533 escapes undone; X.0.0 gives way to the precise code the server quoted.
    ['Jörg@example.net', 'failed', '5.2.1', 550, 'suspend', false],
  ]);
  expect(report?.recipients[0].remoteMta).toBe('mx.example.net');
});

test('a delivered action is reported as delivered, never as hard', () => {
  const report = bounce.parse(dsn('Final-Recipient: rfc822; ann@example.net\r\nAction: delivered\r\nStatus: 2.0.0\r\n'));
  expect(report?.recipients[0]).toMatchObject({ action: 'delivered', reason: 'delivered', hard: false });
});

test('VERP: the item id is read back from the address the bounce was sent to', () => {
  const message = dsn('Final-Recipient: rfc822; ann@example.net\r\nAction: failed\r\nStatus: 5.1.1\r\n');
  expect(bounce.parse(message, { verp: 'bounces+{id}@example.org' })?.original.item).toBe('a1b2');
  expect(bounce.parse(message, { verp: 'other+{id}@example.org' })?.original.item).toBe('');
  expect(bounce.parse(message)?.original.item).toBe('');
});

test('VERP: the Return-Path of the returned message and Original-Recipient are read too', () => {
  const message = dsn('Final-Recipient: rfc822; ann@example.net\r\nAction: failed\r\nStatus: 5.1.1\r\n')
    .replace('To: bounces+a1b2@example.org', 'To: ops@example.org')
    .replace('Message-ID: <m1@example.org>', 'Return-Path: <bounces+c3d4@example.org>\r\nMessage-ID: <m1@example.org>');
  expect(bounce.parse(message, { verp: 'bounces+{id}@example.org' })?.original.item).toBe('c3d4');
  const forwarded = dsn('Final-Recipient: rfc822; ann@example.net\r\nOriginal-Recipient: rfc822; list+e5f6@example.org\r\nAction: failed\r\nStatus: 5.1.1\r\n').replace('To: bounces+a1b2@example.org', 'To: ops@example.org');
  expect(bounce.parse(forwarded, { verp: 'list+{id}@example.org' })?.original.item).toBe('e5f6');
});

test('verpAddress writes a safe address and refuses what RFC 5321 would not carry', () => {
  expect(bounce.verpAddress('bounces+{id}@example.org', 'a1B2_-')).toBe('bounces+a1B2_-@example.org');
  expect(bounce.verpItem('bounces+{id}@example.org', ['x@y.z', '<BOUNCES+abc@Example.ORG>'])).toBe('abc');
  expect(() => bounce.verpAddress('bounces+{id}@example.org', 'a b')).toThrow(InvalidInputError);
  expect(() => bounce.verpAddress('bounces+{id}@example.org', 'x'.repeat(57))).toThrow(/64/);
  expect(bounce.verpAddress('bounces+{id}@example.org', 'x'.repeat(56))).toHaveLength(64 + '@example.org'.length);
  expect(() => bounce.verpAddress('bounces@example.org', 'a')).toThrow(/\{id\} exactly once/);
  expect(() => bounce.verpAddress('bounces+{id}', 'a')).toThrow(InvalidInputError);
  expect(() => bounce.verpAddress('b{id}+{id}@example.org', 'a')).toThrow(InvalidInputError);
  try {
    bounce.verpAddress('bounces+{id}@example.org', '');
  } catch (error) {
    expect((error as InvalidInputError).code).toBe('EINVAL');
  }
});

test('a Buffer, a string and a mime token read the same; the caller keeps its token', () => {
  const text = dsn('Final-Recipient: rfc822; ann@example.net\r\nAction: failed\r\nStatus: 5.1.1\r\n');
  const token = mime.initialize({ string: Buffer.from(text) });
  const fromToken = bounce.parse(token);
  expect(mime.getproperty(token, 'content')).toBe('multipart/report');
  mime.finalize(token);
  expect(bounce.parse(Buffer.from(text))).toEqual(fromToken);
  expect(bounce.parse(text)).toEqual(fromToken);
});

test('prose bounces: the explanation may follow the address, precede the list, or sit in a later transcript', () => {
  const head = 'From: MAILER-DAEMON@gw.example.org\r\nTo: news@example.org\r\nSubject: Undeliverable: hello\r\n\r\n';
  const exchange = bounce.parse(
    head + 'Delivery has failed to these recipients or groups:\r\n\r\nann@example.net\r\nThe email address you entered couldn\'t be found.\r\n\r\nDiagnostic information for administrators:\r\n\r\nann@example.net\r\n#550 5.1.1 RESOLVER.ADR.RecipNotFound; not found ##\r\n',
  );
  expect(exchange?.recipients.map((r) => [r.address, r.status, r.replyCode, r.reason, r.hard])).toEqual([['ann@example.net', '5.1.1', 550, 'userunknown', true]]);
  const before = bounce.parse(head + 'Your message could not be delivered because of\r\n\r\n552 5.2.2 Mailbox quota exceeded\r\n\r\nThe following recipients were affected:\r\n    bob@example.net\r\n    carl@example.net\r\n');
  expect(before?.recipients.map((r) => [r.address, r.status, r.replyCode, r.reason, r.hard])).toEqual([
    ['bob@example.net', '5.2.2', 552, 'mailboxfull', false],
    ['carl@example.net', '5.2.2', 552, 'mailboxfull', false],
  ]);
  const delayed = bounce.parse(head + 'This is a warning only; delivery attempts will continue.\r\n\r\n<dave@example.net>: connection timed out\r\n');
  expect(delayed?.recipients[0]).toMatchObject({ address: 'dave@example.net', action: 'delayed', reason: 'networkerror', hard: false });
  expect(delayed?.recipients[0].status.startsWith('4.')).toBe(true);
});

test('ordinary mail is null', () => {
  expect(bounce.parse('From: ann@example.net\r\nTo: bob@example.net\r\nSubject: lunch\r\n\r\nAt noon? Reply to 550 Main St.\r\n')).toBeNull();
  expect(bounce.parse('')).toBeNull();
  // A signature address on its own line and an error code in prose do not make a bounce.
  expect(bounce.parse('From: carl@example.net\r\nSubject: the site\r\n\r\nThe site says Error 500 again.\r\n\r\n--\r\ncarl@example.net\r\n')).toBeNull();
});

test('a forwarded message and a reply quoting addresses are ordinary mail', () => {
  const forwarded = [
    'From: dan@example.net',
    'To: team@example.org',
    'Subject: Fwd: minutes',
    'Content-Type: multipart/mixed; boundary="x"',
    '',
    '--x',
    'Content-Type: text/plain',
    '',
    'See below; send comments to:',
    'ann@example.net',
    '--x',
    'Content-Type: message/rfc822',
    '',
    'From: ann@example.net',
    'To: dan@example.net',
    'Message-ID: <n1@example.net>',
    '',
    'Minutes attached.',
    '--x--',
    '',
  ].join('\r\n');
  expect(bounce.parse(forwarded)).toBeNull();
  expect(bounce.parse('From: eve@example.net\r\nSubject: Re: order 550\r\n\r\n> bob@example.net wrote:\r\n> 550 widgets, please.\r\nShipped.\r\n')).toBeNull();
});

test('an auto-reply answers with one vacation entry, the original found through In-Reply-To', () => {
  const report = bounce.parse('From: Ann <ann@example.net>\r\nTo: bounces+x@example.org\r\nAuto-Submitted: auto-replied\r\nIn-Reply-To: <m9@example.org>\r\nSubject: Out of office\r\n\r\nBack on Monday.\r\n');
  expect(report).toEqual({
    kind: 'autoreply',
    reportingMta: '',
    original: { messageId: 'm9@example.org', envid: '', item: '' },
    recipients: [{ address: 'ann@example.net', action: 'delivered', status: '', replyCode: null, diagnostic: 'Out of office', reason: 'vacation', hard: false, remoteMta: '', feedbackType: '' }],
  });
});

test('bad arguments are typed errors', () => {
  expect(() => bounce.parse(42 as unknown as string)).toThrow(OptionError);
  expect(() => bounce.parse('x', { verp: 3 } as unknown as { verp: string })).toThrow(OptionError);
  expect(() => bounce.parse('x', { vrep: 'a' } as unknown as { verp: string })).toThrow(/unknown option vrep/);
  expect(() => bounce.parse('x', { verp: 'no-placeholder@example.org' })).toThrow(InvalidInputError);
});

test('the reason vocabulary is documented and hard reasons are a subset of it', () => {
  for (const reason of bounce.HARD) expect(bounce.REASONS).toContain(reason);
});
