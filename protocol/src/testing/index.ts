// @edgefleet/protocol/testing: helpers for tests, benchmarks and simulators, so none reaches into another
// package's sources: seeded random numbers and small real ONNX models. Pure like the rest of protocol (the
// browser agent's tests use it too); nothing in a package's src imports it.
export { createNormal, createRng } from './random.js';
export { multiIoModel, seededClassifier, seededFloats, type SeededClassifierSpec } from './models.js';
