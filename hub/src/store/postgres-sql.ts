// The SQL text the PostgreSQL backend sends: the shared statements' named parameters (`@name`) rewritten to
// PostgreSQL's positional ones (`$1`), and the postgres spelling of the Dialect (store/sql.ts).
import type { Dialect, SqlParams, SqlValue } from './sql.js';

/** A statement in PostgreSQL's form: its text and the parameter name behind each `$n`. */
export interface PositionalSql {
  readonly text: string;
  readonly names: readonly string[];
}

const IDENT_START = /[A-Za-z_]/;
const IDENT_PART = /[A-Za-z0-9_]/;

/**
 * `@name` → `$n`, the same `$n` for every use of one name. Skipped: string literals ('…' with '' escapes,
 * E'…' with backslash escapes, $tag$…$tag$), quoted identifiers ("…"), comments, and PostgreSQL's
 * operators that contain `@` (`@>`, `<@`, `@@`): an `@` right after `<` or `@` is not a parameter. `::type` casts after a parameter (`@p::jsonb`) end its name like any non-identifier character.
 */
export function toPositional(sql: string): PositionalSql {
  const names: string[] = [];
  const index = new Map<string, number>();
  let out = '';
  let i = 0;
  const n = sql.length;
  while (i < n) {
    const c = sql[i]!;
    const next = sql[i + 1];
    let end = i + 1;
    if (c === "'") {
      const backslashes = i > 0 && /[eE]/.test(sql[i - 1]!) && !IDENT_PART.test(sql[i - 2] ?? ' ');
      end = skipQuoted(sql, i, "'", backslashes);
    } else if (c === '"') {
      end = skipQuoted(sql, i, '"', false);
    } else if (c === '-' && next === '-') {
      const nl = sql.indexOf('\n', i);
      end = nl < 0 ? n : nl;
    } else if (c === '/' && next === '*') {
      const close = sql.indexOf('*/', i + 2);
      end = close < 0 ? n : close + 2;
    } else if (c === '$' && !IDENT_PART.test(sql[i - 1] ?? ' ')) {
      const tag = /^\$([A-Za-z_][A-Za-z0-9_]*)?\$/.exec(sql.slice(i));
      if (tag) {
        const close = sql.indexOf(tag[0], i + tag[0].length);
        end = close < 0 ? n : close + tag[0].length;
      }
    } else if (c === '@' && next !== undefined && IDENT_START.test(next) && !/[<@]/.test(sql[i - 1] ?? ' ') && !IDENT_PART.test(sql[i - 1] ?? ' ')) {
      end = i + 1;
      while (end < n && IDENT_PART.test(sql[end]!)) end++;
      const name = sql.slice(i + 1, end);
      let k = index.get(name);
      if (k === undefined) {
        names.push(name);
        index.set(name, (k = names.length));
      }
      out += `$${k}`;
      i = end;
      continue;
    }
    out += sql.slice(i, end);
    i = end;
  }
  return { text: out, names };
}

function skipQuoted(sql: string, start: number, quote: string, backslashes: boolean): number {
  let i = start + 1;
  while (i < sql.length) {
    const c = sql[i]!;
    if (backslashes && c === '\\') i += 2;
    else if (c === quote) {
      if (sql[i + 1] === quote) i += 2;
      else return i + 1;
    } else i++;
  }
  return sql.length;
}

/** A cache of translations per statement text: the store's statements are a fixed set of constants. */
export function createTranslator(limit = 2000): (sql: string) => PositionalSql {
  const cache = new Map<string, PositionalSql>();
  return (sql) => {
    let t = cache.get(sql);
    if (!t) {
      t = toPositional(sql);
      // a fixed set in practice; a caller that builds statements from data must not grow it without end
      if (cache.size >= limit) cache.clear();
      cache.set(sql, t);
    }
    return t;
  };
}

/** The values for `$1…$n` in order; a name the statement uses but `params` lacks is an error, as in SQLite. */
export function bindValues(t: PositionalSql, params: SqlParams | undefined): unknown[] {
  return t.names.map((name) => {
    const v: SqlValue | undefined = params?.[name];
    if (v === undefined) throw new RangeError(`missing named parameter @${name}`);
    return v instanceof Uint8Array && !Buffer.isBuffer(v) ? Buffer.from(v.buffer, v.byteOffset, v.byteLength) : v;
  });
}

/** A quoted identifier (table, column): `end` and other reserved words are column names here. */
export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

const literal = (s: string) => `'${s.replace(/'/g, "''")}'`;
const pathPart = (p: string | { param: string }) => (typeof p === 'string' ? literal(p) : `CAST(@${p.param} AS text)`);

/**
 * PostgreSQL's spelling. JSON lives in text columns (as in SQLite), so each construct casts to jsonb; a path
 * key bound as a parameter is cast to text (an untyped parameter in ARRAY[…] has no type to infer).
 */
export const postgresDialect: Dialect = {
  name: 'postgres',
  inJsonArray: (column, param) => `${column} IN (SELECT jsonb_array_elements_text(CAST(@${param} AS jsonb)))`,
  jsonText: (expr, path) =>
    path.length === 1 ? `(CAST(${expr} AS jsonb) ->> ${pathPart(path[0]!)})` : `(CAST(${expr} AS jsonb) #>> ARRAY[${path.map(pathPart).join(', ')}]::text[])`,
  // jsonb_each_text, not jsonb_each: values come back as text (strings unquoted), as SQLite's json_each
  // gives them for strings; numbers come back as their text
  jsonEach: (expr, path, alias) =>
    `jsonb_each_text(${path.length === 0 ? `CAST(${expr} AS jsonb)` : `(CAST(${expr} AS jsonb) #> ARRAY[${path.map(literal).join(', ')}]::text[])`}) AS ${alias}(key, value)`,
  greatest: (a, b) => `GREATEST(${a}, ${b})`,
  ilike: 'ILIKE',
};
