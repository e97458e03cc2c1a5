#!/usr/bin/env node
// the bundled bin (agent/scripts/build-bin.mjs, run by `npm run build`): only the modules the agent reaches
import '../dist/edgefleet-agent.mjs';
