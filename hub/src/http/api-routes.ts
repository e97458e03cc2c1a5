// One domain's slice of /api/v1 (design §7): a hono sub-app that app.ts mounts with `app.route`, and a
// RouteDoc per route. The docs are the one route → role table: the guard authorizes every request from
// it before any route runs, and the OpenAPI document is built from it.

import { Hono } from 'hono';
import type { HubContext } from '../context.js';
import type { DeviceRegistry } from '../devices/registry.js';
import type { DesiredStates } from '../desired/index.js';
import type { ModelRegistry } from '../models/registry.js';
import type { ArtifactStore } from '../artifacts/index.js';
import type { CommandSender } from '../devices/commands.js';
import type { RolloutRunner } from '../rollouts/runner.js';
import type { GuardEnv } from './guard.js';
import type { RouteDoc } from './openapi.js';
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

export function apiRoutes(): ApiRoutes & { doc: (d: RouteDoc) => void } {
  const docs: RouteDoc[] = [];
  return { app: new Hono<GuardEnv>(), docs, doc: (d) => void docs.push(d) };
}
