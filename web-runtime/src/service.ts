// What the agent Worker answers: one request (infer, label, status, capture) against a started agent, and the
// snapshot a page shows. Separate from worker.ts so it runs under test without a Worker.

import { EdgefleetError } from '@edgefleet/protocol';
import type { WebAgent } from './assemble.js';
import { transferablesOf, type AgentRequest, type AgentSnapshot, type ModelInfo } from './messages.js';

/** Connection, reported state (versions, slot states, download progress) and the active models' metadata. */
export function snapshotOf(agent: WebAgent, error: AgentSnapshot['error'] = null): AgentSnapshot {
  const models: ModelInfo[] = [];
  for (const name of agent.listModels()) {
    const m = agent.modelMetadata(name);
    if (m) models.push({ name, versions: m.versions, inputs: m.inputs, outputs: m.outputs });
  }
  return { connected: agent.connected, reported: agent.reported(), models, persisted: agent.persisted, capture: agent.captureEnabled, error };
}

export interface Answer {
  result: unknown;
  /** Buffers to transfer with the answer (inference outputs). */
  transfer: ArrayBuffer[];
}

export async function answer(agent: WebAgent | null, request: AgentRequest, error: AgentSnapshot['error'] = null): Promise<Answer> {
  if (!agent) {
    if (request.op === 'status') return { result: null, transfer: [] };
    throw new EdgefleetError('UNAVAILABLE', error ? `the agent did not start: ${error.code}: ${error.message}` : 'the agent is starting');
  }
  switch (request.op) {
    case 'infer': {
      const r = await agent.run(request.model, request.inputs, request.options ?? {});
      return { result: { id: r.id, version: r.version, outputs: r.outputs }, transfer: transferablesOf(r.outputs) };
    }
    case 'label':
      await agent.label(request.model, request.predictionId, request.label);
      return { result: null, transfer: [] };
    case 'status':
      return { result: snapshotOf(agent, error), transfer: [] };
    case 'capture':
      await agent.setCapture(request.enabled);
      return { result: snapshotOf(agent, error), transfer: [] };
  }
}
