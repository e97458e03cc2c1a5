// The signed-in tab's state: the bearer token (sessionStorage only: never in a URL or cookie), the
// caller's role, the page generation that stops a left page's polling, and the chosen time range
// and whether charts zoom to their data, and the tag key health is grouped by.

import type { WhoAmI } from './api-types.js';

export const TOKEN_KEY = 'edgefleet.token';

export interface Session {
  token: string | null;
  role: WhoAmI['role'];
  who: WhoAmI | null;
  /** Bumped when the page changes: a page's callbacks check it and go quiet. */
  gen: number;
  timer: ReturnType<typeof setTimeout> | null;
  /** The health charts' time range in ms (one of health.ts RANGES). */
  range: number;
  /** Whether time axes fit the data (true) or always show the whole range. */
  zoom: boolean;
  /** The tag key health tables are grouped by ('' for none): one choice for the overview, device table and model page. */
  groupBy: string;
}

export const session: Session = { token: sessionStorage.getItem(TOKEN_KEY), role: null, who: null, gen: 0, timer: null, range: 3600e3, zoom: true, groupBy: '' };

/** The header's role box: the overview fills its badge in when the role was not known at sign-in. */
export const view: { whoBox: HTMLElement | null } = { whoBox: null };

export function canOperate(): boolean {
  return session.role === 'operator' || session.role === 'admin';
}
