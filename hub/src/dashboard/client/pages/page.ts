// What a page is to the shell: it renders into `main` and hands back how to refresh it.

export interface PageController {
  /** Fetch and re-render; the shell calls it again `interval` ms after it settles (2 s by default). */
  refresh(): Promise<unknown>;
  interval?: number;
}

/**
 * A page: `args` are the route's decoded path parts, `params` the hash's query, and `alive()` turns
 * false once the viewer has left (late answers are then dropped).
 */
export type Page = (main: HTMLElement, args: string[], params: URLSearchParams, alive: () => boolean) => PageController;
