/** The mime module: Tcllib mime 1.7 for Node.js (being written). */
export { qp_encode, qp_decode } from './qp';
export { word_encode, word_decode, field_decode } from './words';
export { mapencoding, reversemapencoding } from './charsets';
export { parsedatetime } from './datetime';
export { uniqueID } from './uniqueid';
export { parseaddress } from '../lib/address';
