// Tensors (design §3 selfTest, §5 OIP): the one in-memory Tensor, JSON values ⇄ tensor data, TensorData,
// and the Open Inference Protocol codec. Shared by the agent (serving) and the hub (model push); pure —
// converting to and from onnxruntime tensors stays with each side.
export * from './elements.js';
export { concatData, formatShape, hasNonFinite, isFloatType, sliceRows, type Tensor, type TypedData } from './tensor.js';
export { encodeValues, flattenNested, jsonValues, oipValues, parseValues, type ParseValuesOptions, type ValueFault } from './values.js';
export { manifestTensorData, synthesizeInput, tensorFromData, tensorMismatch, tensorsClose, tensorToData, type Tolerance } from './tensor-data.js';
export {
  OipInferRequest,
  OipInferResponse,
  OipRequestedOutput,
  OipTensor,
  decodeInferInputs,
  encodeOutput,
  encodeOutputs,
  requestedOutputNames,
} from './oip.js';
export {
  DEFAULT_EXPLAIN_SAMPLES,
  DEFAULT_EXPLAIN_SEED,
  EXPLAIN_LIMITS,
  ExplainBaseline,
  ExplainOptions,
  ExplainedFeature,
  OipExplainRequest,
  OipExplainResponse,
} from './explain.js';
