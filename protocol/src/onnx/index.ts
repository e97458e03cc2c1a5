// ONNX tooling: build models from TypeScript, read what a model declares. Pure, browser-safe.
export {
  buildModel,
  buildMlpClassifier,
  DEFAULT_IR_VERSION,
  DEFAULT_OPSET,
  FLOAT_ATTRIBUTE_NAMES,
} from './build.js';
export type {
  Activation,
  AttributeValue,
  InitializerSpec,
  MlpClassifierSpec,
  ModelSpec,
  NodeSpec,
  TensorInit,
  TensorValues,
} from './build.js';
export { readModelInfo, MIN_IR_VERSION, MAX_IR_VERSION } from './read.js';
export { UNNAMED_DIM } from '../tensors/elements.js';
export type { ModelInfo } from './read.js';
