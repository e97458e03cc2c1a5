// DOM helpers for the pages: an element builder (text only through textContent, so data never becomes
// markup) and the page's recurring pieces: links, badges, cards, tables, times.

import { ago, when } from './format.js';

export type Child = Node | string | number | null | undefined | false;
/** `text` sets textContent, `class` the class name, `on<event>` a listener, `value` the property; the
 *  rest are attributes (true: present, false / null / undefined: left out). */
export type Attrs = Record<string, string | number | boolean | null | undefined | ((ev: Event) => void)>;

export function el<K extends keyof HTMLElementTagNameMap>(tag: K, attrs?: Attrs | null, children?: readonly Child[]): HTMLElementTagNameMap[K] {
  const n = document.createElement(tag);
  if (attrs) {
    for (const [k, v] of Object.entries(attrs)) {
      if (v === undefined || v === null || v === false) continue;
      if (k === 'text') n.textContent = String(v);
      else if (k === 'class') n.className = String(v);
      else if (k.slice(0, 2) === 'on') {
        if (typeof v === 'function') n.addEventListener(k.slice(2), v);
      } else if (k === 'value') (n as HTMLElementTagNameMap['input']).value = String(v);
      else n.setAttribute(k, v === true ? '' : String(v));
    }
  }
  for (const c of children || []) {
    if (c !== null && c !== undefined && c !== false) n.appendChild(typeof c === 'string' || typeof c === 'number' ? document.createTextNode(String(c)) : c);
  }
  return n;
}

const SVGNS = 'http://www.w3.org/2000/svg';

type SvgChild = Node | string | null | undefined;

/** An SVG element (charts, the enrolment QR code): attributes as given, text only as text nodes. */
export function svgEl(tag: string, attrs?: Record<string, string | number | null | undefined> | null, children?: readonly SvgChild[]): SVGElement {
  const n = document.createElementNS(SVGNS, tag) as SVGElement;
  if (attrs) for (const [k, v] of Object.entries(attrs)) if (v !== undefined && v !== null) n.setAttribute(k, String(v));
  for (const c of children || []) if (c !== null && c !== undefined) n.appendChild(typeof c === 'string' ? document.createTextNode(c) : c);
  return n;
}

export function link(href: string, text: string, cls?: string): HTMLAnchorElement {
  return el('a', { href, text, class: cls });
}

export function badge(text: string, cls?: string): HTMLSpanElement {
  return el('span', { class: 'badge ' + (cls || text), text });
}

export function timeCell(iso: string | null | undefined): HTMLTimeElement {
  return el('time', { datetime: iso || '', title: when(iso) }, [iso ? when(iso) + ' (' + ago(iso) + ')' : 'never']);
}

export function card(title: string, children: readonly Child[], cls?: string): HTMLElement {
  return el('section', { class: 'card ' + (cls || '') }, [el('h2', { text: title }), ...children]);
}

/** A scrollable table (its `<table>` is the wrapper's first child); an empty one says so. */
export function table(headers: readonly string[], rows: readonly Node[], cls?: string): HTMLDivElement {
  // each cell names its column: a `cards` table shows its rows as labelled cards at phone width
  for (const r of rows) {
    if (!(r instanceof HTMLTableRowElement)) continue;
    Array.from(r.cells).forEach((c, i) => {
      if (headers[i] && !c.hasAttribute('data-label')) c.setAttribute('data-label', headers[i]!);
    });
  }
  return el('div', { class: 'table-wrap' }, [
    el('table', { class: cls || '' }, [
      el('thead', null, [el('tr', null, headers.map((h) => el('th', { text: h })))]),
      el('tbody', null, rows.length ? rows : [el('tr', null, [el('td', { colspan: headers.length, class: 'muted', text: 'nothing here yet' })])]),
    ]),
  ]);
}

/** A row of cells: nodes as they are, anything else as text ('–' for no value). */
export function tr(cells: ReadonlyArray<Node | string | number | null | undefined>): HTMLTableRowElement {
  return el(
    'tr',
    null,
    cells.map((c) => (c instanceof Node ? el('td', null, [c]) : el('td', { text: c === null || c === undefined ? '–' : String(c) }))),
  );
}
