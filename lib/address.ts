/**
 * The one RFC 5322 address parser (section 3.4, with the obsolete forms of
 * section 4.4: routes, dotted phrases, `a . b @ c`). A lexer turns the text
 * into tokens in one pass and a recursive-descent parser reads them with one
 * token of lookahead, so the work is linear in the input: no regular
 * expression ever runs over it, and nothing is re-scanned.
 *
 * It returns what Tcllib's `mime::parseaddress` returns, one record per
 * address with the same keys, and like Tcllib it never throws: a bad address
 * gets its `error` key set and the parser carries on with the next one. Where
 * Tcllib is wrong or unsafe it is fixed (see docs/differences-from-tcllib.md): no host
 * name is ever invented for a missing domain, every member of a group carries
 * the group name, a line break or control character is an error rather than
 * part of an address, and a `;` outside a group costs only its own entry.
 *
 * lib/ is a leaf: encoded words (RFC 2047) in a display name are decoded by
 * the caller's `decodeWords` (mime.parseaddress passes the mime decoder).
 */
import { tokenize, type Token } from './address-lexer';

/** One address as Tcllib's `mime::parseaddress` describes it. */
export interface AddressInfo {
  /** `local@domain`, or the bare local part when the domain is missing (then `error` is set). */
  address: string;
  /** Every comment, with its parentheses, joined by spaces. */
  comment: string;
  /** The domain; a domain literal keeps its brackets. */
  domain: string;
  /** `''`, or what is wrong with this address. */
  error: string;
  /** A name for people: the phrase, else the comment, else the local part (X.400 aware); encoded words decoded by mime.parseaddress. */
  friendly: string;
  /** The name of the group the address belongs to, or `''`. */
  group: string;
  /** The local part as written (quotes kept). */
  local: string;
  /** 1 inside a group, 0 outside, `''` for the record of an empty group. */
  memberP: number | '';
  /** The display name, quoted when it holds a special character; encoded words kept as written. */
  phrase: string;
  /** `phrase <address>`, or the address alone. */
  proper: string;
  /** An obsolete source route such as `@r1,@r2:`. */
  route: string;
}

// ---------------------------------------------------------------------------
// Parser

/** An address went wrong; the message is the entry's `error`. */
class Defect {
  constructor(
    readonly message: string,
    /** `;` the recovery must pass before it stops (an unfinished nested group). */
    readonly depth = 0,
  ) {}
}

interface Entry {
  local: string;
  localWords: Token[];
  domain: string;
  route: string;
  phrase: Token[] | null;
  group: string;
  memberP: number | '';
  comments: string[];
  error: string;
}

const PHRASE_SPECIALS = /[;,<>:.()@"[\]\\]/;

function isWord(token: Token): boolean {
  return token.kind === 'atom' || token.kind === 'qstring';
}

function isSpecial(token: Token, c: string): boolean {
  return token.kind === 'special' && token.text === c;
}

/** A phrase's words as text: words apart by one space, a dot against the word before it. */
function phraseText(words: readonly Token[]): string {
  let text = '';
  words.forEach((word, index) => {
    if (word.kind === 'special') {
      text += word.text;
      return;
    }
    if (index > 0 && (words[index - 1].kind !== 'special' || word.spaced)) text += ' ';
    text += word.kind === 'qstring' ? word.value : word.text;
  });
  return text;
}

/** A phrase as RFC 5322 writes it: quoted, with `"` and `\` escaped, when it holds a special character. */
function quotePhrase(text: string): string {
  if (!PHRASE_SPECIALS.test(text)) return text;
  return '"' + text.replace(/[\\"]/g, (c) => '\\' + c) + '"';
}

/** Tcllib's X.400 reading of a local part such as `/G=John/S=Smith/`: the value of `/key=`. */
function x400(mailbox: string, key: string): string {
  const at = mailbox.toUpperCase().indexOf(`/${key}=`);
  if (at < 0) return '';
  let rest = mailbox.slice(at + key.length + 2);
  const slash = rest.indexOf('/');
  if (slash > 0) rest = rest.slice(0, slash);
  return trimQuotes(rest);
}

function trimQuotes(text: string): string {
  let start = 0;
  let end = text.length;
  while (start < end && text[start] === '"') start++;
  while (end > start && text[end - 1] === '"') end--;
  return text.slice(start, end);
}

/** The content of each comment, parentheses and quoting backslashes removed, joined by spaces. */
function commentText(comments: readonly string[]): string {
  return comments.map((comment) => comment.slice(1, -1).replace(/\\([\s\S])/g, '$1').trim()).join(' ');
}

class Parser {
  private p = 0;
  private inGroup = false;
  private groupName = '';
  private entry!: Entry;
  /** Comments read before a group's name, handed to its first member (as Tcllib does). */
  private carried: string[] = [];

  constructor(
    private readonly tokens: Token[],
    private readonly decodeWords: (text: string) => string,
  ) {}

  parse(): AddressInfo[] {
    const out: AddressInfo[] = [];
    for (;;) {
      const token = this.peek();
      if (token.kind === 'end') break;
      if (isSpecial(token, ',')) {
        this.p++; // an empty entry; comments before a bare comma belong to no address
        continue;
      }
      this.entry = this.newEntry();
      let keep: boolean;
      try {
        keep = this.mailboxOrGroup();
      } catch (error) {
        if (!(error instanceof Defect)) throw error;
        if (this.entry.error === '') this.entry.error = error.message;
        this.recover(error.depth);
        keep = true;
      }
      if (keep) out.push(this.render(this.entry));
    }
    return out;
  }

  private newEntry(): Entry {
    return {
      local: '',
      localWords: [],
      domain: '',
      route: '',
      phrase: null,
      group: this.inGroup ? this.groupName : '',
      memberP: this.inGroup ? 1 : 0,
      comments: this.carried.splice(0),
      error: '',
    };
  }

  private peek(): Token {
    return this.tokens[this.p];
  }

  /** Takes the next token and its comments; the end token is never passed. */
  private next(): Token {
    const token = this.tokens[this.p];
    if (token.comments.length > 0) {
      for (const comment of token.comments) this.entry.comments.push(comment); // no spread: there may be very many
      token.comments = [];
    }
    if (token.kind !== 'end') this.p++;
    return token;
  }

  private closeGroup(): void {
    this.inGroup = false;
    this.groupName = '';
  }

  /** After an error: skip to the end of this entry, a `,` or a `;` (which also closes an open group). */
  private recover(depth: number): void {
    for (;;) {
      const token = this.next();
      if (token.kind === 'end') return;
      if (isSpecial(token, ',') && depth === 0) return;
      if (isSpecial(token, ';')) {
        if (depth > 0) {
          depth--;
          continue;
        }
        if (this.inGroup) this.closeGroup();
        return;
      }
    }
  }

  /** One entry: a mailbox, a group's opening, or a stray `;`. Returns false when there is nothing to report. */
  private mailboxOrGroup(): boolean {
    const first = this.peek();
    if (isSpecial(first, ';')) {
      this.next();
      if (this.inGroup) {
        this.closeGroup();
        return false;
      }
      throw new Defect('extraneous semi-colon');
    }
    if (isSpecial(first, '<')) {
      this.next();
      this.routeAddr(true);
      this.addressEnd();
      return true;
    }
    if (isSpecial(first, '@')) {
      this.routeAddr(false);
      this.addressEnd();
      return true;
    }
    if (!isWord(first)) throw new Defect(`unexpected character at beginning (found ${first.text})`);

    const run: Token[] = [];
    while (isWord(this.peek()) || isSpecial(this.peek(), '.')) run.push(this.next());
    const stop = this.peek();

    if (isSpecial(stop, '<')) {
      this.entry.phrase = run;
      this.next();
      this.routeAddr(true);
      this.addressEnd();
      return true;
    }
    if (isSpecial(stop, ':')) return this.group(run);
    const problem = this.localPart(run, stop);
    if (problem) {
      if (problem.phrase) this.entry.phrase = run;
      throw new Defect(problem.message);
    }
    if (isSpecial(stop, '@')) {
      this.next();
      this.domain();
      this.addressEnd();
      return true;
    }
    if (stop.kind === 'end' || isSpecial(stop, ',') || isSpecial(stop, ';')) {
      this.entry.error = `missing domain after local-part (found ${stop.text})`;
      this.addressEnd();
      return true;
    }
    throw new Defect(`expecting at-sign after local-part (found ${stop.text})`);
  }

  /**
   * Takes a run of words and dots as a local part (`word *("." word)`).
   * Returns what is wrong when the run is a phrase or has a stray dot.
   */
  private localPart(run: Token[], stop: Token): { message: string; phrase: boolean } | null {
    let wantWord = true;
    for (const token of run) {
      if (isWord(token) !== wantWord) {
        if (wantWord) return { message: `expecting mailbox in local-part (found ${token.text})`, phrase: false };
        const shown = stop.kind === 'end' ? '' : stop.text;
        return { message: `found phrase instead of mailbox (${phraseText(run)}${shown})`, phrase: true };
      }
      wantWord = !wantWord;
    }
    if (wantWord) return { message: `expecting mailbox in local-part (found ${stop.text})`, phrase: false };
    this.takeLocal(run);
    return null;
  }

  private takeLocal(words: Token[]): void {
    this.entry.localWords = words;
    this.entry.local = words.map((word) => word.text).join('');
    if (words.some((word) => word.folded)) throw new Defect('line break in quoted local-part');
  }

  /** `display-name:` opens a group; `g: ;` (no members) is reported as one record with the group name. */
  private group(run: Token[]): boolean {
    const name = quotePhrase(phraseText(run));
    if (this.inGroup) {
      this.entry.phrase = run;
      this.next(); // the colon
      throw new Defect(`nested groups not allowed (found ${phraseText(run)})`, 1);
    }
    this.next();
    this.inGroup = true;
    this.groupName = name;
    while (isSpecial(this.peek(), ',')) this.next();
    const after = this.peek();
    if (isSpecial(after, ';') || after.kind === 'end') {
      this.next();
      this.closeGroup();
      this.entry.group = name;
      this.entry.memberP = '';
      return true;
    }
    this.carried = this.entry.comments;
    return false; // the members follow as entries of their own
  }

  /** `[route] local-part "@" domain`, after `<` when `bracketed` (then `>` must close it). */
  private routeAddr(bracketed: boolean): void {
    if (isSpecial(this.peek(), '@')) this.route();
    const words: Token[] = [];
    for (;;) {
      const word = this.peek();
      if (!isWord(word)) throw new Defect(`expecting mailbox in local-part (found ${word.text})`);
      words.push(this.next());
      if (!isSpecial(this.peek(), '.')) break;
      words.push(this.next());
    }
    this.takeLocal(words);
    const at = this.peek();
    if (isSpecial(at, '@')) {
      this.next();
      this.domain();
    } else if (isSpecial(at, '>') || at.kind === 'end' || isSpecial(at, ',') || isSpecial(at, ';')) {
      throw new Defect(`missing domain after local-part (found ${at.text})`);
    } else {
      throw new Defect(`expecting at-sign after local-part (found ${at.text})`);
    }
    if (bracketed) {
      const close = this.peek();
      if (!isSpecial(close, '>')) throw new Defect(`expecting right-bracket (found ${close.text})`);
      this.next();
    }
  }

  /** The obsolete source route, `@a,@b:`, kept as written. */
  private route(): void {
    this.entry.route = this.next().text; // '@'
    for (;;) {
      const hop = this.peek();
      if (hop.kind !== 'atom' && hop.kind !== 'dliteral') throw new Defect(`expecting sub-route in route-part (found ${hop.text})`);
      this.entry.route += this.next().text;
      const after = this.peek();
      if (isSpecial(after, ',')) {
        this.entry.route += this.next().text;
        while (isSpecial(this.peek(), ',')) this.next();
        const at = this.peek();
        if (!isSpecial(at, '@')) throw new Defect(`expecting at-sign in route (found ${at.text})`);
        this.entry.route += this.next().text;
      } else if (isSpecial(after, '@') || isSpecial(after, '.')) {
        this.entry.route += this.next().text;
      } else if (isSpecial(after, ':')) {
        this.entry.route += this.next().text;
        return;
      } else {
        throw new Defect(`expecting colon to terminate route (found ${after.text})`);
      }
    }
  }

  /** `sub-domain *("." sub-domain)`; a second `@` makes the first domain part of the local part (`a%b@c`), as in Tcllib. */
  private domain(): void {
    for (;;) {
      const sub = this.peek();
      if (sub.kind !== 'atom' && sub.kind !== 'dliteral') throw new Defect(`expecting sub-domain in domain-part (found ${sub.text})`);
      this.entry.domain += this.next().text;
      const after = this.peek();
      if (isSpecial(after, '.')) {
        this.entry.domain += this.next().text;
      } else if (isSpecial(after, '@')) {
        this.next();
        this.entry.local += '%' + this.entry.domain;
        this.entry.domain = '';
      } else {
        return;
      }
    }
  }

  /** What may follow an address: `,`, the end, or `;` (closing a group; outside one it is an error). */
  private addressEnd(): void {
    const token = this.peek();
    if (token.kind === 'end' || isSpecial(token, ',')) {
      this.next();
      return;
    }
    if (isSpecial(token, ';')) {
      this.next();
      if (this.inGroup) this.closeGroup();
      else if (this.entry.error === '') this.entry.error = 'extraneous semi-colon';
      return;
    }
    throw new Defect(`junk after local@domain (found ${token.text})`);
  }

  private render(entry: Entry): AddressInfo {
    const address = entry.local === '' ? '' : entry.domain === '' ? entry.local : `${entry.local}@${entry.domain}`;
    const plain = entry.phrase ? phraseText(entry.phrase) : '';
    const phrase = quotePhrase(plain);
    let friendly = '';
    if (plain !== '') friendly = this.decodeWords(plain);
    else if (entry.comments.length > 0) friendly = this.decodeWords(commentText(entry.comments));
    if (friendly === '' && entry.local !== '') friendly = this.friendlyLocal(entry);
    return {
      address,
      comment: entry.comments.join(' '),
      domain: entry.domain,
      error: entry.error,
      friendly,
      group: entry.group,
      local: entry.local,
      memberP: entry.memberP,
      phrase,
      proper: phrase === '' ? address : `${phrase} <${address}>`,
      route: entry.route,
    };
  }

  /** The local part for people: unquoted, and an X.400 address read as `Given Surname`. */
  private friendlyLocal(entry: Entry): string {
    const words = entry.localWords.map((word) => (word.kind === 'qstring' ? word.value : word.text)).join('');
    const mailbox = entry.local.includes('%') ? trimQuotes(entry.local) : words;
    if (!mailbox.startsWith('/')) return trimQuotes(mailbox);
    const personal = x400(mailbox, 'PN');
    if (personal !== '') return personal;
    const surname = x400(mailbox, 'S');
    if (surname !== '') {
      const given = x400(mailbox, 'G');
      return given === '' ? surname : `${given} ${surname}`;
    }
    return trimQuotes(mailbox);
  }
}

/**
 * Parses an address list (a To, From or Cc value) into one record per address,
 * with Tcllib's keys. Never throws: what is wrong with an address is in its
 * `error` key, and the next address is parsed on its own. Linear in the length
 * of the text. `decodeWords` turns the display name (phrase or comment) into
 * the `friendly` name; by default it is kept as written.
 */
export function parseAddressList(text: string, decodeWords: (text: string) => string = (words) => words): AddressInfo[] {
  return new Parser(tokenize(String(text)), decodeWords).parse();
}
