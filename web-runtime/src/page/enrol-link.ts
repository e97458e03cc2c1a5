// Enrolment from a one-time link (`edgefleet device enrol ID`, or the dashboard's "Enrol a browser device"):
// the page is opened at `<hub>/device/#enrol=<code>`. A fragment is never sent to a server, so the code is in
// no access log; the page takes it out of the address bar and its history entry (replaceState) before doing
// anything else, then trades it once at POST /api/v1/enrol for this device's agent config. A used code is
// worth nothing, so a copy left behind anywhere (a browser's visited-URL list) cannot enrol anyone.

import { EdgefleetError, isErrorCode } from '@edgefleet/protocol';

/** The code in `location.hash` (`#enrol=…`), already removed from the URL and history entry; null when none. */
export function takeEnrolmentCode(loc: Pick<Location, 'hash' | 'pathname' | 'search'> = location, hist: Pick<History, 'replaceState' | 'state'> = history): string | null {
  const params = new URLSearchParams(loc.hash.replace(/^#/, ''));
  const code = params.get('enrol');
  if (code === null) return null;
  params.delete('enrol');
  const rest = params.toString();
  hist.replaceState(hist.state, '', `${loc.pathname}${loc.search}${rest ? `#${rest}` : ''}`);
  return code;
}

/** The agent config the hub gives for `code` (unchecked: the page parses it); a refusal carries the hub's code. */
export async function redeemEnrolmentCode(code: string, hubRoot: URL): Promise<unknown> {
  let res: Response;
  try {
    res = await fetch(new URL('api/v1/enrol', hubRoot), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ code }),
      cache: 'no-store',
      credentials: 'omit',
    });
  } catch (err) {
    throw new EdgefleetError('UNAVAILABLE', `the hub is unreachable: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
  const body = (await res.json().catch(() => null)) as { agentConfig?: unknown; error?: { code?: unknown; message?: unknown } } | null;
  if (!res.ok) {
    const e = body?.error;
    throw new EdgefleetError(isErrorCode(e?.code) ? e.code : 'INTERNAL', typeof e?.message === 'string' ? e.message : `the hub answered HTTP ${res.status}`);
  }
  if (!body || body.agentConfig === undefined) throw new EdgefleetError('BAD_MESSAGE', 'the hub’s answer holds no agent config');
  return body.agentConfig;
}
