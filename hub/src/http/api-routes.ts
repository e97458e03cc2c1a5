// One domain's slice of /api/v1 (design §7): a hono sub-app that app.ts mounts with `app.route`, and the
// RouteDoc of each route (route-doc.ts). `route()` mounts a handler from its declaration, so the docs are the
// one route → role table: the guard authorizes every request from it before any route runs, handlers parse
// with its schemas, and the OpenAPI document is built from it.

import { Hono, type Context } from 'hono';
import type { HubContext } from '../context.js';
import type { DeviceRegistry } from '../devices/registry.js';
import type { DesiredStates } from '../desired/index.js';
import type { ModelRegistry } from '../models/registry.js';
import type { ArtifactStore } from '../artifacts/index.js';
import type { CommandSender } from '../devices/commands.js';
import type { RolloutRunner } from '../rollouts/runner.js';
import type { GuardEnv } from './guard.js';
import { routeIo, type RouteDoc, type RouteIo } from './route-doc.js';
import type { DevicePageOptions } from '../device-page/index.js';

/** What the API serves from: the hub's services. */
export interface ApiDeps {
  ctx: HubContext;
  devices: DeviceRegistry;
  desiredStates: DesiredStates;
  models: ModelRegistry;
  artifacts: ArtifactStore;
  commands?: CommandSender;
  /** The gated rollout engine (design §7); without it rollouts are issued all at once. */
  rollouts?: RolloutRunner;
  maxModelBytes?: number;
  version?: string;
  /** The browser device page at /device (its bundle directory, cross-origin isolation). */
  devicePage?: DevicePageOptions;
}

export interface ApiRoutes {
  /** Paths relative to /api/v1. */
  app: Hono<GuardEnv>;
  /** In the order the OpenAPI document lists them. */
  docs: RouteDoc[];
}

export type RouteHandler<D extends RouteDoc> = (c: Context<GuardEnv, D['path']>, io: RouteIo<D>) => Response | Promise<Response>;

export function apiRoutes(): ApiRoutes & { route: <const D extends RouteDoc>(d: D, handler: RouteHandler<D>) => void } {
  const docs: RouteDoc[] = [];
  const app = new Hono<GuardEnv>();
  return {
    app,
    docs,
    route(d, handler) {
      docs.push(d);
      app.on(d.method.toUpperCase(), d.path, (c) => handler(c as Context<GuardEnv, typeof d.path>, routeIo(d, c)));
    },
  };
}
