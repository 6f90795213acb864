/**
 * The EHLO reply as answers to questions (RFC 5321 §4.1.1.1): which keywords,
 * with which parameters, which SASL mechanisms. Keywords are compared
 * case-insensitively (Tcllib matched whole lines case-sensitively).
 */
import type { Extensions, Reply } from './types';

class ServerExtensions implements Extensions {
  constructor(
    readonly domain: string,
    readonly greeting: string,
    readonly keywords: ReadonlyMap<string, readonly string[]>,
    readonly authMechanisms: readonly string[],
  ) {}

  get size(): number | null {
    const params = this.keywords.get('SIZE');
    if (!params) return null;
    const limit = Number(params[0] ?? '0');
    return Number.isSafeInteger(limit) && limit > 0 ? limit : 0;
  }

  has(keyword: string): boolean {
    return this.keywords.has(keyword.toUpperCase());
  }

  param(keyword: string): string | null {
    const params = this.keywords.get(keyword.toUpperCase());
    return params === undefined ? null : params.join(' ');
  }
}

/**
 * Reads a 250 EHLO reply. The first line names the server; every later line is
 * `keyword *(SP param)`. Old servers write `AUTH=LOGIN PLAIN`: that counts as
 * AUTH too, and the mechanisms of every AUTH line are merged.
 */
export function parseEhlo(reply: Reply): Extensions {
  const [first = '', ...rest] = reply.lines;
  const head = first.trim();
  const space = head.search(/\s/);
  const domain = space < 0 ? head : head.slice(0, space);
  const greeting = space < 0 ? '' : head.slice(space).trim();
  const keywords = new Map<string, string[]>();
  const mechanisms: string[] = [];
  for (const line of rest) {
    const words = line.trim().split(/\s+/).filter(Boolean);
    if (words.length === 0) continue;
    let keyword = words[0].toUpperCase();
    let params = words.slice(1);
    if (keyword.startsWith('AUTH=')) {
      params = [keyword.slice(5), ...params].filter(Boolean);
      keyword = 'AUTH';
    }
    if (keyword === 'AUTH') {
      for (const mechanism of params) {
        const upper = mechanism.toUpperCase();
        if (!mechanisms.includes(upper)) mechanisms.push(upper);
      }
      keywords.set('AUTH', [...mechanisms]);
      continue;
    }
    if (!keywords.has(keyword)) keywords.set(keyword, params);
  }
  return new ServerExtensions(domain, greeting, keywords, mechanisms);
}
