import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import fc from 'fast-check';
import { MimeError } from '../../../lib/errors';
import { formatDate, parseDateTime, parsedatetime } from '../../../mime/codec/datetime';

/**
 * Runs `body` (JavaScript, with the module bound to `datetime`) in a child Node
 * process whose TZ is `zone`, and returns what it returns. A child is needed:
 * Jest gives each test file its own copy of process.env, so setting TZ here
 * would never reach V8's clock.
 */
function inZone(zone: string, body: string): unknown {
  const script = `
    const ts = require(${JSON.stringify(require.resolve('typescript'))});
    const fs = require('node:fs');
    require.extensions['.ts'] = (module, file) => module._compile(ts.transpileModule(fs.readFileSync(file, 'utf8'),
      { compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: true } }).outputText, file);
    const datetime = require(${JSON.stringify(path.resolve(__dirname, '../../../mime/codec/datetime.ts'))});
    process.stdout.write(JSON.stringify((() => { ${body} })()));
  `;
  const child = spawnSync(process.execPath, ['-e', script], { env: { ...process.env, TZ: zone }, encoding: 'utf8', timeout: 30000 });
  if (child.status !== 0) throw new Error(`child in ${zone} failed: ${child.stderr}`);
  return JSON.parse(child.stdout);
}

const RFC822_DATES = [
  'Tue, 29 Feb 2000 21:57:00 +0000',
  'Sun, 06 Nov 1994 08:49:37 GMT',
  'Fri, 13 Sep 2024 08:00:00 -0700',
  'Thu, 01 Jan 1970 00:00:00 +0000',
  'Mon, 15 Aug 2005 15:52:01 EST',
  'Sat, 31 Dec 2033 23:59:59 +1400',
];

describe('parsedatetime', () => {
  it('round-trips six RFC 822 dates through proper and clock with TZ=UTC', () => {
    const results = inZone('UTC', `return ${JSON.stringify(RFC822_DATES)}.map((date) => {
      const proper = datetime.parsedatetime(date, 'proper');
      return [datetime.parsedatetime(date, 'clock'), proper, datetime.parsedatetime(proper, 'clock')];
    });`) as Array<[number, string, number]>;
    for (const [index, [clock, proper, again]] of results.entries()) {
      expect(proper).toMatch(/^[A-Z][a-z]{2}, \d\d [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d \+0000$/);
      expect(again).toBe(clock);
      expect(clock).toBe(parsedatetime(RFC822_DATES[index], 'clock'));
    }
  });

  it('gives every property of Tcllib in the local zone', () => {
    const expected: Record<string, string | number> = {
      clock: 951861420, hour: 21, min: 57, sec: 0, mday: 29, mon: 2, yday: 60, year: 2000, wday: 2,
      weekday: 'Tue', month: 'Feb', lweekday: 'Tuesday', lmonth: 'February',
      proper: 'Tue, 29 Feb 2000 21:57:00 +0000', zone: 0,
    };
    const all = `const out = {}; for (const p of ${JSON.stringify(Object.keys(expected))}) out[p] = datetime.parsedatetime('Tue, 29 Feb 2000 21:57:00 +0000', p); return out;`;
    expect(inZone('UTC', all)).toEqual(expected);
    expect(inZone('America/New_York', all)).toEqual({
      ...expected, hour: 16, proper: 'Tue, 29 Feb 2000 16:57:00 -0500',
    });
    expect(inZone('Asia/Tokyo', all)).toEqual({
      ...expected, hour: 6, mday: 1, mon: 3, yday: 61, wday: 3, weekday: 'Wed', month: 'Mar', lweekday: 'Wednesday',
      lmonth: 'March', proper: 'Wed, 01 Mar 2000 06:57:00 +0900',
    });
  });

  it('reads numbers without leading zeros and the obsolete forms', () => {
    {
      expect(parsedatetime('Sat, 01 Jan 2000 12:00:00 +0000', 'mday')).toBe(1);
      expect(parsedatetime('Mon, 15 Aug 2005 15:52:01 EST', 'zone')).toBe(-300);
      expect(parsedatetime('Mon, 15 Aug 2005 15:52:01 PDT', 'zone')).toBe(-420);
      const utc = parsedatetime('29 Feb 2000 21:57:00 +0000', 'clock') as number;
      expect(parsedatetime('29 Feb 2000 21:57:00 +0530', 'clock')).toBe(utc - 19800);
      expect(parsedatetime('29 Feb 2000 21:57:00 +0530', 'zone')).toBe(330);
      expect(parsedatetime('Tue, 29 Feb 2000 16:57:00 -0500', 'zone')).toBe(-300);
      expect(parsedatetime('Tue, 29 Feb 2000 16:57:00 -0500', 'clock')).toBe(utc);
    }
  });

  it('spells September right (fix)', () => {
    expect(parsedatetime('13 Sep 2023 08:00:00 +0000', 'lmonth')).toBe('September');
  });

  it('accepts an optional weekday, comments, CFWS, two- and three-digit years and a missing seconds field', () => {
    {
      const base = parsedatetime('Wed, 13 Sep 2023 08:00:00 +0000', 'clock');
      expect(parsedatetime('13 Sep 2023 08:00:00 +0000', 'clock')).toBe(base);
      expect(parsedatetime('Wed, 13 Sep 2023 08:00:00 +0000 (UTC)', 'clock')).toBe(base);
      expect(parsedatetime('Wed,13 Sep 2023 08 : 00 +0000', 'clock')).toBe(base);
      expect(parsedatetime('(sent) Wednesday, 13 September 2023\r\n 08:00:00 GMT', 'clock')).toBe(base);
      expect(parsedatetime('Wed, 13 Sep 23 08:00:00 +0000', 'clock')).toBe(base);
      expect(parsedatetime('Wed, 13 Sep 123 08:00:00 +0000', 'clock')).toBe(base);
      expect(parsedatetime('1 Jun 49 00:00 +0000', 'year')).toBe(2049);
      expect(parsedatetime('1 Jun 50 00:00 +0000', 'year')).toBe(1950);
    }
  });

  it('reads unknown alphabetic zones as -0000 (RFC 5322 section 4.3)', () => {
    expect(parsedatetime('1 Jan 2000 00:00 Q', 'zone')).toBe(0);
    expect(parsedatetime('1 Jan 2000 00:00 CEST', 'clock')).toBe(946684800);
  });

  it('reads a date without a zone as local time, and its zone as the local offset', () => {
    expect(inZone('America/New_York', `return ['clock', 'zone'].map((p) => datetime.parsedatetime('Tue, 29 Feb 2000 16:57:00', p));`)).toEqual([951861420, -300]);
    expect(inZone('America/New_York', `return datetime.parsedatetime('Fri, 1 Jul 2022 12:00:00', 'zone');`)).toBe(-240);
  });

  it('also reads asctime and ISO 8601', () => {
    expect(parsedatetime('Tue Feb 29 21:57:00 GMT 2000', 'clock')).toBe(951861420);
    expect(parsedatetime('2000-02-29T21:57:00Z', 'clock')).toBe(951861420);
    expect(parsedatetime('2000-02-29 22:57:00+01:00', 'clock')).toBe(951861420);
    expect(inZone('UTC', `return datetime.parsedatetime('Tue Feb 29 21:57:00 2000', 'clock');`)).toBe(951861420);
  });

  it('answers -now with the present moment', () => {
    const before = Math.floor(Date.now() / 1000);
    const clock = parsedatetime('-now', 'clock') as number;
    expect(clock).toBeGreaterThanOrEqual(before);
    expect(clock).toBeLessThanOrEqual(Math.floor(Date.now() / 1000));
    expect(parsedatetime('-now', 'rclock')).toBe(0);
    expect(inZone('Asia/Kolkata', `return datetime.parsedatetime('-now', 'zone');`)).toBe(330);
  });

  it('gives rclock as the seconds from then to now', () => {
    const then = formatDate(new Date(Date.now() - 3600 * 1000));
    const rclock = parsedatetime(then, 'rclock') as number;
    expect(rclock).toBeGreaterThanOrEqual(3599);
    expect(rclock).toBeLessThan(3700);
  });

  it('throws a MimeError for an unknown property or a value it cannot read', () => {
    expect(() => parsedatetime('-now', 'bogus')).toThrow(new MimeError('unknown property bogus'));
    for (const bad of ['garbage', '', '30 Feb 2000 10:00 +0000', '1 Jan 2000 24:00 +0000', '1 Jan 2000 10:00 +0075', '1 Foo 2000 10:00 +0000', 'Xyz, 1 Jan 2000 10:00 +0000', '1 Jan 2000 10:00 (open']) {
      expect(() => parsedatetime(bad, 'clock')).toThrow(MimeError);
    }
    expect(() => parsedatetime('garbage', 'clock')).toThrow('unable to convert date-time string "garbage"');
  });
});

describe('formatDate', () => {
  it('writes RFC 5322 dates in the local zone with a numeric offset', () => {
    const format = `return datetime.formatDate(new Date(Date.UTC(2000, 1, 29, 21, 57, 0)));`;
    expect(inZone('UTC', format)).toBe('Tue, 29 Feb 2000 21:57:00 +0000');
    expect(inZone('Asia/Kolkata', format)).toBe('Wed, 01 Mar 2000 03:27:00 +0530');
    expect(inZone('America/St_Johns', format)).toBe('Tue, 29 Feb 2000 18:27:00 -0330');
    expect(formatDate(new Date(Date.UTC(2000, 1, 29, 21, 57, 0)))).toMatch(/^[A-Z][a-z]{2}, \d\d [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d [+-]\d{4}$/);
  });

  it('refuses an invalid Date', () => {
    expect(() => formatDate(new Date(NaN))).toThrow(MimeError);
  });

  it('is read back to the same second', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 4102444800 }), (seconds) => {
        const text = formatDate(new Date(seconds * 1000));
        expect(parseDateTime(text).clock).toBe(seconds);
        expect(parsedatetime(text, 'proper')).toBe(text);
      }),
      { numRuns: 300 },
    );
  });

  it('is read back to the same second in zones with odd offsets and daylight saving', () => {
    const seconds = fc.sample(fc.integer({ min: 0, max: 4102444800 }), { numRuns: 200, seed: 42 });
    for (const zone of ['Europe/Berlin', 'Pacific/Chatham', 'America/Los_Angeles', 'Asia/Kathmandu']) {
      const body = `return ${JSON.stringify(seconds)}.map((s) => {
        const text = datetime.formatDate(new Date(s * 1000));
        return [s, datetime.parseDateTime(text).clock, text, datetime.parsedatetime(text, 'proper')];
      });`;
      for (const [s, back, text, proper] of inZone(zone, body) as Array<[number, number, string, string]>) {
        expect(back).toBe(s);
        expect(proper).toBe(text);
      }
    }
  });
});
