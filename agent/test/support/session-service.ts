// A real, minimal InferenceService over loaded ModelSessions: what the local API tests serve.
// The agent's own service adds telemetry, shadowing and swaps; this one is just decode → run → encode.

import { randomUUID } from 'node:crypto';
import type { InferenceService, InferResponse, ModelMetadata } from '../../src/core/inference-service.js';
import { tensorMeta } from '../../src/core/inference-service.js';
import type { ModelSession } from '../../src/core/runtime.js';
import { explainPrediction } from '../../src/core/explain.js';
import {
  EdgefleetError,
  decodeInferInputs,
  encodeOutputs,
  requestedOutputNames,
  type OipInferRequest,
  type Reference,
} from '@edgefleet/protocol';

export interface ServedModel {
  name: string;
  version: string;
  session: ModelSession;
  /** The drift reference explanations take their baseline from (a manifest's, design §3). */
  reference?: Reference;
  labels?: string[];
}

export interface SessionService extends InferenceService {
  /** Feedback received, by prediction id. */
  readonly labels: Map<string, string | number>;
  /** Requests that reached the service (a refused request must not). */
  readonly calls: { infer: number; feedback: number; explain: number };
}

export function createSessionService(models: ServedModel[]): SessionService {
  const predictions = new Set<string>();
  const labels = new Map<string, string | number>();
  const find = (name: string, version?: string): ServedModel | undefined =>
    models.find((m) => m.name === name && (version === undefined || m.version === version));
  const calls = { infer: 0, feedback: 0, explain: 0 };
  return {
    labels,
    calls,
    serverMetadata: () => ({ name: 'edgefleet-agent', version: '0.1.0', extensions: [] }),
    isLive: () => true,
    isReady: () => true,
    listModels: () => [...new Set(models.map((m) => m.name))],
    modelMetadata(name, version): ModelMetadata | null {
      const m = find(name, version);
      if (m === undefined) return null;
      return {
        name,
        versions: models.filter((x) => x.name === name).map((x) => x.version),
        platform: 'onnxruntime_onnx',
        inputs: m.session.inputs.map(tensorMeta),
        outputs: m.session.outputs.map(tensorMeta),
      };
    },
    isModelReady: (name, version) => find(name, version) !== undefined,
    async infer(name, request: OipInferRequest, version): Promise<InferResponse> {
      calls.infer++;
      const m = find(name, version);
      if (m === undefined) throw new EdgefleetError('NOT_FOUND', `model '${name}' not found`);
      const feeds = decodeInferInputs(m.session.inputs, request.inputs);
      const wanted = requestedOutputNames(m.session.outputs, request.outputs);
      const results = await m.session.run(feeds, wanted);
      const id = request.id ?? randomUUID();
      predictions.add(id);
      return {
        model_name: name,
        model_version: m.version,
        id,
        outputs: encodeOutputs(results, wanted ?? m.session.outputs.map((o) => o.name)),
      };
    },
    async explain(name, request, version) {
      calls.explain++;
      const m = find(name, version);
      if (m === undefined) throw new EdgefleetError('NOT_FOUND', `model '${name}' not found`);
      const io = { inputs: m.session.inputs, outputs: m.session.outputs };
      const feeds = decodeInferInputs(io.inputs, request.inputs);
      const explanation = await explainPrediction(m.session, { io, reference: m.reference, labels: m.labels }, feeds, request.parameters);
      return { model_name: name, model_version: m.version, ...(request.id !== undefined ? { id: request.id } : {}), ...explanation };
    },
    async feedback(name, body) {
      calls.feedback++;
      if (find(name) === undefined) throw new EdgefleetError('NOT_FOUND', `model '${name}' not found`);
      if (!predictions.has(body.id)) throw new EdgefleetError('NOT_FOUND', `no prediction with id '${body.id}'`);
      labels.set(body.id, body.label);
    },
  };
}
