// Model push preparation (design §7 "CI/CD for models"): everything the signed manifest (design §3) says
// about a model that can only be learnt by reading and running it. The route stores and signs the result.
//
// Decisions:
// - IO signature: from the ONNX graph (`readModelInfo`, symbolic dims stay names, unnamed ones are '?'),
//   cross-checked with the onnxruntime session: its input/output names must match the graph's, and
//   where `inputMetadata`/`outputMetadata` exist their element types win (they are what actually runs).
// - Self-test inputs, first that applies: `sample` (one OIP request), else the first validation rows (up
//   to 4 when the batch axis is symbolic, else 1), else synthesized: symbolic dims → 1, floats →
//   round(sin(i+1)·500)/1000 (small, deterministic, not all equal), integers → 0, bool → false, string → ''.
//   A failing synthesized run is BAD_INPUT asking for `--sample`. Outputs are recorded exactly as this
//   onnxruntime returns them; the tolerance (abs 1e-4, rel 1e-3) leaves room for agents on other CPUs,
//   ORT builds and execution providers, whose float results differ in the last bits. Self-tests whose
//   JSON exceeds SELF_TEST_MAX_BYTES are refused (the manifest rides inside retained desired states).
// - Validation rows run in batches of VALIDATION_BATCH when every input's batch axis is symbolic, else
//   one by one; latency per row is the batch's wall time over its rows (session on one intra-op thread,
//   so a push does not starve the broker; figures are indicative, devices report the real ones).
//   Accuracy uses the first float output shaped [batch, C ≥ 2] (argmax), else an integer [batch] output.
//   Rows without a label count for latency and the reference, not for accuracy.
// - Drift reference (unless given): per float input, one feature per column for [batch, F ≤ 64]
//   (`input[j]`, or `input.<name>` when metadata_props `feature_names.<input>` — or `feature_names` for
//   a single float input — list F names), per-channel means for rank ≥ 3 (`input.mean[c]`, axis 1),
//   a row mean otherwise; integer/bool/string inputs are not monitored. Decile bins via the protocol's
//   `buildReferenceFeature`. Output: classifier class counts of the predictions, or regressor value bins.
// - Labels: option, else metadata_props `labels` (JSON array or comma list); refused when their count
//   differs from the classifier's class count.
// - Feature importance: permutation importance on the validation rows over the reference's tabular
//   features, into `lineage.importance` (importance.ts states its score and cost bound).

import './ort-env.js'; // before onnxruntime-node loads
import * as ort from 'onnxruntime-node';
import {
  EdgefleetError,
  hasNonFinite,
  manifestTensorData,
  sha256Hex,
  sliceRows,
  synthesizeInput,
  utf8Encode,
  type FeatureImportance,
  type Manifest,
  type Reference,
  type Tensor,
  type TensorSpec,
} from '@edgefleet/protocol';
import { readModelInfo, type ModelInfo } from '@edgefleet/protocol/onnx';
import { Labels, parsePushOptions, type CheckedPushOptions, type PushOptions } from './push-options.js';
import { deriveReference, parseNameList, parseReference } from './reference.js';
import { decodeSample } from './sample.js';
import { fromOrtValue, oneLine, toOrtTensor } from './ort-tensors.js';
import { permutationImportance } from './importance.js';
import { batchRows, findPredictionOutput, parseValidation, quantile, runValidation, type ValidationBatch } from './validation.js';

export interface PreparedModel {
  sha256: string;
  size: number;
  io: Manifest['io'];
  selfTest: Manifest['selfTest'];
  reference?: Reference;
  labels?: string[];
  lineage: Manifest['lineage'];
  compat: Manifest['compat'];
  metrics: Record<string, number>;
}

export const SELF_TEST_TOLERANCE = { abs: 1e-4, rel: 1e-3 } as const;
/** Self-test rows taken from validation data when the batch axis is symbolic. */
export const SELF_TEST_ROWS = 4;
/** JSON size cap of a manifest's selfTest; the whole manifest must stay under LIMITS.manifest. */
export const SELF_TEST_MAX_BYTES = 512 * 1024;

type SelfTestOrigin = 'sample' | 'validation' | 'synthesized';

/** Read, load, self-test, validate and describe a model for its manifest (design §3, §7). */
export async function prepareModelPush(bytes: Uint8Array, given: PushOptions): Promise<PreparedModel> {
  const options = parsePushOptions(given);
  const info = readModelInfo(bytes); // NOT_ONNX / INVALID_MODEL
  const labels = resolveLabels(options.labels, info.metadata);

  const session = await loadSession(bytes);
  try {
    const io = ioSignature(info, session);
    const reference = options.reference !== undefined ? parseReference(options.reference, io) : undefined;
    const batches =
      options.validation !== undefined ? batchRows(parseValidation(options.validation, io.inputs, labels?.names), io.inputs) : undefined;

    // self-test (design §3): a real run on the sample, the first validation rows, or synthesized inputs
    let origin: SelfTestOrigin;
    let feeds: Record<string, Tensor>;
    if (options.sample !== undefined) {
      origin = 'sample';
      feeds = decodeSample(options.sample, io.inputs);
    } else if (batches !== undefined) {
      origin = 'validation';
      feeds = firstRows(batches[0]!, io.inputs);
    } else {
      origin = 'synthesized';
      feeds = Object.fromEntries(io.inputs.map((s) => [s.name, synthesizeInput(s)]));
    }
    const outputs = await runSelfTest(session, feeds, io.outputs, origin);
    const selfTest: Manifest['selfTest'] = {
      inputs: io.inputs.map((s) => manifestTensorData(s.name, feeds[s.name]!)),
      outputs: io.outputs.map((s) => manifestTensorData(s.name, outputs[s.name]!)),
      tolerance: { ...SELF_TEST_TOLERANCE },
    };
    const selfTestBytes = JSON.stringify(selfTest).length;
    if (selfTestBytes > SELF_TEST_MAX_BYTES) {
      throw new EdgefleetError(
        'BAD_INPUT',
        `the self-test (${origin} inputs and outputs) is ${selfTestBytes} bytes of JSON, over ${SELF_TEST_MAX_BYTES}; pass a smaller --sample FILE.json`,
      );
    }

    // class count from the self-test run, to check labels against
    const selfTestBatch = feeds[io.inputs[0]!.name]!.dims[0] ?? 1;
    const selfTestPrediction = findPredictionOutput(outputs, io.outputs.map((s) => s.name), selfTestBatch);
    const classCount = selfTestPrediction.kind === 'classifier' ? selfTestPrediction.classes : null;
    if (labels !== undefined && classCount !== null && labels.names.length !== classCount) {
      throw new EdgefleetError(
        labels.from === 'options' ? 'BAD_INPUT' : 'INVALID_MODEL',
        `${labels.names.length} labels (from ${labels.from === 'options' ? 'the labels option' : 'metadata_props "labels"'}) but output "${selfTestPrediction.kind === 'classifier' ? selfTestPrediction.output : ''}" has ${classCount} classes`,
      );
    }

    // validation (design §7): accuracy and latency, refusal below minAccuracy
    const metrics: Record<string, number> = {};
    let derived: Reference | undefined;
    let importance: FeatureImportance | undefined;
    if (batches !== undefined) {
      const run = await runValidation(session, batches, io.outputs.map((s) => s.name));
      const rows = batches.flatMap((b) => b.rows);
      metrics.rows = rows.length;
      metrics.latencyMsP50 = round(quantile(run.latencyMs, 0.5));
      metrics.latencyMsP95 = round(quantile(run.latencyMs, 0.95));
      const classes = run.prediction.kind === 'classifier' ? (run.prediction.classes ?? labels?.names.length ?? null) : null;
      let labelled = 0;
      let correct = 0;
      if (run.prediction.kind === 'classifier') {
        rows.forEach((row, i) => {
          if (row.label === undefined) return;
          if (classes !== null && row.label >= classes) {
            throw new EdgefleetError('BAD_INPUT', `validation line ${row.line}: label ${row.label} but the model has ${classes} classes`);
          }
          labelled++;
          if (run.predicted[i] === row.label) correct++;
        });
      }
      if (labelled > 0) {
        metrics.accuracy = correct / labelled;
        metrics.labelled = labelled;
      }
      if (options.minAccuracy !== undefined) {
        if (labelled === 0) {
          throw new EdgefleetError(
            'BAD_INPUT',
            run.prediction.kind === 'classifier'
              ? 'minAccuracy needs labelled validation rows'
              : 'minAccuracy needs a classifier output ([batch, C] scores or [batch] class indices)',
          );
        }
        if (correct / labelled < options.minAccuracy) {
          throw new EdgefleetError(
            'VALIDATION_FAILED',
            `accuracy ${(correct / labelled).toFixed(4)} (${correct}/${labelled} labelled rows) is below the required ${options.minAccuracy}`,
          );
        }
      }
      if (reference === undefined) derived = deriveReference(io.inputs, batches, run, info.metadata, classCount ?? labels?.names.length ?? null);
      const ref = reference ?? derived;
      if (ref !== undefined) {
        importance = await permutationImportance({ session, specs: io.inputs, outputOrder: io.outputs.map((s) => s.name), rows, prediction: run.prediction, predicted: run.predicted, reference: ref });
      }
    }

    const prepared: PreparedModel = {
      sha256: sha256Hex(bytes),
      size: bytes.length,
      io,
      selfTest,
      lineage: lineage(options, metrics, importance),
      compat: { runtimes: ['onnxruntime'], irVersion: info.irVersion, opsets: { ...info.opsets } },
      metrics,
    };
    const ref = reference ?? derived;
    if (ref !== undefined) prepared.reference = ref;
    if (labels !== undefined) prepared.labels = labels.names;
    return prepared;
  } finally {
    await session.release();
  }
}

/** Labels from the (checked) options, else the model's metadata_props. */
function resolveLabels(option: string[] | undefined, metadata: Record<string, string>): { names: string[]; from: 'options' | 'metadata' } | undefined {
  if (option !== undefined) return { names: option, from: 'options' };
  const names = parseNameList(metadata['labels']);
  if (names === undefined) return undefined;
  if (!Labels.safeParse(names).success) throw new EdgefleetError('INVALID_MODEL', 'metadata_props "labels" is not a usable list of class names');
  return { names, from: 'metadata' };
}

async function loadSession(bytes: Uint8Array): Promise<ort.InferenceSession> {
  try {
    // one intra-op thread: the hub shares its machine with the broker and the API (design §7)
    // fatal-only logging: run failures on operator inputs are expected and reported in our own errors
    return await ort.InferenceSession.create(bytes, { intraOpNumThreads: 1, interOpNumThreads: 1, logSeverityLevel: 4 });
  } catch (err) {
    throw new EdgefleetError('MODEL_LOAD_FAILED', `onnxruntime cannot load the model: ${oneLine(err)}`, { cause: err });
  }
}

/** The graph's IO signature, checked against what the onnxruntime session will actually feed and fetch. */
function ioSignature(info: ModelInfo, session: ort.InferenceSession): Manifest['io'] {
  const check = (role: 'input' | 'output', graph: TensorSpec[], names: readonly string[], meta: readonly ort.InferenceSession.ValueMetadata[] | undefined): TensorSpec[] => {
    const graphNames = graph.map((s) => s.name);
    if (graphNames.length !== names.length || names.some((n, i) => n !== graphNames[i])) {
      throw new EdgefleetError(
        'INVALID_MODEL',
        `the graph declares ${role}s [${graphNames.join(', ')}] but onnxruntime sees [${names.join(', ')}]`,
      );
    }
    return graph.map((spec) => {
      const m = meta?.find((x) => x.name === spec.name);
      if (m === undefined) return spec;
      if (!m.isTensor) throw new EdgefleetError('INVALID_MODEL', `${role} ${spec.name} is not a tensor`);
      return { ...spec, type: m.type as TensorSpec['type'] };
    });
  };
  const inputs = check('input', info.inputs, session.inputNames, session.inputMetadata);
  const outputs = check('output', info.outputs, session.outputNames, session.outputMetadata);
  if (inputs.length === 0) throw new EdgefleetError('INVALID_MODEL', 'the model has no inputs');
  if (inputs.length > 64 || outputs.length > 64) throw new EdgefleetError('INVALID_MODEL', 'more than 64 inputs or outputs');
  return { inputs, outputs };
}

/** The first validation rows as self-test inputs. */
function firstRows(batch: ValidationBatch, specs: readonly TensorSpec[]): Record<string, Tensor> {
  const rows = Math.min(batch.rows.length, SELF_TEST_ROWS);
  return Object.fromEntries(specs.map((s) => [s.name, sliceRows(batch.feeds[s.name]!, rows)]));
}

async function runSelfTest(
  session: ort.InferenceSession,
  feeds: Record<string, Tensor>,
  outputSpecs: readonly TensorSpec[],
  origin: SelfTestOrigin,
): Promise<Record<string, Tensor>> {
  let results: ort.InferenceSession.ReturnType;
  try {
    results = await session.run(Object.fromEntries(Object.entries(feeds).map(([k, t]) => [k, toOrtTensor(t)])));
  } catch (err) {
    const message = oneLine(err);
    const text =
      origin === 'synthesized'
        ? `the model rejected synthesized inputs; pass --sample FILE.json with one valid inference request (onnxruntime: ${message})`
        : `the model failed on the ${origin === 'sample' ? 'sample' : 'first validation rows'}: ${message}`;
    throw new EdgefleetError('BAD_INPUT', text, { cause: err });
  }
  const outputs: Record<string, Tensor> = {};
  for (const spec of outputSpecs) {
    const t = fromOrtValue(spec.name, results[spec.name]);
    if (hasNonFinite(t)) {
      const hint = origin === 'synthesized' ? '; pass --sample FILE.json with realistic inputs' : '';
      throw new EdgefleetError('BAD_INPUT', `self-test output "${spec.name}" holds NaN or Infinity on the ${origin} inputs${hint}`);
    }
    outputs[spec.name] = t;
  }
  return outputs;
}

function lineage(options: CheckedPushOptions, metrics: Record<string, number>, importance: FeatureImportance | undefined): Manifest['lineage'] {
  const out: Manifest['lineage'] = {};
  if (options.dataset !== undefined || options.validation !== undefined) {
    out.dataset = { id: options.dataset ?? 'validation' };
    if (options.validation !== undefined) out.dataset.sha256 = sha256Hex(utf8Encode(options.validation));
  }
  if (options.run !== undefined) out.run = options.run;
  if (options.commit !== undefined) out.commit = options.commit;
  if (Object.keys(metrics).length > 0) out.metrics = { ...metrics };
  if (importance !== undefined) out.importance = importance;
  return out;
}

const round = (x: number) => Math.round(x * 1000) / 1000;
