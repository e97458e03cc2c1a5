// The options of a model push (design §7) as one zod schema: POST /models decodes its multipart text
// fields into it (`pushOptionsFromFields`) before it reads the model, and the registry and
// `prepareModelPush` parse what they are given with it. A refusal is BAD_INPUT with the first failing
// check's message; JSON text that does not parse is BAD_JSON.

import { EdgefleetError, ModelName, SemVer } from '@edgefleet/protocol';
import { z } from 'zod';

/** The manifest holds at most 8 URLs, the hub's own last. */
export const MAX_MIRRORS = 7;

/** Class names, from the labels option or the model's metadata_props. */
export const Labels = z.array(z.string().min(1).max(128)).min(1).max(4096);

const REQUIRED = 'fields "name" and "version" are required';
const MIN_ACCURACY = 'minAccuracy must be a number in [0, 1]';
const arrayOfStrings = (field: string) => {
  const error = `field "${field}" must be a JSON array of strings`;
  return z.array(z.string({ error }), { error });
};

/** A name or version: present and non-empty, then its protocol grammar. */
const named = (grammar: z.ZodType, message: (got: string) => string) =>
  z
    .string({ error: REQUIRED })
    .min(1, REQUIRED)
    .superRefine((s, ctx) => {
      if (!grammar.safeParse(s).success) ctx.addIssue({ code: 'custom', message: message(JSON.stringify(s)) });
    });

/**
 * Mirrors (a CDN, an object store) serving the same bytes with HTTP range requests (design §8), listed
 * in the manifest before the hub's own URL: http(s) only and without credentials (every device can read
 * the manifest; devices send mirrors none), normalized.
 */
const MirrorUrls = arrayOfStrings('urls')
  .superRefine((urls, ctx) => {
    if (urls.length > MAX_MIRRORS) ctx.addIssue({ code: 'custom', message: `at most ${MAX_MIRRORS} mirror URLs, got ${urls.length}` });
  })
  .transform((urls, ctx) =>
    urls.map((raw) => {
      let u: URL;
      try {
        u = new URL(raw);
      } catch {
        ctx.addIssue({ code: 'custom', message: `mirror URL ${JSON.stringify(raw)} is not a URL` });
        return raw;
      }
      if (u.protocol !== 'http:' && u.protocol !== 'https:') ctx.addIssue({ code: 'custom', message: `mirror URL ${raw} must be http or https` });
      else if (u.username || u.password) ctx.addIssue({ code: 'custom', message: `mirror URL ${u.host} carries credentials; every device can read the manifest` });
      return u.toString();
    }),
  );

export const PushOptions = z
  .object({
    name: named(ModelName, (got) => `model name must match [a-z0-9][a-z0-9._-]{0,63}, got ${got}`),
    version: named(SemVer, (got) => `version must be semver, got ${got}`),
    labels: arrayOfStrings('labels')
      .superRefine((names, ctx) => {
        if (!Labels.safeParse(names).success) ctx.addIssue({ code: 'custom', message: 'labels must be 1–4096 non-empty strings of at most 128 characters' });
      })
      .optional(),
    urls: MirrorUrls.optional(),
    /** Refuse (VALIDATION_FAILED) below this validation accuracy. */
    minAccuracy: z.number({ error: MIN_ACCURACY }).min(0, MIN_ACCURACY).max(1, MIN_ACCURACY).optional(),
    /** One OIP inference request (object or JSON text; models/sample.ts reads it against the model's inputs). */
    sample: z.unknown().optional(),
    /** A drift reference (object or JSON text; models/reference.ts reads it), used instead of deriving one. */
    reference: z.unknown().optional(),
    /** JSONL text: `{"inputs": {"<input>": <row>}, "label": <index or name>}` per line. */
    validation: z.string().optional(),
    /** Lineage. */
    dataset: z.string().optional(),
    run: z.string().optional(),
    commit: z.string().optional(),
  })
  .superRefine((o, ctx) => {
    if (o.minAccuracy !== undefined && o.validation === undefined) ctx.addIssue({ code: 'custom', message: 'minAccuracy needs validation data' });
  });

/** What a caller passes (`sample` and `reference` as objects or JSON text). */
export type PushOptions = z.input<typeof PushOptions>;
/** The options once checked: mirror URLs normalized. */
export type CheckedPushOptions = z.output<typeof PushOptions>;

/** Checks push options; BAD_INPUT with the first failing check's message. */
export function parsePushOptions(options: unknown): CheckedPushOptions {
  const r = PushOptions.safeParse(options);
  if (!r.success) throw new EdgefleetError('BAD_INPUT', r.error.issues[0]?.message ?? 'bad push options');
  return r.data;
}

/** The multipart text fields of POST /models (design §7), as `model push` sends them, checked by the schema. */
export function pushOptionsFromFields(fields: ReadonlyMap<string, string>): CheckedPushOptions {
  const text = (k: string): string | undefined => fields.get(k) || undefined;
  const json = (k: string): unknown => {
    const s = text(k);
    if (s === undefined) return undefined;
    try {
      return JSON.parse(s) as unknown;
    } catch (err) {
      throw new EdgefleetError('BAD_JSON', `field "${k}" is not valid JSON`, { cause: err });
    }
  };
  const labels = json('labels');
  const urls = json('urls');
  const minAccuracy = text('minAccuracy');
  const sample = json('sample');
  const reference = json('reference');
  const options = {
    name: fields.get('name'),
    version: fields.get('version'),
    labels,
    urls,
    minAccuracy: minAccuracy === undefined ? undefined : Number(minAccuracy),
    sample,
    reference,
    validation: fields.get('validation'),
    dataset: text('dataset'),
    run: text('run'),
    commit: text('commit'),
  };
  // absent fields are absent options, as exactOptionalPropertyTypes callers write them
  return parsePushOptions(Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)));
}
