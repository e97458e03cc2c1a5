// Model versions (design §3, §7): a push is prepared by models/ (load, IO, self-test, validation,
// reference), then stored by sha256 and released here: `release` strictly increasing per model, the
// manifest signed by the release key. A duplicate version is CONFLICT.

import { DEFAULT_CHUNK_SIZE, EdgefleetError, LIMITS, Manifest, type Envelope } from '@edgefleet/protocol';
import { prepareModelPush } from './push.js';
import { parsePushOptions, type PushOptions } from './push-options.js';
import type { HubContext } from '../context.js';
import type { ArtifactStore } from '../artifacts/index.js';
import type { ModelVersionRow } from '../store/db.js';

export interface ModelVersionView {
  model: string;
  version: string;
  release: number;
  sha256: string;
  size: number;
  createdAt: string;
  metrics: Record<string, number>;
  manifest: Manifest;
}

export interface PushResult {
  model: string;
  version: string;
  release: number;
  sha256: string;
  manifest: Manifest;
  envelope: Envelope;
}

export interface ModelRegistry {
  push(bytes: Uint8Array, options: PushOptions, actor: string): Promise<PushResult>;
  list(): Promise<Array<{ name: string; versions: ModelVersionView[] }>>;
  get(name: string): Promise<{ name: string; versions: ModelVersionView[] }>;
}

export function versionView(r: ModelVersionRow): ModelVersionView {
  const manifest = JSON.parse(r.manifest) as Manifest;
  return {
    model: r.model,
    version: r.version,
    release: r.release,
    sha256: r.sha256,
    size: r.size,
    createdAt: r.createdAt,
    metrics: manifest.lineage?.metrics ?? {},
    manifest,
  };
}

export function createModelRegistry(ctx: HubContext, artifacts: ArtifactStore): ModelRegistry {
  const { store } = ctx;
  // one push at a time: onnxruntime work is heavy on a 2-core box and releases must not race
  let chain: Promise<unknown> = Promise.resolve();

  const doPush = async (bytes: Uint8Array, given: PushOptions, actor: string): Promise<PushResult> => {
    const options = parsePushOptions(given);
    const duplicate = () => new EdgefleetError('CONFLICT', `${options.name}@${options.version} already exists; push a new version`);
    // refuse a duplicate before the expensive load and validation
    if (await store.getModelVersion(options.name, options.version)) throw duplicate();
    // `--dataset SHA` (design §2 `data export`): the sha256 of an export this hub recorded becomes the lineage's dataset
    const exported = options.dataset !== undefined && /^[0-9a-f]{64}$/.test(options.dataset) ? await store.captures.findExport(options.dataset) : undefined;
    if (options.dataset !== undefined && /^[0-9a-f]{64}$/.test(options.dataset) && !exported) {
      throw new EdgefleetError('NOT_FOUND', `no dataset export with sha256 ${options.dataset} (edgefleet data ls lists them)`);
    }
    const prepared = await prepareModelPush(bytes, options);
    if (exported) prepared.lineage.dataset = { id: `captured:${exported.model}@${exported.version}`, sha256: exported.sha256 };
    const { sha256, size } = artifacts.put(bytes);
    const createdAt = ctx.now().toISOString();
    return store.transaction(async () => {
      await store.serialize('modelRelease'); // replicas pushing at once take releases one after the other
      if (await store.getModelVersion(options.name, options.version)) throw duplicate();
      const release = (await store.maxRelease(options.name)) + 1; // design §3: strictly increasing per model
      const doc: Manifest = {
        kind: 'model-manifest',
        model: options.name,
        version: options.version,
        release,
        createdAt,
        artifact: {
          sha256,
          size,
          chunkSize: DEFAULT_CHUNK_SIZE,
          format: 'onnx',
          urls: [...(options.urls ?? []), `${ctx.hubUrl()}/api/v1/artifacts/${sha256}`],
        },
        io: prepared.io,
        selfTest: prepared.selfTest,
        ...(prepared.reference ? { reference: prepared.reference } : {}),
        ...(prepared.labels ? { labels: prepared.labels } : {}),
        lineage: { ...prepared.lineage, metrics: { ...(prepared.lineage.metrics ?? {}), ...prepared.metrics } },
        compat: prepared.compat,
      };
      const checked = Manifest.safeParse(doc);
      if (!checked.success) {
        throw new EdgefleetError('INVALID_MODEL', `manifest does not validate: ${checked.error.issues[0]?.path.join('.')}: ${checked.error.issues[0]?.message}`);
      }
      const manifest = checked.data;
      const envelope = ctx.keys.releaseSigner.signDocument('model-manifest', manifest);
      const envelopeJson = JSON.stringify(envelope);
      const payloadBytes = Buffer.byteLength(JSON.stringify(manifest), 'utf8');
      if (payloadBytes > LIMITS.manifest) {
        throw new EdgefleetError('TOO_LARGE', `manifest is ${payloadBytes} bytes, over the ${LIMITS.manifest}-byte cap; trim the self-test or reference`);
      }
      await store.insertModelVersion({
        model: manifest.model,
        version: manifest.version,
        release,
        sha256,
        size,
        manifest: JSON.stringify(manifest),
        envelope: envelopeJson,
        createdAt,
      });
      await store.appendAudit(actor, 'model.push', { model: manifest.model, version: manifest.version, release, sha256 });
      return { model: manifest.model, version: manifest.version, release, sha256, manifest, envelope };
    });
  };

  const group = (rows: ModelVersionRow[]) => {
    const out = new Map<string, ModelVersionView[]>();
    for (const r of rows) {
      const list = out.get(r.model) ?? [];
      list.push(versionView(r));
      out.set(r.model, list);
    }
    return [...out.entries()].map(([name, versions]) => ({ name, versions }));
  };

  return {
    push(bytes, options, actor) {
      const p = chain.then(() => doPush(bytes, options, actor));
      chain = p.catch(() => undefined);
      return p;
    },
    list: async () => group(await store.listAllModelVersions()),
    async get(name) {
      const rows = await store.listModelVersions(name);
      if (rows.length === 0) throw new EdgefleetError('NOT_FOUND', `model ${name} not found`);
      return { name, versions: rows.map(versionView) };
    },
  };
}
