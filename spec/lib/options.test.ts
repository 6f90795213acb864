import { parseOptions, OptionSpecs } from '../../lib/options';
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
