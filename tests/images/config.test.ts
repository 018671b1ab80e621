import { describe, it, expect } from 'vitest';
import { fromEnv } from '../../shared/config.ts';
import { publicBaseUrl, publicUrl, parseVariantKey, variantKey } from '../../shared/image-keys.ts';

describe('image configuration', () => {
  it('has documented defaults', () => {
    const c = fromEnv({});
    expect(c.imageAllowAddresses).toEqual([]);
    expect(c.imageDownloadTimeoutMs).toBe(20_000);
    expect(c.imageConcurrency).toBe(2);
    expect(c.imageSourceHosts).toContain('*.r2.dev');
  });

  it('validates IMAGE_ALLOW_ADDRESSES, IMAGE_CONCURRENCY and IMAGE_DOWNLOAD_TIMEOUT_MS by name', () => {
    expect(fromEnv({ IMAGE_ALLOW_ADDRESSES: '10.0.3.7, 10.8.0.0/16,fd00::/8' }).imageAllowAddresses).toEqual(['10.0.3.7', '10.8.0.0/16', 'fd00::/8']);
    expect(() => fromEnv({ IMAGE_ALLOW_ADDRESSES: '10.0.0.0/33' })).toThrow(/IMAGE_ALLOW_ADDRESSES must be a comma-separated list of IP addresses or CIDRs \(got "10\.0\.0\.0\/33"\)/);
    expect(() => fromEnv({ IMAGE_ALLOW_ADDRESSES: 'intranet.local' })).toThrow(/IMAGE_ALLOW_ADDRESSES/);
    expect(() => fromEnv({ IMAGE_CONCURRENCY: '0' })).toThrow(/IMAGE_CONCURRENCY must be an integer from 1 to 32/);
    expect(() => fromEnv({ IMAGE_DOWNLOAD_TIMEOUT_MS: 'soon' })).toThrow(/IMAGE_DOWNLOAD_TIMEOUT_MS/);
  });

  it('builds canonical URLs from IMAGE_PUBLIC_BASE_URL, else the bucket on the S3 endpoint', () => {
    const key = variantKey('inventory', '42', 'a'.repeat(64), 1280, 'webp');
    expect(publicUrl(fromEnv({ IMAGE_PUBLIC_BASE_URL: 'https://x.supabase.co/storage/v1/object/public/images/' }), key))
      .toBe(`https://x.supabase.co/storage/v1/object/public/images/inventory/42/${'a'.repeat(64)}-1280.webp`);
    expect(publicBaseUrl(fromEnv({ S3_ENDPOINT: 'http://s3.local:9000', IMAGE_BUCKET: 'imgs' }))).toBe('http://s3.local:9000/imgs/');
    expect(publicBaseUrl(fromEnv({}))).toBe('http://127.0.0.1:9470/product-images/');
    expect(parseVariantKey(key)).toEqual({ table: 'inventory', id: '42', sha256: 'a'.repeat(64), variant: '1280' });
    expect(parseVariantKey('inventory/42/notasha-1280.webp')).toBeUndefined();
  });
});
