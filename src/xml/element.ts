/** An XML element as the relay handles it: a stanza, or part of one. */
export type XmlNode = XmlElement | string;

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;', '\t': '&#9;', '\n': '&#10;', '\r': '&#13;' };
export const escapeText = (s: string): string => s.replace(/[&<>\r]/g, (c) => ESCAPES[c]);
/** Tab, LF and CR are escaped too: attribute-value normalization would turn them into spaces. */
export const escapeAttr = (s: string): string => s.replace(/[&<>"'\t\n\r]/g, (c) => ESCAPES[c]);

/** Children not built yet: built on first use, e.g. from the stanza's bytes (fast.ts lazy reading). */
export interface ChildSource {
  build(): XmlNode[];
  /** False when no element named `local` (unprefixed) can be among the children, so nothing need be built to look. */
  mayHold(local: string): boolean;
}

export class XmlElement {
  /** Qualified name as written, e.g. "message" or "db:result". */
  name: string;
  /** Attributes as written, namespace declarations (xmlns, xmlns:p) included. */
  attrs: Record<string, string>;
  private kids: XmlNode[] | undefined;
  private source: ChildSource | undefined;
  /**
   * The exact bytes this element arrived as, when it is a top-level stanza that
   * nothing has edited since. Any mutation through the methods below clears it;
   * code that edits attrs/children directly must call touch().
   */
  raw?: Buffer;
  /** Resolved namespace URI of this element (set by the parser or the builder). */
  ns: string;

  constructor(name: string, attrs: Record<string, string> = {}, children: XmlNode[] = [], ns?: string) {
    this.name = name;
    this.attrs = attrs;
    this.kids = children;
    this.ns = ns ?? attrs.xmlns ?? '';
  }

  /** Child elements and text, built on first use when the element was read lazily. */
  get children(): XmlNode[] {
    if (this.kids === undefined) {
      this.kids = this.source!.build();
      this.source = undefined;
    }
    return this.kids;
  }

  set children(nodes: XmlNode[]) {
    this.kids = nodes;
    this.source = undefined;
  }

  /** The children are built from `source` on first use (a stanza read lazily). */
  deferChildren(source: ChildSource): void {
    this.kids = undefined;
    this.source = source;
  }

  /** Local part of the name (after the prefix). */
  get local(): string {
    const i = this.name.indexOf(':');
    return i < 0 ? this.name : this.name.slice(i + 1);
  }

  attr(name: string): string | undefined {
    return this.attrs[name];
  }

  setAttr(name: string, value: string | undefined): this {
    if (value === undefined) delete this.attrs[name];
    else this.attrs[name] = value;
    return this.touch();
  }

  /** Marks the element edited: it will be re-serialized instead of forwarded raw. */
  touch(): this {
    this.raw = undefined;
    return this;
  }

  append(...nodes: XmlNode[]): this {
    this.children.push(...nodes);
    return this.touch();
  }

  removeChild(child: XmlElement): this {
    this.children = this.children.filter((c) => c !== child);
    return this.touch();
  }

  elements(): XmlElement[] {
    return this.children.filter((c): c is XmlElement => typeof c !== 'string');
  }

  /** First child element with this local name (and namespace, if given). */
  getChild(local: string, ns?: string): XmlElement | undefined {
    if (this.kids === undefined && !this.source!.mayHold(local)) return undefined;
    return this.elements().find((c) => c.local === local && (ns === undefined || c.ns === ns));
  }

  getChildren(local: string, ns?: string): XmlElement[] {
    if (this.kids === undefined && !this.source!.mayHold(local)) return [];
    return this.elements().filter((c) => c.local === local && (ns === undefined || c.ns === ns));
  }

  /** Concatenated text of direct text children. */
  text(): string {
    return this.children.filter((c): c is string => typeof c === 'string').join('');
  }

  getChildText(local: string, ns?: string): string | undefined {
    return this.getChild(local, ns)?.text();
  }

  clone(): XmlElement {
    if (this.kids === undefined) {
      // not built yet: the copy builds its own from the same source
      const lazy = new XmlElement(this.name, { ...this.attrs }, [], this.ns);
      lazy.deferChildren(this.source!);
      lazy.raw = this.raw;
      return lazy;
    }
    const el = new XmlElement(
      this.name,
      { ...this.attrs },
      this.children.map((c) => (typeof c === 'string' ? c : c.clone())),
      this.ns,
    );
    el.raw = this.raw;
    return el;
  }

  /** Serializes the element: the raw bytes when unedited, otherwise fresh XML. */
  toString(): string {
    if (this.raw) return this.raw.toString('utf8');
    return serializeElement(this);
  }

  toBuffer(): Buffer {
    return this.raw ?? Buffer.from(serializeElement(this), 'utf8');
  }
}

export function serializeElement(el: XmlElement): string {
  let out = '<' + el.name;
  for (const [k, v] of Object.entries(el.attrs)) out += ` ${k}="${escapeAttr(v)}"`;
  if (el.children.length === 0) return out + '/>';
  out += '>';
  for (const c of el.children) out += typeof c === 'string' ? escapeText(c) : c.raw ? c.raw.toString('utf8') : serializeElement(c);
  return out + `</${el.name}>`;
}

/** Small builder: x('message', {to}, x('body', {}, 'hi')). */
export function x(name: string, attrs: Record<string, string | undefined> = {}, ...children: (XmlNode | XmlNode[] | undefined | null | false)[]): XmlElement {
  const clean: Record<string, string> = {};
  for (const [k, v] of Object.entries(attrs)) if (v !== undefined) clean[k] = v;
  const kids: XmlNode[] = [];
  for (const c of children.flat()) if (c !== undefined && c !== null && c !== false) kids.push(c);
  const el = new XmlElement(name, clean, kids);
  return el;
}
