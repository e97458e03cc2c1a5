// /capture-policies (design §4 capture, §2 `edgefleet data capture`): the capture rule an operator sets at run
// time for one model version. Stored in the hub's database, audited, and carried by the signed desired state of
// every device assigned that version — re-issued at once, no restart — ahead of the hub's `--capture` defaults.

import { z } from 'zod';
import { CaptureRule, EdgefleetError, IsoTime, ModelName, SemVer } from '@edgefleet/protocol';
import { actor } from '../auth.js';
import { principal } from '../guard.js';
import { apiRoutes, type ApiDeps, type ApiRoutes } from '../api-routes.js';
import { CapturePolicyRule } from '../../desired/index.js';
import type { CapturePolicyInput, CapturePolicyRow, CapturePolicyView } from '../../store/capture-policies.js';

/** The body of PUT: a rule without model and version, which the path names. */
export const CapturePolicyBody = CapturePolicyRule;

export const CapturePolicy = z.object({ model: ModelName, version: SemVer, rule: CaptureRule, updatedAt: IsoTime, actor: z.string() });
const CapturePolicyOne = z.object({ policy: CapturePolicy });
const CapturePolicyChanged = z.object({
  policy: CapturePolicy.nullable().describe('the policy now in force; null after DELETE'),
  devices: z.number().int().min(0).describe('devices whose signed desired state was re-issued'),
});
const CapturePolicyList = z.object({ policies: z.array(CapturePolicy) });

const Params = { model: ModelName, version: SemVer };

const view = (r: CapturePolicyRow): CapturePolicyView => ({
  model: r.model,
  version: r.version,
  rule: CaptureRule.parse({ ...(JSON.parse(r.rule) as object), model: r.model, version: r.version }),
  updatedAt: r.updatedAt,
  actor: r.actor,
});

export function captureRoutes(deps: Pick<ApiDeps, 'ctx' | 'desiredStates'>): ApiRoutes {
  const { ctx, desiredStates } = deps;
  const { store } = ctx;
  const { app, docs, route } = apiRoutes();

  route({ method: 'get', path: '/capture-policies', summary: 'Capture policies set per model version', role: 'viewer', responses: { 200: CapturePolicyList } }, async (_c, io) => {
    return io.json(200, { policies: (await store.capturePolicies.list()).map(view) });
  });

  route({ method: 'get', path: '/capture-policies/:model/:version', params: Params, summary: 'The capture policy of one model version', role: 'viewer', responses: { 200: CapturePolicyOne } }, async (c, io) => {
    const row = await store.capturePolicies.get(c.req.param('model'), c.req.param('version'));
    if (!row) throw new EdgefleetError('NOT_FOUND', `no capture policy for ${c.req.param('model')}@${c.req.param('version')}`);
    return io.json(200, { policy: view(row) });
  });

  route(
    {
      method: 'put',
      path: '/capture-policies/:model/:version',
      params: Params,
      summary: 'Set the capture policy of a pushed model version (rate, triggers, quotas, allow-list, hashing, redaction); devices assigned it get a new signed desired state',
      role: 'operator',
      body: CapturePolicyBody,
      responses: { 200: CapturePolicyChanged, 404: { description: 'No such model version' } },
    },
    async (c, io) => {
      const model = c.req.param('model');
      const version = c.req.param('version');
      const body = await io.body();
      if (!(await store.getModelVersion(model, version))) throw new EdgefleetError('NOT_FOUND', `model ${model}@${version} not found`);
      const row: CapturePolicyRow = { model, version, rule: JSON.stringify(body), updatedAt: ctx.now().toISOString(), actor: actor(principal(c)) };
      const devices = await desiredStates.capturePolicyChanged(model, version, async () => {
        await store.capturePolicies.put(row);
        await store.appendAudit(row.actor, 'capture.set', { model, version, rule: body }, row.updatedAt);
      });
      return io.json(200, { policy: view(row), devices });
    },
  );

  route(
    {
      method: 'delete',
      path: '/capture-policies/:model/:version',
      params: Params,
      summary: 'Remove the capture policy of a model version; its devices fall back to the hub’s default rules',
      role: 'operator',
      responses: { 200: CapturePolicyChanged },
    },
    async (c, io) => {
      const model = c.req.param('model');
      const version = c.req.param('version');
      const who = actor(principal(c));
      if (!(await store.capturePolicies.get(model, version))) throw new EdgefleetError('NOT_FOUND', `no capture policy for ${model}@${version}`);
      const devices = await desiredStates.capturePolicyChanged(model, version, async () => {
        await store.capturePolicies.remove(model, version);
        await store.appendAudit(who, 'capture.remove', { model, version }, ctx.now().toISOString());
      });
      return io.json(200, { policy: null, devices });
    },
  );

  return { app, docs };
}

// the store's view types are what clients are typed with: the schemas must accept exactly them
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : never) : never;
const sameView: Same<z.infer<typeof CapturePolicy>, CapturePolicyView> = true;
const sameInput: Same<z.input<typeof CapturePolicyBody>, CapturePolicyInput> = true;
void sameView, void sameInput;
