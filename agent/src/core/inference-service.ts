// What the local OIP API (agent/src/node/local-api.ts) needs from the agent (design §5): health,
// model metadata and inference by name/version. The agent implements it; the API only maps HTTP.

import { oipDatatypeOf, type OipExplainRequest, type OipExplainResponse, type OipInferRequest, type OipInferResponse, type TensorSpec } from '@edgefleet/protocol';

/** OIP `$metadata_tensor`: `-1` marks a variable (symbolic) dimension. */
export interface OipTensorMeta {
  name: string;
  datatype: string;
  shape: number[];
}

export interface ModelMetadata {
  name: string;
  versions: string[];
  platform: 'onnxruntime_onnx';
  inputs: OipTensorMeta[];
  outputs: OipTensorMeta[];
}

/** What `infer` answers: protocol's OIP response (the agent assigns an id when the request has none). */
export type InferResponse = OipInferResponse;

export interface FeedbackBody {
  id: string;
  label: string | number;
}

export interface ServerMetadata {
  name: string;
  version: string;
  extensions: string[];
}

export interface InferenceService {
  serverMetadata(): ServerMetadata;
  isLive(): boolean;
  isReady(): boolean;
  listModels(): string[];
  /** null when the model (or that version) is not served. */
  modelMetadata(name: string, version?: string): ModelMetadata | null;
  isModelReady(name: string, version?: string): boolean;
  /** Throws EdgefleetError: NOT_FOUND, BAD_INPUT, INFERENCE_FAILED, UNAVAILABLE. */
  infer(name: string, request: OipInferRequest, version?: string): Promise<InferResponse>;
  /**
   * Per-feature attributions of one prediction (design §5 explanations). Throws EdgefleetError: NOT_FOUND,
   * BAD_INPUT, TOO_LARGE (evaluations over the cap), RATE_LIMITED, INFERENCE_FAILED.
   */
  explain(name: string, request: OipExplainRequest, version?: string): Promise<OipExplainResponse>;
  /** Ground truth for an earlier prediction; NOT_FOUND for an unknown prediction id. */
  feedback(name: string, body: FeedbackBody): Promise<void>;
}

/** OIP metadata for a declared tensor: datatype name, symbolic dims as -1. */
export function tensorMeta(spec: TensorSpec): OipTensorMeta {
  return {
    name: spec.name,
    datatype: oipDatatypeOf(spec.type),
    shape: spec.shape.map((d) => (typeof d === 'number' ? d : -1)),
  };
}
