/**
 * Does the program print this? Checks a message quoted in the docs against
 * the string literals and templates of src/: the quote must be made of
 * messages found in the code, their `${...}` holes filled with values.
 *
 * A quote is covered when it splits into, left to right:
 *  - a template or string literal from src/ with at least 12 characters of
 *    fixed text, whose holes hold values (no spaces), a comma list of values,
 *    a quoted string, a system or OpenSSL error ("listen EADDRINUSE: ...",
 *    "error:0480006C:..."), an explicit "…", or text that is itself covered
 *    (there, by templates with 3 fixed characters or more, and lone values);
 *  - a location prefix: a token with a digit, dot or slash and ": "
 *    ("ship.yaml:10:16: ", "links[0].transport: ").
 * So a quote of something the program no longer prints (another wording, an
 * error class name in front) is not covered.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

/** A `${...}` hole of a template, with its expression. */
export interface Hole { expr: string }
/** A message template: fixed text and holes. */
export type Template = Array<string | Hole>;

function unescape(s: string): string {
  return s.replace(/\\(u\{[0-9a-fA-F]+\}|u[0-9a-fA-F]{4}|x[0-9a-fA-F]{2}|.)/g, (_m, e: string) =>
    e === 'n' ? '\n' : e === 't' ? '\t' : e[0] === 'u' ? String.fromCodePoint(parseInt(e.replace(/[u{}]/g, ''), 16)) : e[0] === 'x' ? String.fromCharCode(parseInt(e.slice(1), 16)) : e);
}

/** Every string literal and template in a TypeScript source (templates inside holes included). */
export function templatesOf(src: string): Template[] {
  const out: Template[] = [];
  let i = 0;
  const quoted = (q: string): void => {
    let j = i + 1;
    while (j < src.length && src[j] !== q && src[j] !== '\n') j += src[j] === '\\' ? 2 : 1;
    out.push([unescape(src.slice(i + 1, j))]);
    i = j + 1;
  };
  /** Reads a template starting at src[i] === '`'; returns its parts, leaves i after it. */
  const template = (): Template => {
    const parts: Template = [];
    let lit = '';
    i++;
    while (i < src.length && src[i] !== '`') {
      if (src[i] === '\\') {
        lit += src.slice(i, i + 2);
        i += 2;
      } else if (src[i] === '$' && src[i + 1] === '{') {
        parts.push(unescape(lit));
        lit = '';
        i += 2;
        const start = i;
        expression();
        parts.push({ expr: src.slice(start, i - 1) });
      } else lit += src[i++];
    }
    i++;
    parts.push(unescape(lit));
    // Holes next to each other (`${a}${b}`) act as one.
    return parts.filter((p) => p !== '').reduce<Template>((acc, p) => {
      const last = acc[acc.length - 1];
      if (typeof p !== 'string' && last !== undefined && typeof last !== 'string') last.expr += ` ${p.expr}`;
      else acc.push(p);
      return acc;
    }, []);
  };
  /** A '/' that starts a regular expression literal (after an operator, a bracket or `return`), not a division. */
  const regexStart = (): boolean => {
    let j = i - 1;
    while (j >= 0 && /\s/.test(src[j])) j--;
    return j < 0 || /[(,=:[!&|?{};+\-*%<>~^]/.test(src[j]) || /\breturn$/.test(src.slice(Math.max(0, j - 5), j + 1));
  };
  const skipRegex = (): void => {
    let inClass = false;
    for (i++; i < src.length && src[i] !== '\n'; i++) {
      if (src[i] === '\\') i++;
      else if (src[i] === '[') inClass = true;
      else if (src[i] === ']') inClass = false;
      else if (src[i] === '/' && !inClass) break;
    }
    i++;
  };
  /** One step of the scan at src[i]: comments and regexes skipped, strings and templates collected. */
  const step = (): void => {
    const c = src[i];
    if (c === '/' && src[i + 1] === '/') i = src.indexOf('\n', i) < 0 ? src.length : src.indexOf('\n', i);
    else if (c === '/' && src[i + 1] === '*') i = src.indexOf('*/', i) < 0 ? src.length : src.indexOf('*/', i) + 2;
    else if (c === '/' && regexStart()) skipRegex();
    else if (c === "'" || c === '"') quoted(c);
    else if (c === '`') out.push(template());
    else i++;
  };
  /** Skips a `${...}` expression up to its closing brace, collecting the strings inside. */
  const expression = (): void => {
    let depth = 1;
    while (i < src.length) {
      if (src[i] === '{') depth++;
      if (src[i] === '}' && --depth === 0) {
        i++;
        return;
      }
      step();
    }
  };
  while (i < src.length) step();
  return out;
}

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? files(p) : p.endsWith('.ts') ? [p] : [];
  });
}

const fixedLength = (t: Template): number => t.reduce<number>((n, p) => n + (typeof p === 'string' ? p.length : 0), 0);

/** The templates of every file under `dir` with at least 3 characters of fixed text. */
export function sourceTemplates(dir = 'src'): Template[] {
  return files(dir).flatMap((f) => templatesOf(readFileSync(f, 'utf8'))).filter((t) => fixedLength(t) >= 3);
}

/** Finds whether `quote` is covered by `templates` (see the file comment). */
export function covered(quote: string, templates: Template[]): boolean {
  const memo = new Map<string, boolean>();
  /** `min`: fixed characters a template needs: 12 for the quote itself, 3 inside a hole (a value built by a helper, where a lone value passes). */
  const cover = (s: string, min: number): boolean => {
    if (s === '' || (min < 12 && !/\s/.test(s))) return true;
    const key = `${min}\u0000${s}`;
    const hit = memo.get(key);
    if (hit !== undefined) return hit;
    memo.set(key, false); // no infinite recursion on the same text
    // A message that is one whole string literal of the code, however short ("link up").
    let ok = templates.some((t) => t.length === 1 && t[0] === s);
    const loc = /^[^\s]*[\d./][^\s]*?: /.exec(s);
    if (!ok && loc && cover(s.slice(loc[0].length), min)) ok = true;
    for (const t of templates) {
      if (ok) break;
      if (fixedLength(t) < min) continue;
      if (!t.some((p) => typeof p === 'string' && p.trim().length >= 2 && s.includes(p))) continue;
      ok = matchFrom(s, t, 0, 0, min);
    }
    memo.set(key, ok);
    return ok;
  };
  const holeOk = (h: string, hole: Hole): boolean =>
    // An error's message (a library's or the system's words), unless it reads like one of ours with its class name in front.
    (/\.message\b/.test(hole.expr) && !/^\w*Error: /.test(h)) ||
    !/\s/.test(h) || h.includes('…') || /^[\w.:/@*-]+(?:, [\w.:/@*-]+)*$/.test(h) || /^"[^"]*"$/.test(h) || /^\w+ E[A-Z]{3,}\b/.test(h) || /^E[A-Z]{3,}\b/.test(h) || /^error:[0-9A-F]{8}:/.test(h) || cover(h, 3);
  /** Template t from part k matches s from position at, and the rest of s is covered. */
  const matchFrom = (s: string, t: Template, k: number, at: number, min: number): boolean => {
    if (k === t.length) return cover(s.slice(at), min);
    const p = t[k];
    // A quote may stop at the end of a line of a longer message.
    if (at === s.length && typeof p === 'string' && p.startsWith('\n')) return true;
    if (typeof p === 'string') return s.startsWith(p, at) && matchFrom(s, t, k + 1, at + p.length, min);
    const next = t[k + 1] as string | undefined;
    if (next === undefined || (next.startsWith('\n') && s.indexOf(next, at) < 0)) {
      // A hole at the end (of the message, or of its first line): it takes what the rest of the quote can spare, shortest first.
      for (let end = at; end <= s.length; end++) if (holeOk(s.slice(at, end), p) && (next === undefined ? cover(s.slice(end), min) : end === s.length)) return true;
      return false;
    }
    for (let end = s.indexOf(next, at); end >= 0; end = s.indexOf(next, end + 1)) {
      if (holeOk(s.slice(at, end), p) && matchFrom(s, t, k + 1, end, min)) return true;
    }
    return false;
  };
  return cover(quote, 12);
}
