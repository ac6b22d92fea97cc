/**
 * A YAML document with positions: parse (syntax errors with line/column),
 * find the line/column of any key path, and turn zod issues into ConfigIssues
 * (unknown keys with "did you mean", missing keys, wrong types, enums).
 */
import { LineCounter, isAlias, isCollection, isMap, isScalar, isSeq, parseDocument, visit, type Document, type Node } from 'yaml';
import { z } from 'zod';
import type { ConfigIssue } from './errors.ts';

export type PathSeg = string | number;

/** `links[0].transport` from ['links', 0, 'transport']. */
export function formatPath(path: readonly PathSeg[]): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else if (/^[A-Za-z0-9_-]+$/.test(seg)) out += out ? `.${seg}` : seg;
    else out += `[${JSON.stringify(seg)}]`;
  }
  return out;
}

export class YamlSource {
  private constructor(
    readonly file: string,
    readonly doc: Document,
    private readonly lc: LineCounter,
    readonly data: unknown,
  ) {}

  /** Parses `text`; on YAML syntax errors returns them (all of them) instead. */
  static parse(text: string, file: string): { src: YamlSource; issues: [] } | { src?: undefined; issues: ConfigIssue[] } {
    const lc = new LineCounter();
    // uniqueKeys (default) makes a duplicate key an error; no custom tags, no merge keys.
    let doc: Document;
    try {
      doc = parseDocument(text, { lineCounter: lc, prettyErrors: false, merge: false, schema: 'core' });
    } catch (err) {
      // the yaml composer recurses per nesting level: thousands of "[" exhaust the stack
      const msg = err instanceof RangeError ? 'nested too deeply; expected at most a few hundred levels of lists and mappings' : `cannot parse (${(err as Error).message}); expected a YAML mapping`;
      return { issues: [{ file, line: 1, col: 1, path: '', message: `YAML: ${msg}` }] };
    }
    if (doc.errors.length > 0) {
      return {
        issues: doc.errors.map((e) => {
          const pos = lc.linePos(e.pos[0]);
          return { file, line: pos.line, col: pos.col, path: '', message: `YAML syntax: ${e.message.split('\n')[0]}` };
        }),
      };
    }
    const at = (node: Node | null | undefined): { line?: number; col?: number } => {
      const off = node?.range?.[0];
      return off === undefined ? { line: 1, col: 1 } : lc.linePos(off);
    };
    // Keys must be text: a list or mapping as a key would be stringified (and warned about) by toJS.
    const keyIssues: ConfigIssue[] = [];
    visit(doc, {
      Pair(_, pair) {
        let key = pair.key as Node | null;
        if (key && isAlias(key)) key = (key.resolve(doc) as Node | undefined) ?? null;
        const odd = key && isCollection(key) ? (isSeq(key) ? 'a list' : 'a mapping') : key && isScalar(key) && key.value !== null && typeof key.value === 'object' ? 'binary data' : undefined;
        if (odd) keyIssues.push({ file, ...at(pair.key as Node), path: '', message: `YAML: expected a plain key (text), got ${odd} as a key` });
      },
    });
    if (keyIssues.length > 0) return { issues: keyIssues };
    let data: unknown;
    try {
      // maxAliasCount: an alias bomb ("billion laughs") is refused, not expanded.
      data = doc.toJS({ maxAliasCount: 100 }) ?? {};
    } catch (err) {
      return { issues: [aliasIssue(doc, file, at, err as Error)] };
    }
    return { src: new YamlSource(file, doc, lc, data), issues: [] };
  }

  /**
   * Line/column of the node at `path`: its value (or its key, with which='key').
   * A path that does not exist gives the nearest existing ancestor.
   */
  pos(path: readonly PathSeg[], which: 'value' | 'key' = 'value'): { line?: number; col?: number } {
    let node: Node | null | undefined = this.doc.contents as Node | null;
    let keyNode: Node | undefined;
    let lastOffset = node?.range?.[0];
    for (const seg of path) {
      if (node && isAlias(node)) node = node.resolve(this.doc) as Node | undefined;
      let next: Node | null | undefined;
      let nextKey: Node | undefined;
      if (node && isMap(node)) {
        const map: { items: Array<{ key: unknown; value: unknown }> } = node;
        const pair = map.items.find((p) => {
          const k = p.key as Node | null;
          return k !== null && isScalar(k) && String(k.value) === String(seg);
        });
        if (pair) {
          nextKey = pair.key as Node;
          next = (pair.value as Node | null) ?? undefined;
        }
      } else if (node && isSeq(node) && typeof seg === 'number') {
        next = (node.items[seg] as Node | null) ?? undefined;
      }
      if (!next && !nextKey) break;
      node = next;
      keyNode = nextKey;
      const off = (which === 'key' && keyNode ? keyNode.range?.[0] : undefined) ?? next?.range?.[0] ?? keyNode?.range?.[0];
      if (off !== undefined) lastOffset = off;
    }
    if (lastOffset === undefined) return { line: 1, col: 1 };
    const p = this.lc.linePos(lastOffset);
    return { line: p.line, col: p.col };
  }

  issue(path: readonly PathSeg[], message: string, which: 'value' | 'key' = 'value'): ConfigIssue {
    return { file: this.file, ...this.pos(path, which), path: formatPath(path), message };
  }

  /** The raw (plain JS) value at `path`, or undefined. */
  get(path: readonly PathSeg[]): unknown {
    let v: unknown = this.data;
    for (const seg of path) {
      if (v === null || typeof v !== 'object') return undefined;
      v = (v as Record<string | number, unknown>)[seg];
    }
    return v;
  }
}

/** Why toJS failed (an alias without its anchor, or too many alias expansions), at the first alias concerned. */
function aliasIssue(doc: Document, file: string, at: (n: Node | null | undefined) => { line?: number; col?: number }, err: Error): ConfigIssue {
  let unresolved: Node | undefined;
  let first: Node | undefined;
  visit(doc, {
    Alias(_, alias) {
      first ??= alias;
      if (!unresolved && alias.resolve(doc) === undefined) unresolved = alias;
    },
  });
  if (unresolved && isAlias(unresolved)) {
    return { file, ...at(unresolved), path: '', message: `YAML: alias *${unresolved.source} has no anchor; expected &${unresolved.source} on a node before it` };
  }
  if (/alias count/i.test(err.message)) {
    return { file, ...at(first), path: '', message: 'YAML: aliases expand to too many nodes (a resource exhaustion guard); expected at most 100 alias uses, write the values out' };
  }
  return { file, ...at(first), path: '', message: `YAML: cannot build the document (${err.message.split('\n')[0]}); expected plain mappings, lists and values` };
}

// ---- zod issues -> ConfigIssues -------------------------------------------

/** Short description of a raw value for "got ..." messages. */
export function describe(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'null';
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (Array.isArray(v)) return 'a list';
  return 'a mapping';
}

function typeName(t: string): string {
  switch (t) {
    case 'object':
      return 'a mapping';
    case 'array':
      return 'a list';
    case 'integer':
      return 'an integer';
    default:
      // an enum: "'udp' | 'serial'" -> "one of udp, serial"
      return t.includes(' | ') ? `one of ${t.replace(/'/g, '').split(' | ').join(', ')}` : `a ${t}`;
  }
}

/** The object schema reached by `path` (through defaults, optionals, arrays, records, unions). */
function schemaAt(schema: z.ZodTypeAny, path: readonly PathSeg[], src: YamlSource): z.ZodTypeAny | undefined {
  let s: z.ZodTypeAny | undefined = schema;
  const unwrap = (t: z.ZodTypeAny, at: readonly PathSeg[]): z.ZodTypeAny => {
    for (;;) {
      if (t instanceof z.ZodDefault) t = t._def.innerType;
      else if (t instanceof z.ZodOptional || t instanceof z.ZodNullable) t = t.unwrap();
      else if (t instanceof z.ZodEffects) t = t.innerType();
      else if (t instanceof z.ZodDiscriminatedUnion) {
        const raw = src.get(at) as Record<string, unknown> | undefined;
        const opt = t.optionsMap.get(raw?.[t.discriminator] as string);
        if (!opt) return t;
        t = opt;
      } else return t;
    }
  };
  for (let i = 0; i <= path.length && s; i++) {
    s = unwrap(s, path.slice(0, i));
    if (i === path.length) break;
    const seg = path[i];
    if (s instanceof z.ZodObject) s = (s.shape as Record<string, z.ZodTypeAny>)[seg as string];
    else if (s instanceof z.ZodArray) s = s.element;
    else if (s instanceof z.ZodRecord) s = s.valueSchema;
    else return undefined;
  }
  return s;
}

function levenshtein(a: string, b: string): number {
  const d = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = d[0];
    d[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = d[j];
      d[j] = Math.min(d[j] + 1, d[j - 1] + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return d[b.length];
}

/** The closest candidate, if close enough to be a likely typo. */
export function didYouMean(word: string, candidates: readonly string[]): string | undefined {
  const norm = (s: string) => s.toLowerCase().replace(/[-_ ]/g, '');
  let best: string | undefined;
  let bestD = Infinity;
  for (const c of candidates) {
    const d = norm(c) === norm(word) ? 0 : levenshtein(word.toLowerCase(), c.toLowerCase());
    if (d < bestD) {
      bestD = d;
      best = c;
    }
  }
  const limit = Math.max(1, Math.floor(word.length / 3));
  return best !== undefined && bestD <= limit ? best : undefined;
}

/** Converts zod issues for a document into ConfigIssues with positions and "expected ..." messages. */
export function zodIssues(schema: z.ZodTypeAny, error: z.ZodError, src: YamlSource): ConfigIssue[] {
  const out: ConfigIssue[] = [];
  for (const iss of error.issues) {
    const path = iss.path;
    const got = src.get(path);
    switch (iss.code) {
      case 'unrecognized_keys': {
        const obj = schemaAt(schema, path, src);
        const known = obj instanceof z.ZodObject ? Object.keys(obj.shape as object) : [];
        for (const key of iss.keys) {
          const guess = didYouMean(key, known);
          const msg = guess
            ? `unknown key; did you mean "${guess}"?`
            : `unknown key; expected one of ${known.join(', ')}`;
          out.push(src.issue([...path, key], msg, 'key'));
        }
        break;
      }
      case 'invalid_type':
        if (iss.received === 'undefined') {
          out.push(src.issue(path, `missing (expected ${typeName(iss.expected)})`));
        } else {
          out.push(src.issue(path, `expected ${typeName(iss.expected)}, got ${describe(got)}`));
        }
        break;
      case 'invalid_enum_value':
        out.push(src.issue(path, `expected one of ${iss.options.join(', ')}, got ${describe(got)}`));
        break;
      case 'invalid_literal':
        out.push(src.issue(path, `expected ${JSON.stringify(iss.expected)}, got ${describe(got)}`));
        break;
      case 'invalid_union_discriminator':
        out.push(src.issue(path, `expected one of ${iss.options.map(String).join(', ')}, got ${describe(got)}`));
        break;
      case 'too_small':
        if (iss.type === 'array') out.push(src.issue(path, `expected at least ${iss.minimum} item(s), got ${(got as unknown[])?.length ?? 0}`));
        else if (iss.type === 'string') out.push(src.issue(path, `expected a non-empty string`));
        else out.push(src.issue(path, `expected a number ${iss.inclusive ? '>=' : '>'} ${iss.minimum}, got ${describe(got)}`));
        break;
      case 'too_big':
        if (iss.type === 'array') out.push(src.issue(path, `expected at most ${iss.maximum} item(s)`));
        else if (iss.type === 'string') out.push(src.issue(path, `expected at most ${iss.maximum} characters`));
        else out.push(src.issue(path, `expected a number ${iss.inclusive ? '<=' : '<'} ${iss.maximum}, got ${describe(got)}`));
        break;
      case 'not_finite':
        out.push(src.issue(path, `expected a finite number, got ${describe(got)}`));
        break;
      default:
        // custom (our refinements write "expected ..." themselves), invalid_string, etc.
        out.push(src.issue(path, iss.message));
    }
  }
  return out;
}
