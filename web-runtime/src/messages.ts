// The messages between a page, its agent Worker and the other tabs of the same device (BroadcastChannel).
// Another tab is another script of the origin, possibly an older build: everything that crosses is parsed
// here and a malformed message is refused with BAD_MESSAGE, never trusted by shape.

import * as z from 'zod';
import { AgentConfig, DeviceEvent, EdgefleetError, ElementType, ReportedState, TYPED_ARRAYS, type Tensor, type TypedData } from '@edgefleet/protocol';

const Id = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
const TabId = z.string().min(1).max(64);
const Name = z.string().min(1).max(256);

/** A tensor as the core takes it: its typed array must be the one of its element type and fill its dims. */
export const TensorMessage = z
  .object({
    type: ElementType,
    dims: z.array(z.number().int().min(0).max(2 ** 31)).max(16),
    data: z.union([z.array(z.string()), z.custom<Exclude<TypedData, string[]>>((v) => ArrayBuffer.isView(v) && !(v instanceof DataView), 'a typed array')]),
  })
  .superRefine((t, ctx) => {
    const want = t.type === 'string' ? null : TYPED_ARRAYS[t.type];
    if (want ? !(t.data instanceof want) : !Array.isArray(t.data)) ctx.addIssue({ code: 'custom', message: `data is not the array of ${t.type}`, path: ['data'] });
    const n = t.dims.reduce((a, b) => a * b, 1);
    if ((t.data as { length: number }).length !== n) ctx.addIssue({ code: 'custom', message: `data has ${(t.data as { length: number }).length} elements, dims [${t.dims.join(', ')}] need ${n}`, path: ['data'] });
  });

const Feeds = z.record(Name, TensorMessage).refine((r) => Object.keys(r).length <= 64, 'at most 64 tensors');
const InferOptions = z.object({ version: z.string().max(64).optional(), id: z.string().max(128).optional(), outputs: z.array(Name).max(64).optional() }).strict();

/** What can be asked of the agent (by the page of the leader tab, or by another tab through it). */
export const AgentRequest = z.discriminatedUnion('op', [
  z.object({ op: z.literal('infer'), model: Name, inputs: Feeds, options: InferOptions.optional() }).strict(),
  z.object({ op: z.literal('label'), model: Name, predictionId: z.string().min(1).max(128), label: z.union([z.string().max(256), z.number()]) }).strict(),
  z.object({ op: z.literal('status') }).strict(),
  // the device-side capture switch (design §4 capture): off wins over any policy and drops rows not sent yet
  z.object({ op: z.literal('capture'), enabled: z.boolean() }).strict(),
]);
export type AgentRequest = z.infer<typeof AgentRequest>;

const ErrorBody = z.object({ code: z.string().max(64), message: z.string().max(4096) });

/** OIP-style metadata of an active model, for the inference form. */
export const ModelInfo = z.object({
  name: Name,
  versions: z.array(z.string().max(64)).max(8),
  inputs: z.array(z.object({ name: Name, datatype: z.string().max(16), shape: z.array(z.number().int()).max(16) })).max(64),
  outputs: z.array(z.object({ name: Name, datatype: z.string().max(16), shape: z.array(z.number().int()).max(16) })).max(64),
});
export type ModelInfo = z.infer<typeof ModelInfo>;

/** What a page shows: connection, the reported state (versions, slot states, progress) and active models. */
export const AgentSnapshot = z.object({
  connected: z.boolean(),
  reported: ReportedState,
  models: z.array(ModelInfo).max(256),
  persisted: z.boolean().nullable(),
  /** The device-side capture switch: false means no field data leaves this device, whatever the hub asks. */
  capture: z.boolean(),
  error: ErrorBody.nullable(),
});
export type AgentSnapshot = z.infer<typeof AgentSnapshot>;

export const InferReply = z.object({ id: z.string(), version: z.string(), outputs: z.record(Name, TensorMessage) });

// ---------- page ⇄ Worker ----------

export const ToWorker = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('start'), config: AgentConfig, ortPrefix: z.string().max(2048).optional() }).strict(),
  z.object({ kind: z.literal('call'), id: Id, request: AgentRequest }).strict(),
  z.object({ kind: z.literal('stop'), id: Id }).strict(),
]);
export type ToWorker = z.infer<typeof ToWorker>;

export const FromWorker = z.discriminatedUnion('kind', [
  z.discriminatedUnion('ok', [
    z.object({ kind: z.literal('reply'), id: Id, ok: z.literal(true), result: z.unknown() }).strict(),
    z.object({ kind: z.literal('reply'), id: Id, ok: z.literal(false), error: ErrorBody }).strict(),
  ]),
  z.object({ kind: z.literal('state'), snapshot: AgentSnapshot }).strict(),
  z.object({ kind: z.literal('event'), event: DeviceEvent }).strict(),
  z.object({ kind: z.literal('fatal'), error: ErrorBody }).strict(),
]);
export type FromWorker = z.infer<typeof FromWorker>;

// ---------- tab ⇄ tab (BroadcastChannel `edgefleet-agent:<deviceId>`) ----------

export const TabMessage = z.discriminatedUnion('kind', [
  /** A follower asks the leader. */
  z.object({ kind: z.literal('request'), from: TabId, id: Id, request: AgentRequest }).strict(),
  /** The leader answers one follower. */
  z.discriminatedUnion('ok', [
    z.object({ kind: z.literal('reply'), to: TabId, id: Id, ok: z.literal(true), result: z.unknown() }).strict(),
    z.object({ kind: z.literal('reply'), to: TabId, id: Id, ok: z.literal(false), error: ErrorBody }).strict(),
  ]),
  /** The leader's state and events, to every tab. */
  z.object({ kind: z.literal('state'), snapshot: AgentSnapshot }).strict(),
  z.object({ kind: z.literal('event'), event: DeviceEvent }).strict(),
  /** A tab took the device's lock and runs its agent now. */
  z.object({ kind: z.literal('leader'), tab: TabId }).strict(),
]);
export type TabMessage = z.infer<typeof TabMessage>;

/** Parse a message that crossed a boundary; BAD_MESSAGE says where it is malformed. */
export function parseMessage<T>(schema: z.ZodType<T>, data: unknown, what: string): T {
  const r = schema.safeParse(data);
  if (r.success) return r.data;
  const issue = r.error.issues[0];
  const where = issue && issue.path.length > 0 ? `${issue.path.join('.')}: ` : '';
  throw new EdgefleetError('BAD_MESSAGE', `malformed ${what}: ${where}${issue?.message ?? 'invalid'}`);
}

/**
 * The buffers of tensors to transfer instead of copy (postMessage to/from the Worker): only a buffer the
 * tensor fills alone, so transferring (detaching) it never takes bytes that other arrays view.
 */
export function transferablesOf(tensors: Record<string, Tensor>): ArrayBuffer[] {
  const out = new Set<ArrayBuffer>();
  for (const t of Object.values(tensors)) {
    const d = t.data;
    if (ArrayBuffer.isView(d) && d.buffer instanceof ArrayBuffer && d.byteOffset === 0 && d.byteLength === d.buffer.byteLength) out.add(d.buffer);
  }
  return [...out];
}

/** An error as it crosses a boundary: its code when it has one. */
export function errorBody(err: unknown): { code: string; message: string } {
  if (err instanceof EdgefleetError) return { code: err.code, message: err.message.slice(0, 4096) };
  const code = typeof (err as { code?: unknown })?.code === 'string' ? (err as { code: string }).code : 'INTERNAL';
  return { code, message: (err instanceof Error ? err.message : String(err)).slice(0, 4096) };
}
