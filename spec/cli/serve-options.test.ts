/**
 * Regression: startCaptureServer refuses a call without its folder with the
 * typed OptionError (code EOPTION) every other option check throws, before it
 * creates anything.
 */
import { OptionError } from '../../lib/errors';
import { startCaptureServer } from '../../cli/serve';

describe('startCaptureServer options', () => {
  it('refuses a missing or empty dir with an OptionError naming it', async () => {
    for (const options of [{}, { dir: '' }]) {
      await expect(startCaptureServer(options as { dir: string })).rejects.toMatchObject({
        name: 'OptionError',
        code: 'EOPTION',
        option: 'dir',
        message: 'startCaptureServer: the dir option (the folder for received messages) is required',
      });
    }
    await expect(startCaptureServer({} as { dir: string })).rejects.toBeInstanceOf(OptionError);
  });
});
