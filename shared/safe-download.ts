// Downloads an untrusted URL with every hop checked: allow-listed host, resolved addresses
// not private (unless allowed), the connection pinned to the address that was checked (no DNS
// rebinding between check and connect), redirects capped, a deadline, and a byte cap that
// stops reading instead of buffering more.
import http from 'node:http';
import https from 'node:https';
import crypto from 'node:crypto';
import dns from 'node:dns/promises';
import net from 'node:net';
import type { LookupFunction } from 'node:net';
import { addressRefusal, describeUrl, hostAllowed, type AddressPolicy } from './net-guard.ts';
import { deadline } from './deadline.ts';

export interface DownloadPolicy extends AddressPolicy {
  /** Host patterns ("cdn.example.com", "*.r2.dev"). */
  hosts: readonly string[];
  maxBytes: number;
  /** Deadline for the whole download, redirects included. */
  timeoutMs: number;
  maxRedirects?: number;
  signal?: AbortSignal;
  userAgent?: string;
}

export interface Download {
  body: Buffer;
  sha256: string;
  /** The URL the body came from, after redirects. */
  finalUrl: string;
  redirects: number;
  contentType: string | undefined;
}

export type DownloadErrorCode =
  | 'bad-url' | 'host-not-allowed' | 'address-refused' | 'dns' | 'too-many-redirects' | 'http-status'
  | 'too-large' | 'timeout' | 'network' | 'aborted';

/** A refused or failed download; `permanent` says whether trying again later could help. */
export class DownloadError extends Error {
  constructor(readonly code: DownloadErrorCode, message: string, readonly permanent: boolean) {
    super(message);
    this.name = 'DownloadError';
  }
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);
// Client errors other than timeouts and rate limits will not change by asking again.
const transientStatus = (s: number) => s === 408 || s === 425 || s === 429 || s >= 500;

// Keep-alive pools: the lookup below pins each new socket; a reused socket was pinned when made.
const agents = {
  'http:': new http.Agent({ keepAlive: true, maxSockets: 16 }),
  'https:': new https.Agent({ keepAlive: true, maxSockets: 16 }),
};

function mb(bytes: number): string {
  return `${+(bytes / 1024 / 1024).toFixed(1)} MB`;
}

/** Resolves a hop's host and checks every address it resolves to; returns the one to use. */
async function resolveChecked(url: URL, policy: DownloadPolicy): Promise<{ address: string; family: number }> {
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  let addresses: { address: string; family: number }[];
  if (net.isIP(host)) {
    addresses = [{ address: host, family: net.isIP(host) }];
  } else {
    try {
      addresses = await dns.lookup(host, { all: true, verbatim: true });
    } catch (err) {
      const code = (err as { code?: string }).code;
      throw new DownloadError('dns', `host "${host}" does not resolve (${code ?? 'DNS error'})`, code === 'ENOTFOUND');
    }
  }
  // One bad address refuses the host: a round-robin answer must not smuggle in a private one.
  for (const a of addresses) {
    const why = addressRefusal(a.address, policy);
    if (why) throw new DownloadError('address-refused', `host "${host}" resolves to ${why}`, true);
  }
  const first = addresses[0];
  if (!first) throw new DownloadError('dns', `host "${host}" has no addresses`, false);
  return first;
}

function checkUrl(raw: string, policy: DownloadPolicy, hop: number): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new DownloadError('bad-url', hop ? 'redirect to an invalid URL' : 'not a valid URL', true);
  }
  const where = hop ? ` (redirect ${hop})` : '';
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new DownloadError('bad-url', `only http(s) URLs are fetched, not ${url.protocol}${where}`, true);
  }
  if (url.username || url.password) throw new DownloadError('bad-url', `URLs with credentials are refused${where}`, true);
  if (!hostAllowed(url.hostname, policy.hosts)) {
    throw new DownloadError('host-not-allowed', `host "${url.hostname}" is not in IMAGE_SOURCE_HOSTS${where}`, true);
  }
  return url;
}

type HopResult = { redirect: string } | { body: Buffer; sha256: string; contentType: string | undefined };

function fetchHop(url: URL, pinned: { address: string; family: number }, policy: DownloadPolicy, signal: AbortSignal): Promise<HopResult> {
  const lookup: LookupFunction = (_host, options, cb) => {
    if (options.all) (cb as unknown as (e: null, a: { address: string; family: number }[]) => void)(null, [pinned]);
    else cb(null, pinned.address, pinned.family);
  };
  return new Promise<HopResult>((resolve, reject) => {
    const req = (url.protocol === 'https:' ? https : http).request(url, {
      method: 'GET',
      agent: agents[url.protocol as 'http:' | 'https:'],
      lookup,
      signal,
      headers: { 'user-agent': policy.userAgent ?? 'stockroom-fleet', accept: 'image/*', 'accept-encoding': 'identity' },
    });
    req.on('error', (err) => reject(err));
    req.on('response', (res) => {
      const status = res.statusCode ?? 0;
      // Bodies of redirects and errors are never read: hang up instead of draining them.
      if (REDIRECTS.has(status)) {
        req.destroy();
        const location = res.headers.location;
        if (!location) return reject(new DownloadError('http-status', `HTTP ${status} without a Location`, true));
        return resolve({ redirect: new URL(location, url).toString() });
      }
      if (status !== 200) {
        req.destroy();
        return reject(new DownloadError('http-status', `HTTP ${status} from ${describeUrl(url)}`, !transientStatus(status)));
      }
      const declared = Number(res.headers['content-length']);
      if (Number.isFinite(declared) && declared > policy.maxBytes) {
        req.destroy();
        return reject(new DownloadError('too-large', `image is ${mb(declared)}, over the ${mb(policy.maxBytes)} limit`, true));
      }
      const hash = crypto.createHash('sha256');
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > policy.maxBytes) {
          // Stop reading now: the rest of the body is never buffered.
          req.destroy();
          reject(new DownloadError('too-large', `image is over the ${mb(policy.maxBytes)} limit`, true));
          return;
        }
        hash.update(chunk);
        chunks.push(chunk);
      });
      res.on('end', () => {
        if (!res.complete) return reject(new DownloadError('network', 'connection closed before the body was complete', false));
        resolve({ body: Buffer.concat(chunks, size), sha256: hash.digest('hex'), contentType: res.headers['content-type'] });
      });
      res.on('error', reject);
    });
    req.end();
  });
}

/** Downloads url under policy; throws DownloadError with a reason a person can act on. */
export async function safeDownload(rawUrl: string, policy: DownloadPolicy): Promise<Download> {
  const maxRedirects = policy.maxRedirects ?? 3;
  const limit = deadline(policy.timeoutMs, policy.signal);
  const { signal } = limit;
  let current = rawUrl;
  try {
    for (let hop = 0; ; hop++) {
      const url = checkUrl(current, policy, hop);
      try {
        const pinned = await resolveChecked(url, policy);
        signal.throwIfAborted();
        const result = await fetchHop(url, pinned, policy, signal);
        if ('body' in result) return { ...result, finalUrl: url.toString(), redirects: hop };
        if (hop >= maxRedirects) throw new DownloadError('too-many-redirects', `more than ${maxRedirects} redirects`, true);
        current = result.redirect;
      } catch (err) {
        if (err instanceof DownloadError) throw err;
        if (limit.timedOut) throw new DownloadError('timeout', `download timed out after ${policy.timeoutMs} ms`, false);
        if (signal.aborted) throw new DownloadError('aborted', 'download aborted', false);
        const code = (err as { code?: string }).code;
        throw new DownloadError('network', `${code ?? 'network error'} fetching ${describeUrl(url)}`, false);
      }
    }
  } finally {
    limit.clear();
  }
}
