/**
 * Finds the delimiter lines of a multipart body (RFC 2046 section 5.1.1). A
 * delimiter is `--boundary` at the start of a line, then optional transport
 * padding (SP or TAB), then the line break; the close delimiter has `--` right
 * after the boundary. The line break before a delimiter belongs to it, so a
 * body part ends where that line break begins.
 *
 * The scan is one indexOf walk over the body for `LF--boundary` (linear, no
 * regular expressions), stopping at the close delimiter.
 */
import type { Source } from './source';

/** One delimiter line, by absolute offsets. */
export interface Delimiter {
  /** Where the delimiter starts: its leading line break, or the `--` when it opens the body. */
  start: number;
  /** Just after the delimiter's own line break: where the next body part (or the epilogue) starts. */
  end: number;
  /** True for the close delimiter `--boundary--`. */
  close: boolean;
  /** Where its `--` is (after `start` when the delimiter has a line break of its own before it). */
  dashes: number;
}

export interface DelimiterScan {
  delimiters: Delimiter[];
  /** True when the close delimiter was found (it is then the last entry). */
  closed: boolean;
  /** True when the scan stopped because more than `maxParts` body parts were found. */
  tooMany: boolean;
}

// More padding than this is not transport padding but content that happens to start like a delimiter.
const MAX_PADDING = 1000;

/** Bytes of one candidate line after `--boundary`, enough to classify it. */
function classify(source: Source, after: number, end: number): { close: boolean; lineEnd: number } | null {
  const tail = source.peek(after, Math.min(end, after + 2 + MAX_PADDING + 2));
  let at = 0;
  let close = false;
  if (tail.length >= 2 && tail[0] === 0x2d && tail[1] === 0x2d) {
    close = true;
    at = 2;
  }
  while (at < tail.length && (tail[at] === 0x20 || tail[at] === 0x09)) at++;
  if (after + at === end) return { close, lineEnd: end };
  if (at < tail.length && tail[at] === 0x0a) return { close, lineEnd: after + at + 1 };
  if (at + 1 < tail.length && tail[at] === 0x0d && tail[at + 1] === 0x0a) return { close, lineEnd: after + at + 2 };
  return null;
}

/**
 * Scans the body [start, end) for the delimiters of `boundary`, up to and
 * including the close delimiter, and gives up once more than `maxParts` body
 * parts have been seen.
 */
export function scanDelimiters(source: Source, start: number, end: number, boundary: Buffer, maxParts: number): DelimiterScan {
  const dashes = Buffer.concat([Buffer.from('--'), boundary]);
  const needle = Buffer.concat([Buffer.from('\n'), dashes]);
  const delimiters: Delimiter[] = [];
  let opened = 0;
  // Nothing before this offset can belong to the next delimiter: the end of the previous one.
  let floor = start;

  // Classifies the candidate whose `--` is at `dashesAt`; 'no' when the line is content after all.
  const accept = (lineStart: number, dashesAt: number): 'close' | 'more' | 'full' | 'no' => {
    const kind = classify(source, dashesAt + dashes.length, end);
    if (kind === null) return 'no';
    delimiters.push({ start: lineStart, end: kind.lineEnd, close: kind.close, dashes: dashesAt });
    floor = kind.lineEnd;
    if (kind.close) return 'close';
    opened++;
    return opened > maxParts ? 'full' : 'more';
  };
  const result = (outcome: 'close' | 'full' | 'end'): DelimiterScan => ({ delimiters, closed: outcome === 'close', tooMany: outcome === 'full' });

  let from = start;
  if (end - start >= dashes.length && source.peek(start, start + dashes.length).equals(dashes)) {
    const outcome = accept(start, start);
    if (outcome === 'close' || outcome === 'full') return result(outcome);
    from = floor;
  }
  for (;;) {
    // A delimiter right after another may share its line break: look from that LF on.
    const at = source.indexOf(needle, from > start ? from - 1 : from, end);
    if (at < 0) return result('end');
    let lineStart = at;
    if (at < floor) lineStart = floor;
    else if (at - 1 >= floor && source.peek(at - 1, at)[0] === 0x0d) lineStart = at - 1;
    const outcome = accept(lineStart, at + 1);
    if (outcome === 'close' || outcome === 'full') return result(outcome);
    from = outcome === 'more' ? floor : at + 2;
  }
}
