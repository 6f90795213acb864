/**
 * Item digests and row ids are stored in journals and in Redis: a later
 * release that computed them differently would see every item of a running
 * campaign as changed. These values were computed by the first release that
 * stored them (one hash update per length-prefixed chunk), and must not move.
 */
import { createHash } from 'node:crypto';
import { itemDigest, ListDigest, rowId } from '../../../smtp/bulk/identity';

const VALUES = { name: 'Zoë', code: 'c1', x: '' };

describe('identity', () => {
  it('keeps the item digest of stored campaigns', () => {
    expect(itemDigest({ sender: 'a@example.org', recipient: 'Zoë@Example.net', template: 't1', values: VALUES })).toBe(
      'b65ede9a5d72c3abf9a976068907141baafafee3492d79acbcf7b2d0d27b329d',
    );
  });

  it('keeps the row id of stored campaigns', () => {
    expect(rowId('Zoë@Example.net', VALUES)).toBe('buec7dohiu5ussjc');
  });

  it('digests each chunk with its UTF-8 length, so moved bytes make another digest', () => {
    const framed = (parts: string[]): string => {
      const hash = createHash('sha256');
      for (const part of parts) hash.update(`${Buffer.byteLength(part)}:${part}`);
      return hash.digest('hex');
    };
    const meaning = { sender: '', recipient: 'ann@example.net', template: 'T', values: { b: 'x', a: 'yz' } };
    expect(itemDigest(meaning)).toBe(framed(['', 'ann@example.net', 'T', '2', 'a', 'yz', 'b', 'x']));
    // The same characters split otherwise between two values: another item.
    expect(itemDigest({ ...meaning, values: { b: 'xy', a: 'z' } })).not.toBe(itemDigest(meaning));
    // Field order does not matter; the recipient's case does not either.
    expect(itemDigest({ ...meaning, recipient: 'ANN@example.net', values: { a: 'yz', b: 'x' } })).toBe(itemDigest(meaning));
  });

  it('digests a list in order', () => {
    const one = new ListDigest();
    one.add('a', 'd1');
    one.add('b', 'd2');
    const two = new ListDigest();
    two.add('b', 'd2');
    two.add('a', 'd1');
    expect(one.size).toBe(2);
    expect(one.digest()).not.toBe(two.digest());
  });
});
