// A QR code as an SVG element, drawn in the page from uqr's module matrix (no network, no canvas): the
// enrolment link beside its text, for a phone's camera.

import { encode } from 'uqr';
import { svgEl } from './dom.js';

/** Pixels per module on screen: a version-5 link (45 modules with the quiet zone) is 180 px wide. */
const MODULE_PX = 4;

/** `text` as a QR code, error correction M (a phone reads a screen at an angle), the 4-module quiet zone the spec asks for. */
export function qrCode(text: string, label: string): SVGElement {
  const { size, data } = encode(text, { ecc: 'M', border: 4 });
  let d = '';
  data.forEach((row, y) => row.forEach((dark, x) => (d += dark ? `M${x} ${y}h1v1h-1z` : '')));
  return svgEl(
    'svg',
    { class: 'enrol-qr', viewBox: `0 0 ${size} ${size}`, width: size * MODULE_PX, height: size * MODULE_PX, role: 'img', 'aria-label': label, 'shape-rendering': 'crispEdges' },
    [svgEl('rect', { width: size, height: size, fill: '#fff' }), svgEl('path', { d, fill: '#000' })],
  );
}
