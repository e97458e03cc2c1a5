// The rows of a batch file (design §2 `edgefleet-agent batch`): a JSONL or CSV line as the OIP request it
// stands for, the CSV output's columns, and the tally of predictions the summary reports.

import * as z from 'zod';
import { EdgefleetError, OipInferRequest, oipDatatypeOf, type Manifest, type OipInferResponse } from '@edgefleet/protocol';
import { outputProbe } from '../core/telemetry-counters.js';

/** `{ input: nested array }`: the one input of a single-input model, row-major, with or without the batch dim. */
export const NestedRow = z.object({ id: z.string().max(256).optional(), input: z.array(z.unknown()).min(1) });

/** A JSONL row as the OIP request it stands for; BAD_INPUT saying what is wrong. */
export function jsonRow(manifest: Manifest, text: string): OipInferRequest {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new EdgefleetError('BAD_INPUT', `not JSON: ${(err as Error).message}`);
  }
  if (raw !== null && typeof raw === 'object' && 'inputs' in raw) {
    const r = OipInferRequest.safeParse(raw);
    if (!r.success) throw new EdgefleetError('BAD_INPUT', `not an OIP request: ${zodMessage(r.error)}`);
    return r.data;
  }
  const r = NestedRow.safeParse(raw);
  if (!r.success) throw new EdgefleetError('BAD_INPUT', `a row is an OIP request {inputs:[…]} or {input: nested array}: ${zodMessage(r.error)}`);
  const spec = singleInput(manifest);
  const shape: number[] = [];
  for (let a: unknown = r.data.input; Array.isArray(a); a = a[0]) shape.push(a.length);
  if (shape.length === spec.shape.length - 1) shape.unshift(1); // one row without its batch dim
  return { ...(r.data.id !== undefined ? { id: r.data.id } : {}), inputs: [{ name: spec.name, shape, datatype: oipDatatypeOf(spec.type), data: r.data.input }] };
}

export function zodMessage(err: z.ZodError): string {
  const issue = err.issues[0];
  return `${issue && issue.path.length > 0 ? `${issue.path.join('.')}: ` : ''}${issue?.message ?? 'invalid'}`;
}

export function singleInput(manifest: Manifest): Manifest['io']['inputs'][number] {
  const inputs = manifest.io.inputs;
  if (inputs.length !== 1) throw new EdgefleetError('BAD_INPUT', `this row form needs a single-input model; ${manifest.model} has ${inputs.length} inputs (use {inputs:[…]})`);
  return inputs[0]!;
}

/** One CSV line's fields (RFC 4180 quoting; no line breaks inside quotes: a row is a line). */
export function csvFields(line: string): string[] {
  const out: string[] = [];
  let i = 0;
  for (;;) {
    let field = '';
    if (line[i] === '"') {
      i++;
      for (;;) {
        const q = line.indexOf('"', i);
        if (q < 0) throw new EdgefleetError('BAD_INPUT', 'unterminated quoted field');
        field += line.slice(i, q);
        i = q + 1;
        if (line[i] === '"') {
          field += '"';
          i++;
        } else break;
      }
    } else {
      const c = line.indexOf(',', i);
      field = line.slice(i, c < 0 ? line.length : c);
      i = c < 0 ? line.length : c;
    }
    out.push(field);
    if (i >= line.length) return out;
    if (line[i] !== ',') throw new EdgefleetError('BAD_INPUT', `stray characters after a quoted field at column ${i + 1}`);
    i++;
  }
}

/**
 * The CSV header as positions in the model's one input row `[batch, k]`: by the manifest's reference feature
 * names when the header uses them, else positional when it has exactly k columns. BAD_INPUT otherwise
 * (a usage error: no row of this file could be read).
 */
export function csvLayout(manifest: Manifest, header: string[]): { spec: Manifest['io']['inputs'][number]; width: number; at: number[] } {
  const spec = singleInput(manifest);
  const k = spec.shape[spec.shape.length - 1];
  if (spec.shape.length !== 2 || typeof k !== 'number') throw new EdgefleetError('BAD_INPUT', `CSV needs a tabular model (one input [batch, k]); '${spec.name}' is [${spec.shape.join(', ')}]`);
  const byName = new Map<string, number>();
  for (const f of manifest.reference?.features ?? []) if (f.source.input === spec.name && f.source.index !== undefined) byName.set(f.name, f.source.index);
  const names = header.map((h) => h.trim());
  if (names.length === k && names.every((n) => byName.has(n)) && new Set(names.map((n) => byName.get(n))).size === k) {
    return { spec, width: k, at: names.map((n) => byName.get(n)!) };
  }
  if (names.length === k) return { spec, width: k, at: names.map((_, j) => j) };
  const known = byName.size > 0 ? ` (features: ${[...byName.keys()].join(', ')})` : '';
  throw new EdgefleetError('BAD_INPUT', `CSV header has ${names.length} columns; ${manifest.model} takes ${k} features${known}`);
}

export function csvRow(layout: ReturnType<typeof csvLayout>, line: string): OipInferRequest {
  const fields = csvFields(line);
  if (fields.length !== layout.width) throw new EdgefleetError('BAD_INPUT', `${fields.length} fields, the header has ${layout.width}`);
  const data = new Array<number>(layout.width);
  for (let j = 0; j < fields.length; j++) {
    const cell = fields[j]!.trim();
    const v = Number(cell);
    if (cell === '' || Number.isNaN(v)) throw new EdgefleetError('BAD_INPUT', `column ${j + 1} is not a number: ${JSON.stringify(cell.slice(0, 40))}`);
    data[layout.at[j]!] = v;
  }
  return { inputs: [{ name: layout.spec.name, shape: [1, layout.width], datatype: oipDatatypeOf(layout.spec.type), data }] };
}

// ---- output ----

export const csvCell = (v: unknown): string => {
  const s = typeof v === 'string' ? v : JSON.stringify(v);
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
};

/** CSV columns per output: one per element of a row when the row's shape is fixed, else one JSON cell. */
export function csvColumns(manifest: Manifest): { header: string[]; line: (row: number, res: OipInferResponse | null, error: string) => string } {
  const outs = manifest.io.outputs.map((o) => {
    const rest = o.shape.slice(1);
    const n = rest.every((d): d is number => typeof d === 'number') ? rest.reduce((a, b) => a * b, 1) : null;
    return { name: o.name, n };
  });
  const header = ['row', ...outs.flatMap((o) => (o.n === null || o.n === 1 ? [o.name] : Array.from({ length: o.n }, (_, i) => `${o.name}_${i}`))), 'error'];
  return {
    header,
    line(row, res, error) {
      const cells: string[] = [String(row)];
      for (const o of outs) {
        const data = res?.outputs.find((t) => t.name === o.name)?.data;
        const width = o.n === null ? 1 : o.n;
        if (data && o.n !== null && data.length === o.n) cells.push(...data.map(csvCell));
        else {
          cells.push(data ? csvCell(data.length === 1 ? data[0] : data) : '');
          for (let i = 1; i < width; i++) cells.push('');
        }
      }
      cells.push(csvCell(error));
      return cells.join(',');
    },
  };
}

/**
 * What the batch predicted, in aggregate: class counts when the model is a classifier the way its telemetry
 * sees one (telemetry-counters.ts outputProbe), else the mean of its value output (the first one by default).
 */
export function createTally(manifest: Manifest): { add(res: OipInferResponse): void; result(): { classes?: Record<string, number>; mean?: number } } {
  const probe = outputProbe(manifest);
  const labels = manifest.labels ?? [];
  const classifier = probe?.kind === 'classifier' ? probe : null;
  const valueOutput = probe?.kind === 'regressor' ? probe.output : manifest.io.outputs[0]?.name;
  const classes: Record<string, number> = {};
  let sum = 0;
  let n = 0;
  return {
    add(res) {
      if (classifier) {
        const t = res.outputs.find((o) => o.name === classifier.output);
        if (!t) return;
        const data = t.data as number[];
        const width = classifier.indices ? 1 : (t.shape[t.shape.length - 1] ?? 1);
        for (let r = 0; r + width <= data.length; r += width) {
          let best = 0;
          if (classifier.indices) best = Number(data[r]);
          else for (let k = 1; k < width; k++) if (Number(data[r + k]) > Number(data[r + best])) best = k;
          const key = labels[best] ?? String(best);
          classes[key] = (classes[key] ?? 0) + 1;
        }
        return;
      }
      for (const v of res.outputs.find((o) => o.name === valueOutput)?.data ?? []) {
        const x = Number(v);
        if (Number.isFinite(x)) {
          sum += x;
          n++;
        }
      }
    },
    result: () => (classifier ? { classes } : n > 0 ? { mean: sum / n } : {}),
  };
}
