/**
 * Dates in mail: parsing the date-time of RFC 5322 section 3.3 (with the
 * obsolete forms of section 4.3: two-digit years, named zones, comments) and
 * writing it. Results are given in the process's local time zone, as Tcllib
 * gives them; set `TZ` for another zone.
 */
import { MimeError } from '../../lib/errors';

const WEEKDAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const WEEKDAYS_LONG = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const MONTHS_LONG = [
  'January', 'February', 'March', 'April', 'May', 'June',
  'July', 'August', 'September', 'October', 'November', 'December',
];

/** Minutes east of UTC for the zone names RFC 5322 section 4.3 defines. */
const NAMED_ZONES: Readonly<Record<string, number>> = {
  UT: 0, UTC: 0, GMT: 0, Z: 0,
  EST: -300, EDT: -240, CST: -360, CDT: -300, MST: -420, MDT: -360, PST: -480, PDT: -420,
};

const PROPERTIES = new Set([
  'clock', 'hour', 'min', 'sec', 'mday', 'mon', 'yday', 'year', 'wday', 'weekday', 'month',
  'lweekday', 'lmonth', 'rclock', 'proper', 'zone',
]);

/** A point in time read from a date-time, and the zone it was written in (null when it named none). */
export interface ParsedDateTime {
  /** Seconds since 1970-01-01T00:00:00Z. */
  clock: number;
  /** Minutes east of UTC as written (`-0500` gives -300), or null when the text gave no zone. */
  zone: number | null;
}

function pad(n: number, width = 2): string {
  return String(Math.abs(n)).padStart(width, '0');
}

/**
 * Formats a moment as an RFC 5322 date-time in the local zone with a numeric
 * offset: `Tue, 29 Feb 2000 21:57:00 +0000`. This is what Tcllib's
 * `parsedatetime -now proper` gives, and what Date headers carry.
 */
export function formatDate(date: Date = new Date()): string {
  if (Number.isNaN(date.getTime())) throw new MimeError('formatDate: invalid Date');
  const offset = 0 - Math.round(date.getTimezoneOffset());
  const sign = offset < 0 ? '-' : '+';
  return (
    `${WEEKDAYS[date.getDay()]}, ${pad(date.getDate())} ${MONTHS[date.getMonth()]} ${pad(date.getFullYear(), 4)} ` +
    `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())} ` +
    `${sign}${pad(Math.floor(Math.abs(offset) / 60))}${pad(Math.abs(offset) % 60)}`
  );
}

/** Comments become a space and white space runs become one space; a comma or colon sheds its spaces. */
function normalize(value: string): string {
  let out = '';
  let depth = 0;
  for (let i = 0; i < value.length; i++) {
    const c = value[i];
    if (depth > 0) {
      if (c === '\\') i++;
      else if (c === '(') depth++;
      else if (c === ')' && --depth === 0) out += ' ';
      continue;
    }
    if (c === '(') depth = 1;
    else if (c === ' ' || c === '\t' || c === '\r' || c === '\n') out += ' ';
    else out += c;
  }
  if (depth > 0) throw new Error('unterminated comment');
  return out.replace(/ +/g, ' ').replace(/ ?, ?/g, ', ').replace(/ ?: ?/g, ':').trim();
}

function monthNumber(name: string): number {
  const lower = name.toLowerCase();
  for (let i = 0; i < 12; i++) {
    if (lower === MONTHS[i].toLowerCase() || lower === MONTHS_LONG[i].toLowerCase()) return i + 1;
  }
  throw new Error(`unknown month ${name}`);
}

function checkWeekday(name: string | undefined): void {
  if (name === undefined) return;
  const lower = name.toLowerCase();
  for (let i = 0; i < 7; i++) {
    if (lower === WEEKDAYS[i].toLowerCase() || lower === WEEKDAYS_LONG[i].toLowerCase()) return;
  }
  throw new Error(`unknown day of week ${name}`);
}

/** A zone as minutes east of UTC: `+hhmm`, `+hh:mm`, or a name (RFC 5322 section 4.3). */
function zoneMinutes(text: string): number {
  const numeric = /^([+-])(\d\d):?(\d\d)$/.exec(text);
  if (numeric) {
    const minutes = Number(numeric[3]);
    if (minutes > 59) throw new Error(`malformed timezone-specification: ${text}`);
    const total = Number(numeric[2]) * 60 + minutes;
    return numeric[1] === '-' ? 0 - total : total; // 0 - 0 is +0: -0000 reads as 0, not -0
  }
  const upper = text.toUpperCase();
  if (Object.prototype.hasOwnProperty.call(NAMED_ZONES, upper)) return NAMED_ZONES[upper];
  // Military letters and other alphabetic names carry no reliable meaning: RFC 5322 reads them as -0000.
  if (/^[A-Z]{1,5}$/.test(upper)) return 0;
  throw new Error(`unrecognized timezone: ${text}`);
}

/** RFC 5322 section 4.3: 00-49 are 2000-2049, 50-99 and three-digit years count from 1900. */
function fullYear(text: string): number {
  const year = Number(text);
  if (text.length === 2) return year < 50 ? 2000 + year : 1900 + year;
  if (text.length === 3) return 1900 + year;
  return year;
}

interface Fields {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
  zone: number | null;
}

function daysInMonth(year: number, month: number): number {
  const date = new Date(0);
  date.setUTCFullYear(year, month, 0);
  return date.getUTCDate();
}

function toClock(f: Fields): number {
  if (f.month < 1 || f.month > 12) throw new Error(`month ${f.month} out of range`);
  if (f.day < 1 || f.day > daysInMonth(f.year, f.month)) throw new Error(`day ${f.day} out of range`);
  if (f.hour > 23 || f.minute > 59 || f.second > 60) throw new Error('time of day out of range');
  const date = new Date(0);
  if (f.zone === null) {
    date.setFullYear(f.year, f.month - 1, f.day);
    date.setHours(f.hour, f.minute, f.second, 0);
    return Math.floor(date.getTime() / 1000);
  }
  date.setUTCFullYear(f.year, f.month - 1, f.day);
  date.setUTCHours(f.hour, f.minute, f.second, 0);
  return Math.floor(date.getTime() / 1000) - f.zone * 60;
}

// Each pattern is anchored and its parts are separated by fixed characters, so matching is linear.
const RFC5322 = /^(?:([A-Za-z]+)(?:, | ))?(\d{1,2}) ([A-Za-z]+) (\d{2,4}) (\d{1,2}):(\d\d)(?::(\d\d))?(?: (\S+))?$/;
const ASCTIME = /^(?:([A-Za-z]+),? )?([A-Za-z]+) (\d{1,2}) (\d{1,2}):(\d\d)(?::(\d\d))?(?: ([A-Za-z]+|[+-]\d{4}))? (\d{4})$/;
const ISO8601 = /^(\d{4})-(\d\d)-(\d\d)(?:[Tt ](\d\d):(\d\d)(?::(\d\d)(?:\.\d+)?)?)? ?([Zz]|[+-]\d\d:?\d\d)?$/;

/**
 * Reads a date-time: RFC 5322 (`Tue, 29 Feb 2000 21:57:00 +0000`, day of week
 * optional, obsolete zones and two-digit years accepted, comments ignored),
 * C's asctime (`Tue Feb 29 21:57:00 2000`) or ISO 8601 (`2000-02-29T21:57:00Z`).
 * A date-time without a zone is local time. Throws a MimeError on anything else.
 */
export function parseDateTime(value: string): ParsedDateTime {
  try {
    const text = normalize(value);
    let m = RFC5322.exec(text);
    if (m) {
      checkWeekday(m[1]);
      const zone = m[8] === undefined ? null : zoneMinutes(m[8]);
      const fields = { year: fullYear(m[4]), month: monthNumber(m[3]), day: Number(m[2]), hour: Number(m[5]), minute: Number(m[6]), second: Number(m[7] ?? 0), zone };
      return { clock: toClock(fields), zone };
    }
    m = ASCTIME.exec(text);
    if (m) {
      checkWeekday(m[1]);
      const zone = m[7] === undefined ? null : zoneMinutes(m[7]);
      const fields = { year: Number(m[8]), month: monthNumber(m[2]), day: Number(m[3]), hour: Number(m[4]), minute: Number(m[5]), second: Number(m[6] ?? 0), zone };
      return { clock: toClock(fields), zone };
    }
    m = ISO8601.exec(text);
    if (m) {
      const zone = m[7] === undefined ? null : zoneMinutes(m[7]);
      const fields = { year: Number(m[1]), month: Number(m[2]), day: Number(m[3]), hour: Number(m[4] ?? 0), minute: Number(m[5] ?? 0), second: Number(m[6] ?? 0), zone };
      return { clock: toClock(fields), zone };
    }
    throw new Error('not an RFC 5322, asctime or ISO 8601 date-time');
  } catch (error) {
    throw new MimeError(`unable to convert date-time string "${value}": ${(error as Error).message}`);
  }
}

function dayOfYear(date: Date): number {
  const start = Date.UTC(date.getFullYear(), 0, 1);
  const today = Date.UTC(date.getFullYear(), date.getMonth(), date.getDate());
  return (today - start) / 86400000 + 1;
}

/**
 * One property of a date-time given as text, or of the present moment with
 * `'-now'`, rendered in the process's local time zone:
 * `clock` (seconds since the epoch), `hour`, `min`, `sec`, `mday`, `mon`,
 * `yday`, `year`, `wday` (0 is Sunday) as numbers; `weekday`, `month`,
 * `lweekday`, `lmonth` as names; `rclock` (seconds from then to now, 0 for
 * `-now`); `proper` (`Tue, 29 Feb 2000 21:57:00 +0000`); and `zone`, the
 * written zone in minutes east of UTC (`-0500` gives -300; the local zone's
 * offset when the text has none, and for `-now`).
 *
 * Tcl: `mime::parsedatetime "Tue, 29 Feb 2000 16:57:00 -0500" zone` (an error in Tcllib 1.21)
 * TypeScript: `mime.parsedatetime('Tue, 29 Feb 2000 16:57:00 -0500', 'zone')` → `-300`
 */
export function parsedatetime(value: string, property: string): string | number {
  if (typeof value !== 'string') throw new MimeError('parsedatetime expects a date-time string or -now');
  if (!PROPERTIES.has(property)) throw new MimeError(`unknown property ${property}`);
  const now = value === '-now';
  const parsed: ParsedDateTime = now ? { clock: Math.floor(Date.now() / 1000), zone: null } : parseDateTime(value);
  const date = new Date(parsed.clock * 1000);
  switch (property) {
    case 'clock':
      return parsed.clock;
    case 'hour':
      return date.getHours();
    case 'min':
      return date.getMinutes();
    case 'sec':
      return date.getSeconds();
    case 'mday':
      return date.getDate();
    case 'mon':
      return date.getMonth() + 1;
    case 'yday':
      return dayOfYear(date);
    case 'year':
      return date.getFullYear();
    case 'wday':
      return date.getDay();
    case 'weekday':
      return WEEKDAYS[date.getDay()];
    case 'month':
      return MONTHS[date.getMonth()];
    case 'lweekday':
      return WEEKDAYS_LONG[date.getDay()];
    case 'lmonth':
      return MONTHS_LONG[date.getMonth()];
    case 'rclock':
      return now ? 0 : Math.floor(Date.now() / 1000) - parsed.clock;
    case 'proper':
      return formatDate(date);
    default: // 'zone'
      return parsed.zone ?? 0 - Math.round(date.getTimezoneOffset());
  }
}
