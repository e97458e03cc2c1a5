// The HTTP download path (design §8): range requests to the manifest's URLs or the hub, 16 chunks a request.

import { EdgefleetError, toBase64, utf8Encode } from '@edgefleet/protocol';
import { chunkLength, hasBit, type ActiveDownload } from './partial.js';

export interface HttpPathOptions {
  /** Hub base URL + Basic credentials; the credentials go to that hub only. */
  http?: { baseUrl?: string; username: string; password: string };
  fetch: typeof fetch;
  accept: (a: ActiveDownload, index: number, data: Uint8Array) => void;
  sync: (a: ActiveDownload) => Promise<void>;
}

export async function viaHttp(a: ActiveDownload, url: string, o: HttpPathOptions): Promise<void> {
  const headers: Record<string, string> = {};
  const cred = o.http;
  // device credentials go only to the hub this device belongs to, never to a CDN named in a manifest
  if (cred?.baseUrl && url.startsWith(cred.baseUrl.replace(/\/$/, '') + '/')) {
    headers.authorization = `Basic ${toBase64(utf8Encode(`${cred.username}:${cred.password}`))}`;
  }
  const perRequest = 16;
  let i = 0;
  while (i < a.chunkCount) {
    if (a.control.cancelled) throw new EdgefleetError('UNAVAILABLE', 'download cancelled');
    if (hasBit(a.bitmap, i)) {
      i++;
      continue;
    }
    let j = i;
    while (j + 1 < a.chunkCount && j + 1 - i < perRequest && !hasBit(a.bitmap, j + 1)) j++;
    const start = i * a.ref.chunkSize;
    const end = Math.min(a.ref.size, (j + 1) * a.ref.chunkSize) - 1;
    const res = await o.fetch(url, { headers: { ...headers, range: `bytes=${start}-${end}` } });
    if (res.status !== 206 && res.status !== 200) {
      throw new EdgefleetError('DOWNLOAD_FAILED', `GET ${url} → HTTP ${res.status}`);
    }
    let body = new Uint8Array(await res.arrayBuffer());
    if (res.status === 200) body = body.subarray(start, end + 1); // server ignored the range
    if (body.length !== end - start + 1) {
      throw new EdgefleetError('SIZE_MISMATCH', `range ${start}-${end} returned ${body.length} bytes`);
    }
    for (let k = i; k <= j; k++) {
      const off = (k - i) * a.ref.chunkSize;
      o.accept(a, k, body.subarray(off, off + chunkLength(a, k)));
    }
    await o.sync(a);
    i = j + 1;
  }
}
