// The device page's Service Worker (issue 12 "offline for real"): on install it caches the app shell —
// the page, its hashed bundles and onnxruntime-web's wasm — so after one visit the page opens and serves
// inference with no network (models come from IndexedDB, re-checked by the core). Hashed assets are
// cache-first (immutable names), the page network-first with the cache as fallback; nothing outside the
// scope (the hub's /api/, /mqtt) is ever cached or answered here. The build fills in __SHELL__/__VERSION__.

declare const __SHELL__: string[];
declare const __VERSION__: string;

/** The parts of ServiceWorkerGlobalScope used here (the package's lib is DOM, not WebWorker). */
interface ExtendableEventLike extends Event {
  waitUntil(p: Promise<unknown>): void;
}
interface FetchEventLike extends ExtendableEventLike {
  readonly request: Request;
  respondWith(r: Response | Promise<Response>): void;
}
interface SwScope {
  readonly registration: { readonly scope: string };
  readonly clients: { claim(): Promise<void> };
  skipWaiting(): Promise<void>;
  addEventListener(type: 'install' | 'activate', fn: (ev: ExtendableEventLike) => void): void;
  addEventListener(type: 'fetch', fn: (ev: FetchEventLike) => void): void;
}

const sw = globalThis as unknown as SwScope;
const PREFIX = 'edgefleet-device-';
const CACHE = `${PREFIX}${__VERSION__}`;

/** Which strategy a URL gets: hashed assets cache-first, the page network-first, everything else untouched. */
export function routeOf(url: URL, scope: URL): 'asset' | 'page' | null {
  if (url.origin !== scope.origin || !url.pathname.startsWith(scope.pathname)) return null;
  const inner = url.pathname.slice(scope.pathname.length);
  if (inner.startsWith('assets/')) return 'asset';
  if (inner === '' || inner === 'index.html') return 'page';
  return null;
}

sw.addEventListener('install', (ev) => {
  ev.waitUntil(
    (async () => {
      const cache = await caches.open(CACHE);
      // `cache: 'reload'`: the shell as the hub serves it now, not a stale HTTP-cache copy
      await cache.addAll(__SHELL__.map((p) => new Request(new URL(p, sw.registration.scope), { cache: 'reload' })));
      await sw.skipWaiting();
    })(),
  );
});

sw.addEventListener('activate', (ev) => {
  ev.waitUntil(
    (async () => {
      for (const key of await caches.keys()) if (key.startsWith(PREFIX) && key !== CACHE) await caches.delete(key);
      await sw.clients.claim();
    })(),
  );
});

sw.addEventListener('fetch', (ev) => {
  const req = ev.request;
  if (req.method !== 'GET') return;
  const route = routeOf(new URL(req.url), new URL(sw.registration.scope));
  if (route === 'asset') ev.respondWith(cacheFirst(req));
  else if (route === 'page') ev.respondWith(networkFirst(req));
});

async function cacheFirst(req: Request): Promise<Response> {
  const cache = await caches.open(CACHE);
  const hit = await cache.match(req);
  if (hit) return hit;
  const res = await fetch(req);
  if (res.ok && res.type === 'basic') await cache.put(req, res.clone());
  return res;
}

async function networkFirst(req: Request): Promise<Response> {
  const cache = await caches.open(CACHE);
  try {
    const res = await fetch(req);
    if (res.ok && res.type === 'basic') await cache.put(new URL('./', sw.registration.scope).href, res.clone());
    return res;
  } catch (err) {
    // offline: the shell from the install (the page and index.html are the same document)
    const hit = (await cache.match(new URL('./', sw.registration.scope).href)) ?? (await cache.match(new URL('./index.html', sw.registration.scope).href));
    if (hit) return hit;
    throw err;
  }
}
