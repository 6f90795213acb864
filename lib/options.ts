/**
 * The one option parser. Every public command takes its options either as one
 * object or as a Tcl-style flat list (`'-servers', ['a', 'b'], '-header', ['K', 'V']`),
 * so that a Tcl line ports by quoting its words. Both forms end here, are checked
 * here, and fail here with an {@link OptionError} that names the option.
 */
import { OptionError } from './errors';

/** How a value is read. Flat-list values are Tcl words, so strings are accepted where Tcl would. */
export type OptionKind =
  | 'string' // a string
  | 'boolean' // true/false, or Tcl's 0 1 true false yes no on off (any case)
  | 'integer' // a whole number, or a string of digits
  | 'list' // an array of strings, or one string split on white space (a Tcl list)
  | 'integers' // an array of whole numbers, or a string of them split on white space
  | 'pair' // a two-element array [key, value]
  | 'function' // a function
  | 'object' // a plain object (e.g. TLS options passed to Node)
  | 'any'; // anything but undefined

export interface OptionSpec {
  kind: OptionKind;
  /** Repeatable in the flat list (Tcl's `-header`, `-param`); an array of values in the object form. */
  repeat?: boolean;
  /** For strings: the accepted values, compared case-insensitively and returned lowercased. */
  values?: readonly string[];
  /** For integers: the smallest value accepted. */
  min?: number;
}

export type OptionSpecs = Readonly<Record<string, OptionSpec>>;

/** A parsed option set: each key present only when the caller gave it. */
export type ParsedOptions = Record<string, unknown>;

const TCL_TRUE = new Set(['1', 'true', 'yes', 'on']);
const TCL_FALSE = new Set(['0', 'false', 'no', 'off']);

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (Array.isArray(value)) return 'an array';
  if (value === null) return 'null';
  return typeof value;
}

/** Splits a Tcl list given as one string: words separated by white space (braces are not interpreted). */
export function splitTclList(text: string): string[] {
  return text.split(/[ \t\r\n]+/).filter((word) => word !== '');
}

function coerce(command: string, name: string, spec: OptionSpec, value: unknown): unknown {
  const fail = (expected: string): never => {
    throw new OptionError(command, name, `-${name} expects ${expected}, not ${describe(value)}`);
  };
  switch (spec.kind) {
    case 'string': {
      if (typeof value !== 'string') fail('a string');
      const text = value as string;
      if (spec.values) {
        const lower = text.toLowerCase();
        if (!spec.values.includes(lower)) {
          throw new OptionError(command, name, `unknown value for -${name} ${JSON.stringify(text)}, must be one of ${spec.values.join(', ')}`);
        }
        return lower;
      }
      return text;
    }
    case 'boolean': {
      if (typeof value === 'boolean') return value;
      if (value === 0 || value === 1) return value === 1;
      if (typeof value === 'string') {
        const lower = value.toLowerCase();
        if (TCL_TRUE.has(lower)) return true;
        if (TCL_FALSE.has(lower)) return false;
      }
      throw new OptionError(command, name, `-${name}: unknown boolean value: ${describe(value)}`);
    }
    case 'integer': {
      let number: number = NaN;
      if (typeof value === 'number') number = value;
      else if (typeof value === 'string' && /^\s*-?\d+\s*$/.test(value)) number = Number(value);
      if (!Number.isSafeInteger(number)) fail('a whole number');
      if (spec.min !== undefined && number < spec.min) fail(`a whole number of at least ${spec.min}`);
      return number;
    }
    case 'list': {
      if (typeof value === 'string') return splitTclList(value);
      if (!Array.isArray(value) || !value.every((item) => typeof item === 'string')) fail('a list of strings');
      return [...(value as string[])];
    }
    case 'integers': {
      const items: unknown[] = typeof value === 'string' ? splitTclList(value) : Array.isArray(value) ? value : [value];
      return items.map((item) => coerce(command, name, { kind: 'integer', min: spec.min }, item));
    }
    case 'pair': {
      if (!Array.isArray(value) || value.length !== 2 || typeof value[0] !== 'string') {
        throw new OptionError(command, name, `-${name} expects a key and a value, not ${describe(value)}`);
      }
      const second = value[1];
      if (typeof second !== 'string' && typeof second !== 'number' && !Array.isArray(second)) {
        throw new OptionError(command, name, `-${name} expects a key and a value, not ${describe(second)} as the value`);
      }
      return [value[0], typeof second === 'number' ? String(second) : second];
    }
    case 'function':
      if (typeof value !== 'function') fail('a function');
      return value;
    case 'object':
      if (!isPlainObject(value)) fail('an object');
      return value;
    case 'any':
      return value;
  }
}

/**
 * Reads the options of one call. `args` is what followed the positional
 * arguments: nothing, one options object, or a flat list of `-name value` words.
 * Returns an object with the option names (no dash) as keys, only for the options
 * given; a repeatable option gives an array. Throws an {@link OptionError} naming
 * the option on an unknown name, a missing value or a value of the wrong type.
 */
export function parseOptions(command: string, specs: OptionSpecs, args: readonly unknown[]): ParsedOptions {
  const out: ParsedOptions = {};
  const known = (name: string): OptionSpec => {
    if (!Object.prototype.hasOwnProperty.call(specs, name)) {
      throw new OptionError(command, name, `unknown option -${name}`);
    }
    return specs[name];
  };

  if (args.length === 1 && isPlainObject(args[0])) {
    for (const [name, value] of Object.entries(args[0])) {
      const spec = known(name);
      if (value === undefined) continue;
      if (spec.repeat) {
        // A single pair is accepted as a list of one: { header: ['Subject', 'Hi'] }.
        const list = spec.kind === 'pair' && Array.isArray(value) && value.length === 2 && typeof value[0] === 'string' && !Array.isArray(value[0])
          ? [value]
          : value;
        if (!Array.isArray(list)) {
          throw new OptionError(command, name, `-${name} expects an array of values, not ${describe(value)}`);
        }
        out[name] = list.map((item) => coerce(command, name, spec, item));
      } else {
        out[name] = coerce(command, name, spec, value);
      }
    }
    return out;
  }

  if (args.length === 1 && args[0] === undefined) return out;
  if (args.length % 2 !== 0) {
    throw new OptionError(
      command,
      undefined,
      `Each option must have a value!  Invalid option list: ${args.map((a) => (typeof a === 'string' ? a : describe(a))).join(' ')}`,
    );
  }
  for (let i = 0; i < args.length; i += 2) {
    const flag = args[i];
    if (typeof flag !== 'string' || !flag.startsWith('-') || flag.length < 2) {
      throw new OptionError(command, undefined, `expected an option name such as -name, not ${describe(flag)}`);
    }
    const name = flag.slice(1);
    const spec = known(name);
    const value = coerce(command, name, spec, args[i + 1]);
    if (spec.repeat) {
      const list = (out[name] as unknown[] | undefined) ?? [];
      list.push(value);
      out[name] = list;
    } else {
      out[name] = value; // as in Tcl, the last occurrence wins
    }
  }
  return out;
}
