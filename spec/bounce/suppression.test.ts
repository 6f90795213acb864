/**
 * The suppression list file: created with its header, appended without
 * duplicates (case-insensitively), read back as lower-cased addresses, and
 * safe with quoted cells and a last row without its line break.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InvalidInputError } from '../../lib/errors';
import { appendSuppression, loadSuppression } from '../../smtp/bulk/suppression';

let work: string;
beforeEach(() => {
  work = mkdtempSync(join(tmpdir(), 'tclmail-suppress-'));
});
afterEach(() => rmSync(work, { recursive: true, force: true }));

test('a missing list is empty; the first append creates it with its header', () => {
  const file = join(work, 's.csv');
  expect(loadSuppression(file).size).toBe(0);
  const added = appendSuppression(file, [
    { address: 'Ann@Example.net', reason: 'userunknown', date: '2026-12-07T08:00:00.000Z' },
    { address: 'ann@example.net', reason: 'hostunknown' },
    { address: '"odd,local"@example.net', reason: 'feedback', date: '2026-12-07T08:00:01.000Z' },
  ]);
  expect(added.map((e) => e.address)).toEqual(['Ann@Example.net', '"odd,local"@example.net']);
  expect(readFileSync(file, 'utf8')).toBe('address,reason,date\nAnn@Example.net,userunknown,2026-12-07T08:00:00.000Z\n"""odd,local""@example.net",feedback,2026-12-07T08:00:01.000Z\n');
  expect(loadSuppression(file)).toEqual(new Set(['ann@example.net', '"odd,local"@example.net']));
  expect(appendSuppression(file, [{ address: 'ANN@example.NET', reason: 'userunknown' }])).toEqual([]);
});

test('a list whose last row lacks its line break is continued on a new row', () => {
  const file = join(work, 's.csv');
  writeFileSync(file, 'address,reason,date\nbob@example.net,userunknown,2026-01-01');
  appendSuppression(file, [{ address: 'carl@example.net', reason: 'hostunknown', date: 'd' }]);
  expect(readFileSync(file, 'utf8')).toBe('address,reason,date\nbob@example.net,userunknown,2026-01-01\ncarl@example.net,hostunknown,d\n');
});

test('something that is not an address is refused before anything is written', () => {
  const file = join(work, 's.csv');
  expect(() => appendSuppression(file, [{ address: 'ok@example.net', reason: 'x' }, { address: 'no-at-sign', reason: 'x' }])).toThrow(InvalidInputError);
  expect(() => appendSuppression(file, [{ address: 'a@b.example\nx@y.example', reason: 'x' }])).toThrow(InvalidInputError);
  expect(loadSuppression(file).size).toBe(0);
});
