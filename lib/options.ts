/**
 * The one option parser. Every public command takes its options either as one
 * object or as a Tcl-style flat list (`'-servers', ['a', 'b'], '-header', ['K', 'V']`),
 * so that a Tcl line ports by quoting its words. Both forms end here, are checked
 * here, and fail here with an {@link OptionError} that names the option.
 *
 * A table declared `as const satisfies OptionSpecs` gives a typed result:
 * `parseOptions(COMMAND, SPECS, args).maxsecs` is `number | undefined`, with no cast.
 */
import { OptionError } from './errors';

/** How a value is read. Flat-list values are Tcl words, so strings are accepted where Tcl would. */
export type OptionKind =
  | 'string' // a string
  | 'boolean' // true/false, or Tcl's 0 1 true false yes no on off (any case)
  | 'integer' // a whole number, or a string of digits
  | 'number' // a finite number, or a string that reads as one; `min`, `max`, `above`, `integer` narrow it
  | 'list' // an array of strings, or one string split on white space (a Tcl list)
  | 'integers' // an array of whole numbers, or a string of them split on white space
  | 'pair' // a two-element array [key, value]
  | 'function' // a function
  | 'boolean-or-function' // a boolean as 'boolean' reads it, or a function (the `debug` option)
  | 'object' // a plain object (e.g. TLS options passed to Node)
  | 'any'; // anything but undefined, checked by the caller

export interface OptionSpec {
  readonly kind: OptionKind;
  /** Repeatable in the flat list (Tcl's `-header`, `-param`); an array of values in the object form. */
  readonly repeat?: boolean;
  /** For strings: the accepted values (lower case); the value given is compared case-insensitively and returned lowercased. */
  readonly values?: readonly string[];
  /** For integers and numbers: the smallest value accepted. */
  readonly min?: number;
  /** For numbers: the largest value accepted. */
  readonly max?: number;
  /** For numbers: values must be greater than this (`above: 0` is "positive"). */
  readonly above?: number;
  /** For numbers: only whole numbers. */
  readonly integer?: boolean;
  /** For numbers: the unit named in the error (`seconds`). */
  readonly unit?: string;
  /**
   * Type only, never present at run time: the TypeScript type a `function`,
   * `boolean-or-function`, `object` or `any` value has after parsing. Set it with
   * {@link typed}.
   */
  readonly type?: unknown;
}

export type OptionSpecs = Readonly<Record<string, OptionSpec>>;

/**
 * The Tcl-style flat form of a public command's options, `'-name', value, ...`:
 * its first word starts with a dash, so an options object (with a misspelled
 * or mistyped option) can never match it and is checked against the command's
 * options interface instead.
 */
export type TclWords = [first: `-${string}`, ...rest: unknown[]];

/** A parsed option set: each key present only when the caller gave it. */
export type ParsedOptions = Record<string, unknown>;

/**
 * A spec whose parsed value has the type `T`: `tlspolicy: typed<TlsPolicy>()({ kind: 'function' })`.
 * The run-time spec is the one given; only its type changes.
 */
export function typed<T>(): <S extends OptionSpec>(spec: S) => S & { readonly type?: T } {
  // The type parameter is the whole point: the object is returned as it came.
  return <S extends OptionSpec>(spec: S) => spec as S & { readonly type?: T };
}

type Declared<S> = S extends { readonly type?: infer T } ? (unknown extends T ? never : T) : never;
type OrDeclared<S, Default> = [Declared<S>] extends [never] ? Default : Declared<S>;

/** The type of one value of a spec after parsing. */
export type OptionValue<S extends OptionSpec> = S['kind'] extends 'string'
  ? S extends { readonly values: readonly (infer V extends string)[] }
    ? V
    : string
  : S['kind'] extends 'boolean'
    ? boolean
    : S['kind'] extends 'integer' | 'number'
      ? number
      : S['kind'] extends 'list'
        ? string[]
        : S['kind'] extends 'integers'
          ? number[]
          : S['kind'] extends 'pair'
            ? [string, string | string[]]
            : S['kind'] extends 'function'
              ? OrDeclared<S, (...args: never[]) => unknown>
              : S['kind'] extends 'boolean-or-function'
                ? boolean | OrDeclared<S, (line: string) => void>
                : S['kind'] extends 'object'
                  ? OrDeclared<S, Record<string, unknown>>
                  : OrDeclared<S, unknown>;

/**
 * What {@link parseOptions} returns for a table: each option optional, typed by
 * its kind; a repeatable one is an array. A table typed only as `OptionSpecs`
 * (no `as const`) gives {@link ParsedOptions}.
 */
export type OptionsOf<S extends OptionSpecs> = string extends keyof S
  ? ParsedOptions
  : { -readonly [K in keyof S]?: S[K] extends { readonly repeat: true } ? OptionValue<S[K]>[] : OptionValue<S[K]> };

const TCL_TRUE = new Set(['1', 'true', 'yes', 'on']);
const TCL_FALSE = new Set(['0', 'false', 'no', 'off']);

/**
 * Tcl's reading of a boolean: `true`/`false`, 0/1, and the words 0 1 true false
 * yes no on off in any case. Undefined for anything else. The one place Tcl
 * booleans are read.
 */
export function tclBoolean(value: unknown): boolean | undefined {
  if (typeof value === 'boolean') return value;
  if (value === 0 || value === 1) return value === 1;
  if (typeof value === 'string') {
    const lower = value.toLowerCase();
    if (TCL_TRUE.has(lower)) return true;
    if (TCL_FALSE.has(lower)) return false;
  }
  return undefined;
}

/** {@link tclBoolean} for one option of a command: an {@link OptionError} naming it when the value is not a boolean. */
export function readBoolean(command: string, name: string, value: unknown): boolean {
  const flag = tclBoolean(value);
  if (flag === undefined) throw new OptionError(command, name, `-${name}: unknown boolean value: ${describe(value)}`);
  return flag;
}

const NUMBER = /^\s*[-+]?(\d+\.?\d*|\.\d+)(e[-+]?\d+)?\s*$/i;

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number') return String(value);
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
    case 'boolean':
      return readBoolean(command, name, value);
    case 'boolean-or-function':
      if (typeof value === 'function') return value;
      if (tclBoolean(value) === undefined) fail('a boolean or a function');
      return tclBoolean(value);
    case 'integer': {
      let number: number = NaN;
      if (typeof value === 'number') number = value;
      else if (typeof value === 'string' && /^\s*-?\d+\s*$/.test(value)) number = Number(value);
      if (!Number.isSafeInteger(number)) fail('a whole number');
      if (spec.min !== undefined && number < spec.min) fail(`a whole number of at least ${spec.min}`);
      return number;
    }
    case 'number': {
      const number = typeof value === 'number' ? value : typeof value === 'string' && NUMBER.test(value) ? Number(value) : NaN;
      const whole = spec.integer === true;
      const noun = `${whole ? 'integer' : 'number'}${spec.unit ? ` of ${spec.unit}` : ''}`;
      const what = `${whole ? 'an' : 'a'} ${noun}`;
      if (!Number.isFinite(number) || (whole && !Number.isSafeInteger(number))) fail(what);
      if (spec.above !== undefined && !(number > spec.above)) fail(spec.above === 0 ? `a positive ${noun}` : `${what} greater than ${spec.above}`);
      if (spec.min !== undefined && number < spec.min) fail(`${what} of at least ${spec.min}`);
      if (spec.max !== undefined && number > spec.max) fail(`${what} of at most ${spec.max}`);
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
export function parseOptions<const S extends OptionSpecs>(command: string, specs: S, args: readonly unknown[]): OptionsOf<S>;
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
