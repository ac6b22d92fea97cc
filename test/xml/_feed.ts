/** Test helper: feed the same bytes whole, split in two, and byte by byte; results must match. */
import type { ExecutionContext } from 'ava';
import { StreamParser, type StreamParserOptions } from '../../src/xml/parser.ts';
import { XmlElement } from '../../src/xml/element.ts';

export type Tree = { name: string; ns: string; attrs: Record<string, string>; children: (Tree | string)[] };
export type Event =
  | ['open', Record<string, string>]
  | ['stanza', Tree, string] // tree, raw as hex
  | ['close']
  | ['error', string];

export function tree(el: XmlElement): Tree {
  return {
    name: el.name,
    ns: el.ns,
    attrs: { ...el.attrs },
    // adjacent text nodes are one text node once serialized (XML infoset)
    children: el.children.reduce<(Tree | string)[]>((acc, c) => {
      const last = acc[acc.length - 1];
      if (typeof c === 'string' && typeof last === 'string') acc[acc.length - 1] = last + c;
      else acc.push(typeof c === 'string' ? c : tree(c));
      return acc;
    }, []),
  };
}

export interface FeedOptions extends StreamParserOptions {
  /** Called for each stanza with the parser (e.g. to reset() after <proceed/>). */
  onStanza?: (p: StreamParser, el: XmlElement) => void;
  /** Extra writes after the input (garbage after an error or close). */
  after?: Buffer;
}

export interface Run {
  events: Event[];
  stanzas: XmlElement[];
  errors: number;
}

/** Feeds `chunks` to a fresh parser and records what comes out. Throws if write() throws. */
export function run(chunks: Buffer[], opts: FeedOptions = {}): Run {
  const events: Event[] = [];
  const stanzas: XmlElement[] = [];
  let errors = 0;
  const p: StreamParser = new StreamParser(
    {
      streamOpen: (a) => events.push(['open', a]),
      stanza: (el) => {
        stanzas.push(el);
        events.push(['stanza', tree(el), el.raw ? el.raw.toString('hex') : '']);
        opts.onStanza?.(p, el);
      },
      streamClose: () => events.push(['close']),
      error: (e) => {
        errors++;
        events.push(['error', e.condition]);
      },
    },
    opts,
  );
  for (const c of chunks) p.write(c);
  if (opts.after) p.write(opts.after);
  return { events, stanzas, errors };
}

export const buf = (s: string | Buffer): Buffer => (typeof s === 'string' ? Buffer.from(s, 'utf8') : s);

/** Every split of `b` into two (all positions up to 600 bytes, then a stride). */
export function twoWaySplits(b: Buffer): Buffer[][] {
  const out: Buffer[][] = [];
  const step = b.length <= 600 ? 1 : Math.ceil(b.length / 600);
  for (let i = 1; i < b.length; i += step) out.push([b.subarray(0, i), b.subarray(i)]);
  return out;
}

export const byteByByte = (b: Buffer): Buffer[] => Array.from(b, (_, i) => b.subarray(i, i + 1));

/**
 * Runs the input whole, split in two at every position, and byte by byte;
 * asserts identical events each time (and at most one error); returns the whole run.
 */
export function feedAll(t: ExecutionContext, input: string | Buffer, opts: FeedOptions = {}): Run {
  const b = buf(input);
  const whole = run([b], opts);
  t.true(whole.errors <= 1, 'error() called at most once');
  for (const parts of twoWaySplits(b)) {
    const r = run(parts, opts);
    if (JSON.stringify(r.events) !== JSON.stringify(whole.events)) {
      t.deepEqual(r.events, whole.events, `split at ${parts[0].length}`);
      return whole;
    }
  }
  const bb = run(byteByByte(b), opts);
  t.deepEqual(bb.events, whole.events, 'byte by byte');
  return whole;
}

export const HEADER =
  "<?xml version='1.0'?><stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams' to='b.example' from='a.example' version='1.0'>";
export const errorOf = (r: Run): string | undefined => {
  const e = r.events.find((x) => x[0] === 'error');
  return e ? (e[1] as string) : undefined;
};
