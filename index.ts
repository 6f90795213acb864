/**
 * tclmail: Tcllib's `mime` and `smtp` packages for Node.js.
 *
 * ```ts
 * import { mime, smtp, bounce } from 'tclmail';
 * ```
 */
import * as mime from './mime';
import * as smtp from './smtp';
import * as bounce from './bounce';

export { mime, smtp, bounce };
export * from './lib/errors';
