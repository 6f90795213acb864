import { parseOptions, type OptionSpecs, tclBoolean, typed } from '../../lib/options';
import { OptionError } from '../../lib/errors';

const specs: OptionSpecs = {
  servers: { kind: 'list' },
  ports: { kind: 'integers', min: 1 },
  header: { kind: 'pair', repeat: true },
  atleastone: { kind: 'boolean' },
  maxsecs: { kind: 'integer', min: 0 },
  mode: { kind: 'string', values: ['write', 'append', 'delete'] },
  tlspolicy: { kind: 'function' },
};

describe('parseOptions', () => {
  it('reads the object form and the flat list the same way', () => {
    const fromObject = parseOptions('t', specs, [{ servers: ['mx1', 'mx2'], header: [['Subject', 'Hi'], ['X-A', 'b']], atleastone: true }]);
    const fromList = parseOptions('t', specs, ['-servers', ['mx1', 'mx2'], '-header', ['Subject', 'Hi'], '-header', ['X-A', 'b'], '-atleastone', '1']);
    expect(fromList).toEqual(fromObject);
    expect(fromObject).toEqual({ servers: ['mx1', 'mx2'], header: [['Subject', 'Hi'], ['X-A', 'b']], atleastone: true });
  });

  it('accepts Tcl words: a list as one string, numbers as digits, Tcl booleans in any case', () => {
    expect(parseOptions('t', specs, ['-servers', 'mx1 mx2', '-ports', '25 587', '-maxsecs', '60', '-atleastone', 'No'])).toEqual({
      servers: ['mx1', 'mx2'],
      ports: [25, 587],
      maxsecs: 60,
      atleastone: false,
    });
  });

  it('lets the last occurrence of a plain option win, and repeats repeatable ones', () => {
    expect(parseOptions('t', specs, ['-maxsecs', 1, '-maxsecs', 2, '-header', ['A', '1'], '-header', ['A', '2']])).toEqual({
      maxsecs: 2,
      header: [['A', '1'], ['A', '2']],
    });
  });

  it('takes one pair as a list of one in the object form', () => {
    expect(parseOptions('t', specs, [{ header: ['Subject', 'Hi'] }])).toEqual({ header: [['Subject', 'Hi']] });
  });

  it.each([
    [['-bogus', 1], /unknown option -bogus/, 'bogus'],
    [[{ bogus: 1 }], /unknown option -bogus/, 'bogus'],
    [['-servers'], /Each option must have a value/, undefined],
    [['-atleastone', 'maybe'], /unknown boolean value/, 'atleastone'],
    [['-maxsecs', '5x'], /-maxsecs expects a whole number/, 'maxsecs'],
    [['-maxsecs', -1], /at least 0/, 'maxsecs'],
    [['-header', ['only-a-key']], /-header expects a key and a value/, 'header'],
    [['-mode', 'sideways'], /unknown value for -mode/, 'mode'],
    [[{ tlspolicy: 'secure' }], /-tlspolicy expects a function/, 'tlspolicy'],
    [['servers', ['a']], /expected an option name/, undefined],
  ])('refuses %j with a TypeError naming the option', (args, message, option) => {
    let caught: unknown;
    try {
      parseOptions('smtp.sendmessage', specs, args as unknown[]);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(TypeError);
    expect(caught).toBeInstanceOf(OptionError);
    expect((caught as OptionError).message).toMatch(message);
    expect((caught as OptionError).message).toMatch(/^smtp\.sendmessage: /);
    expect((caught as OptionError).option).toBe(option);
    expect((caught as OptionError).code).toBe('EOPTION');
  });

  it('returns nothing for no options', () => {
    expect(parseOptions('t', specs, [])).toEqual({});
    expect(parseOptions('t', specs, [{}])).toEqual({});
  });
});

describe('the number kind', () => {
  const SECONDS = { maxsecs: { kind: 'number', above: 0, unit: 'seconds' }, count: { kind: 'number', integer: true, min: 1, max: 10 } } as const satisfies OptionSpecs;

  it('reads numbers and Tcl words that read as numbers', () => {
    expect(parseOptions('t', SECONDS, ['-maxsecs', '0.5', '-count', '3'])).toEqual({ maxsecs: 0.5, count: 3 });
    expect(parseOptions('t', SECONDS, [{ maxsecs: 1e3, count: 10 }])).toEqual({ maxsecs: 1000, count: 10 });
    expect(parseOptions('t', SECONDS, ['-maxsecs', ' 2.5e1 '])).toEqual({ maxsecs: 25 });
  });

  it.each([
    [{ maxsecs: 0 }, /-maxsecs expects a positive number of seconds, not 0/],
    [{ maxsecs: -1 }, /positive number of seconds/],
    [{ maxsecs: Infinity }, /-maxsecs expects a number of seconds, not Infinity/],
    [{ maxsecs: NaN }, /-maxsecs expects a number of seconds/],
    [{ maxsecs: '5x' }, /-maxsecs expects a number of seconds, not "5x"/],
    [{ maxsecs: '' }, /-maxsecs expects a number of seconds/],
    [{ count: 2.5 }, /-count expects an integer, not 2.5/],
    [{ count: 0 }, /-count expects an integer of at least 1/],
    [{ count: 11 }, /-count expects an integer of at most 10/],
  ])('refuses %j naming the option', (options, message) => {
    expect(() => parseOptions('t', SECONDS, [options])).toThrow(message);
  });
});

describe('typed results', () => {
  const TABLE = {
    servers: { kind: 'list' },
    maxsecs: { kind: 'number', above: 0 },
    mode: { kind: 'string', values: ['write', 'append'] },
    header: { kind: 'pair', repeat: true },
    debug: { kind: 'boolean-or-function' },
    policy: typed<(host: string) => 'secure' | 'insecure'>()({ kind: 'function' }),
  } as const satisfies OptionSpecs;

  it('gives each option the type of its kind, with no cast at the call site', () => {
    const o = parseOptions('t', TABLE, ['-servers', 'a b', '-maxsecs', '2', '-mode', 'APPEND', '-header', ['K', 'V'], '-debug', 'on', '-policy', () => 'secure']);
    // These assignments are the test: they compile only if the result is typed from the table.
    const servers: string[] | undefined = o.servers;
    const maxsecs: number | undefined = o.maxsecs;
    const mode: 'write' | 'append' | undefined = o.mode;
    const header: Array<[string, string | string[]]> | undefined = o.header;
    const debug: boolean | ((line: string) => void) | undefined = o.debug;
    const policy: ((host: string) => 'secure' | 'insecure') | undefined = o.policy;
    expect({ servers, maxsecs, mode, header, debug, policy: policy?.('h') }).toEqual({
      servers: ['a', 'b'],
      maxsecs: 2,
      mode: 'append',
      header: [['K', 'V']],
      debug: true,
      policy: 'secure',
    });
  });

  it('reads the boolean-or-function kind', () => {
    const log = (line: string): void => void line;
    expect(parseOptions('t', TABLE, [{ debug: log }]).debug).toBe(log);
    expect(parseOptions('t', TABLE, [{ debug: 0 }]).debug).toBe(false);
    expect(() => parseOptions('t', TABLE, [{ debug: 'loud' }])).toThrow(/-debug expects a boolean or a function, not "loud"/);
  });
});

describe('tclBoolean', () => {
  it('reads the Tcl words in any case and nothing else', () => {
    expect(['1', 'TRUE', 'Yes', 'on', 1, true].map(tclBoolean)).toEqual([true, true, true, true, true, true]);
    expect(['0', 'false', 'NO', 'Off', 0, false].map(tclBoolean)).toEqual([false, false, false, false, false, false]);
    expect(['2', 'y', '', 2, null, undefined, 'truee'].map(tclBoolean)).toEqual([undefined, undefined, undefined, undefined, undefined, undefined, undefined]);
  });
});
