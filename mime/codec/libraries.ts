/**
 * The encoding libraries, each loaded on its first use. Loading libmime (with
 * the iconv-lite and encoding-japanese tables it brings) costs a Node process
 * about 10 MiB of memory and 30 ms; a program that writes ASCII and UTF-8
 * messages never needs them, and a bulk sender or a streaming copy should not
 * carry them.
 */
import type * as Libmime from 'libmime';
import type * as LibmimeCharset from 'libmime/lib/charset';
import type * as Japanese from 'encoding-japanese';
import type Iconv from 'iconv-lite';

let libmimeModule: typeof Libmime | undefined;
let charsetModule: typeof LibmimeCharset | undefined;
let japaneseModule: typeof Japanese | undefined;
let iconvModule: typeof Iconv | undefined;

/** libmime: RFC 2047 words, RFC 2231 parameters, header values with parameters. */
export function libmime(): typeof Libmime {
  return (libmimeModule ??= require('libmime') as typeof Libmime);
}

/** libmime's charset module: name cleanup and the ISO-2022-JP decoder. */
export function libcharset(): typeof LibmimeCharset {
  return (charsetModule ??= require('libmime/lib/charset') as typeof LibmimeCharset);
}

/** encoding-japanese: the ISO-2022-JP encoder. */
export function japanese(): typeof Japanese {
  return (japaneseModule ??= require('encoding-japanese') as typeof Japanese);
}

/** iconv-lite: every other legacy charset. */
export function iconv(): typeof Iconv {
  return (iconvModule ??= require('iconv-lite') as typeof Iconv);
}
