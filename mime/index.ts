/**
 * The mime module: Tcllib's `mime` package (1.7) for Node.js. A token names a
 * MIME part; parts are created by `initialize` (new, or parsed from an
 * existing message), read and changed with `getproperty`, `getheader`,
 * `setheader` and `getbody`, written with `buildmessage` or `copymessage`,
 * and released with `finalize`. Every command takes its options as one object
 * or as a Tcl-style flat list (`'-canonical', 'text/plain', '-string', 'hi'`).
 * See docs/mime.md.
 *
 * ```ts
 * import { mime } from 'tclmail';
 * const tok = mime.initialize({ canonical: 'text/plain', string: 'hello' });
 * mime.setheader(tok, 'Subject', 'Hi');
 * process.stdout.write(mime.buildmessage(tok));
 * mime.finalize(tok);
 * ```
 */
export { Token } from './tokens';
export type { Subordinates } from './tokens';
export { initialize, finalize } from './initialize';
export type { InitializeOptions, FinalizeOptions } from './initialize';
export { getproperty } from './properties';
export type { Properties } from './properties';
export { getheader, setheader } from './fields';
export type { SetheaderOptions } from './fields';
export { getbody } from './body';
export type { GetbodyOptions, BodyCallback } from './body';
export { buildmessage, copymessage } from './message';

export { qp_encode, qp_decode } from './codec/qp';
export { word_encode, word_decode, field_decode } from './codec/words';
export type { WordEncodeOptions } from './codec/words';
export { mapencoding, reversemapencoding } from './codec/charsets';
export { parsedatetime } from './codec/datetime';
export { uniqueID } from './build/uniqueid';
export { parseaddress } from './address';
export type { AddressInfo } from './address';

/** @internal For the smtp layer: see internal.ts. */
export { isToken, createMessageStream, messageChunks, checkMessageOptions, messageSize, hasEightBit, getHeaderFields } from './transmit';
export type { MessageStreamOptions } from './transmit';
