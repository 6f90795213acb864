/**
 * tclmail: Tcllib's `mime` and `smtp` packages for Node.js.
 *
 * ```ts
 * import { mime, smtp } from 'tclmail';
 * ```
 */
import * as mime from './mime';
import * as smtp from './smtp';

export { mime, smtp };
export * from './lib/errors';
