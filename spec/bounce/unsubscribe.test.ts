/**
 * One-click unsubscribe: the RFC 8058 header pair, a token that names the
 * item and the address and verifies only under the right secret, and the
 * refusals for weak secrets and non-https URLs.
 */
import { InvalidInputError, OptionError } from '../../lib/errors';
import { unsubscribeHeaders, unsubscribeToken, verifyUnsubscribeToken } from '../../smtp/bulk/unsubscribe';

const SECRET = 'a secret of more than 16 bytes';

test('the header pair carries a token that verifies back to the item and the address', () => {
  const headers = unsubscribeHeaders({ url: 'https://example.org/unsubscribe?list=news', secret: SECRET, id: 'a1b2', address: 'ann@example.net' });
  expect(headers['List-Unsubscribe-Post']).toBe('List-Unsubscribe=One-Click');
  const match = /^<(https:\/\/example\.org\/unsubscribe\?list=news&t=([A-Za-z0-9_.-]+))>$/.exec(headers['List-Unsubscribe']);
  expect(match).not.toBeNull();
  const token = new URL(match![1]).searchParams.get('t')!;
  expect(token).toBe(match![2]);
  expect(verifyUnsubscribeToken(SECRET, token)).toEqual({ id: 'a1b2', address: 'ann@example.net' });
});

test('a token under another secret, or changed in any part, does not verify', () => {
  const token = unsubscribeToken(SECRET, 'a1b2', 'ann@example.net');
  expect(verifyUnsubscribeToken('another secret of 16+ bytes', token)).toBeNull();
  const [id, address, mac] = token.split('.');
  const other = Buffer.from('bob@example.net').toString('base64url');
  expect(verifyUnsubscribeToken(SECRET, `${id}.${other}.${mac}`)).toBeNull();
  expect(verifyUnsubscribeToken(SECRET, `${Buffer.from('a1b3').toString('base64url')}.${address}.${mac}`)).toBeNull();
  expect(verifyUnsubscribeToken(SECRET, `${id}.${address}.${mac.slice(0, -2)}`)).toBeNull();
  expect(verifyUnsubscribeToken(SECRET, `${id}.${address}`)).toBeNull();
  expect(verifyUnsubscribeToken(SECRET, 'a1b2')).toBeNull();
  expect(verifyUnsubscribeToken(SECRET, `${id}.${address}.${mac}!`)).toBeNull();
});

test('the token is not the id: two addresses of one item get unrelated tokens', () => {
  const a = unsubscribeToken(SECRET, 'a1b2', 'ann@example.net').split('.')[2];
  const b = unsubscribeToken(SECRET, 'a1b2', 'bob@example.net').split('.')[2];
  expect(a).not.toBe(b);
  expect(Buffer.from(a, 'base64url')).toHaveLength(32);
});

test('weak secrets, non-https URLs and missing values are refused', () => {
  expect(() => unsubscribeHeaders({ url: 'https://example.org/u', secret: 'short', id: 'a', address: 'a@b.example' })).toThrow(OptionError);
  expect(() => unsubscribeHeaders({ url: 'http://example.org/u', secret: SECRET, id: 'a', address: 'a@b.example' })).toThrow(/https/);
  expect(() => unsubscribeHeaders({ url: 'mailto:u@example.org', secret: SECRET, id: 'a', address: 'a@b.example' })).toThrow(OptionError);
  expect(() => unsubscribeHeaders({ url: 'not a url', secret: SECRET, id: 'a', address: 'a@b.example' })).toThrow(OptionError);
  expect(unsubscribeHeaders({ url: 'http://127.0.0.1:8080/u', secret: SECRET, id: 'a', address: 'a@b.example' })['List-Unsubscribe']).toMatch(/^<http:\/\/127\.0\.0\.1:8080\/u\?t=/);
  expect(() => unsubscribeToken(SECRET, '', 'a@b.example')).toThrow(InvalidInputError);
  expect(() => verifyUnsubscribeToken(Buffer.alloc(4), 'x.y.z')).toThrow(OptionError);
});
