import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { classifyAddress, addressRefusal, hostAllowed } from '../../shared/net-guard.ts';
import { safeDownload, DownloadError, type DownloadPolicy } from '../../shared/safe-download.ts';
import { startImageServer, type ImageServer } from './fixtures/server.ts';
import { oversized } from './fixtures/corpus.ts';

describe('address classification', () => {
  it.each([
    ['127.0.0.1', 'loopback'], ['127.8.9.10', 'loopback'], ['0.0.0.0', 'loopback'], ['::1', 'loopback'], ['::', 'loopback'],
    ['10.1.2.3', 'private'], ['172.16.0.1', 'private'], ['172.31.255.255', 'private'], ['192.168.1.1', 'private'], ['100.64.0.1', 'private'],
    ['fd12:3456::1', 'private'], ['169.254.1.1', 'link-local'], ['fe80::1', 'link-local'], ['169.254.169.254', 'metadata'],
    ['fd00:ec2::254', 'metadata'], ['224.0.0.1', 'reserved'], ['ff02::1', 'reserved'],
    ['::ffff:127.0.0.1', 'loopback'], ['::ffff:7f00:1', 'loopback'], ['::ffff:169.254.169.254', 'metadata'], ['::ffff:10.0.0.1', 'private'],
    ['64:ff9b::a00:1', 'private'], ['2002:7f00:1::', 'loopback'],
    ['93.184.215.14', 'public'], ['2606:4700::6810:84e5', 'public'], ['172.32.0.1', 'public'], ['::ffff:8.8.8.8', 'public'],
  ])('%s is %s', (addr, cls) => {
    expect(classifyAddress(addr)).toBe(cls);
  });

  it('refuses private addresses unless allowed, and metadata always', () => {
    expect(addressRefusal('10.0.0.1', { allowPrivateNetworks: false })).toMatch(/10\.0\.0\.1 is a private address and private networks are refused/);
    expect(addressRefusal('10.0.0.1', { allowPrivateNetworks: true })).toBeUndefined();
    expect(addressRefusal('10.0.0.1', { allowPrivateNetworks: false, allowAddresses: ['10.0.0.0/24'] })).toBeUndefined();
    expect(addressRefusal('10.0.1.1', { allowPrivateNetworks: false, allowAddresses: ['10.0.0.0/24'] })).toMatch(/private/);
    expect(addressRefusal('169.254.169.254', { allowPrivateNetworks: true })).toMatch(/cloud metadata endpoint/);
    expect(addressRefusal('8.8.8.8', { allowPrivateNetworks: false })).toBeUndefined();
  });

  it('matches host patterns with wildcards for subdomains only', () => {
    const hosts = ['*.r2.dev', 'ae01.alicdn.com', '127.0.0.1'];
    expect(hostAllowed('pub-123.r2.dev', hosts)).toBe(true);
    expect(hostAllowed('a.b.r2.dev', hosts)).toBe(true);
    expect(hostAllowed('r2.dev', hosts)).toBe(false);
    expect(hostAllowed('evilr2.dev', hosts)).toBe(false);
    expect(hostAllowed('AE01.alicdn.com.', hosts)).toBe(true);
    expect(hostAllowed('ae02.alicdn.com', hosts)).toBe(false);
    expect(hostAllowed('127.0.0.1', hosts)).toBe(true);
  });
});

describe('safeDownload', () => {
  let srv: ImageServer;
  let trusted: ImageServer;
  const base: Omit<DownloadPolicy, 'maxBytes'> = { hosts: ['127.0.0.1', '127.0.0.2', 'localhost'], allowPrivateNetworks: true, timeoutMs: 5_000 };
  const policy = (over: Partial<DownloadPolicy> = {}): DownloadPolicy => ({ ...base, maxBytes: 10 * 1024 * 1024, ...over });
  const refusal = async (url: string, p: DownloadPolicy) => {
    const err = await safeDownload(url, p).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(DownloadError);
    return err as DownloadError;
  };

  beforeAll(async () => {
    srv = await startImageServer('127.0.0.1');
    // A second host on another loopback address: allowed by address while 127.0.0.1 is not.
    trusted = await startImageServer('127.0.0.2');
  });
  afterAll(async () => { await srv.close(); await trusted.close(); });

  it('downloads and hashes a body, following a capped number of redirects', async () => {
    const body = Buffer.from('GIF89a-not-really-but-bytes');
    srv.route('/a.gif', { body });
    srv.route('/r1', { redirect: '/a.gif' });
    srv.route('/r2', { redirect: srv.url('/r1'), status: 301 });
    const dl = await safeDownload(srv.url('/r2'), policy());
    expect(dl.body.equals(body)).toBe(true);
    expect(dl.redirects).toBe(2);
    expect(dl.sha256).toMatch(/^[0-9a-f]{64}$/);
    for (let i = 0; i < 5; i++) srv.route(`/loop${i}`, { redirect: `/loop${i + 1}` });
    expect((await refusal(srv.url('/loop0'), policy())).message).toBe('more than 3 redirects');
  });

  it('refuses hosts outside the list, on the first hop and on a redirect', async () => {
    let err = await refusal('http://images.outside.test/a.jpg', policy());
    expect(err.code).toBe('host-not-allowed');
    expect(err.message).toBe('host "images.outside.test" is not in IMAGE_SOURCE_HOSTS');
    srv.route('/away', { redirect: 'http://images.outside.test/a.jpg' });
    err = await refusal(srv.url('/away'), policy());
    expect(err.message).toBe('host "images.outside.test" is not in IMAGE_SOURCE_HOSTS (redirect 1)');
    expect((await refusal('file:///etc/passwd', policy())).message).toMatch(/only http\(s\) URLs/);
    expect((await refusal('http://user:pw@127.0.0.1/x', policy())).message).toMatch(/credentials/);
  });

  it('refuses loopback and metadata addresses, directly and behind a redirect', async () => {
    const strict = policy({ allowPrivateNetworks: false, allowAddresses: ['127.0.0.2'] });
    trusted.route('/ok', { body: Buffer.from('fine, this host is allowed by address') });
    expect((await safeDownload(trusted.url('/ok'), strict)).body.toString()).toMatch(/fine/);

    let err = await refusal(srv.url('/a.gif'), strict);
    expect(err.code).toBe('address-refused');
    expect(err.message).toMatch(/host "127\.0\.0\.1" resolves to 127\.0\.0\.1 is a loopback address/);
    err = await refusal(`http://localhost:${new URL(srv.origin).port}/a.gif`, strict);
    expect(err.message).toMatch(/host "localhost" resolves to (127\.0\.0\.1|::1) is a loopback address/);

    trusted.route('/to-loopback', { redirect: srv.url('/a.gif') });
    err = await refusal(trusted.url('/to-loopback'), strict);
    expect(err.message).toMatch(/127\.0\.0\.1 is a loopback address/);
    trusted.route('/to-metadata', { redirect: 'http://169.254.169.254/latest/meta-data/iam/security-credentials/' });
    err = await refusal(trusted.url('/to-metadata'), policy({ hosts: ['*'], allowPrivateNetworks: false, allowAddresses: ['127.0.0.2'] }));
    expect(err.message).toBe('host "169.254.169.254" resolves to 169.254.169.254 is a cloud metadata endpoint (always refused)');
    expect(srv.hits('/a.gif')).toBe(1); // only the allowed download above ever reached it
  });

  it('cuts a body off past the limit without reading the rest', async () => {
    const big = oversized(11 * 1024 * 1024);
    srv.route('/declared.jpg', { body: big });
    let err = await refusal(srv.url('/declared.jpg'), policy());
    expect(err.code).toBe('too-large');
    expect(err.message).toBe('image is 11 MB, over the 10 MB limit');
    srv.route('/chunked.jpg', { body: big, chunked: true });
    err = await refusal(srv.url('/chunked.jpg'), policy());
    expect(err.message).toBe('image is over the 10 MB limit');
    // Without a Content-Length, 40 MB offered: the client hangs up after 5 MB instead of
    // draining, so the server gets no further than 5 MB plus the socket buffers.
    srv.route('/endless.jpg', { body: oversized(40 * 1024 * 1024), chunked: true });
    err = await refusal(srv.url('/endless.jpg'), policy({ maxBytes: 5 * 1024 * 1024 }));
    expect(err.message).toBe('image is over the 5 MB limit');
    await new Promise((r) => setTimeout(r, 200));
    expect(srv.sent('/endless.jpg')).toBeLessThan(16 * 1024 * 1024);
  });

  it('times out a slow server, and reports HTTP errors by permanence', async () => {
    srv.route('/slow.jpg', { body: Buffer.from('late'), delayMs: 3_000 });
    const err = await refusal(srv.url('/slow.jpg'), policy({ timeoutMs: 300 }));
    expect(err.code).toBe('timeout');
    expect(err.permanent).toBe(false);
    expect((await refusal(srv.url('/missing.jpg'), policy())).permanent).toBe(true);
    srv.route('/busy.jpg', { status: 503, body: Buffer.from('later') });
    const busy = await refusal(srv.url('/busy.jpg'), policy());
    expect(busy.message).toMatch(/^HTTP 503 from http:\/\/127\.0\.0\.1:\d+\/busy\.jpg$/);
    expect(busy.permanent).toBe(false);
  });
});
