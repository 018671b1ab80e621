import type http from 'node:http';
import path from 'node:path';
import fs from 'node:fs/promises';

// s3rver 3.x stores multipart uploads but answers ListMultipartUploads with NotImplemented
// and AbortMultipartUpload with MethodNotAllowed. Real S3, R2 and Supabase Storage implement
// both, and the backup jobs rely on them to leave no orphaned upload behind, so the embedded
// server gets them here, read straight from s3rver's own upload directory
// (<root>/<bucket>/._S3rver_uploads/<uploadId>/{key,metadata,<part>}).

const BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
const UPLOAD_ID = /^[0-9a-f]{32}$/;

function xml(text: string): string {
  return text.replace(/[<>&'"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', "'": '&apos;', '"': '&quot;' })[c]!);
}

function send(res: http.ServerResponse, status: number, body?: string): void {
  res.statusCode = status;
  if (body !== undefined) res.setHeader('content-type', 'application/xml');
  res.end(body);
}

function error(res: http.ServerResponse, status: number, code: string, message: string): void {
  send(res, status, `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${xml(message)}</Message></Error>`);
}

async function listUploads(root: string, bucket: string, prefix: string): Promise<{ key: string; uploadId: string; initiated: Date }[]> {
  const dir = path.join(root, bucket, '._S3rver_uploads');
  const ids = await fs.readdir(dir).catch(() => [] as string[]);
  const out: { key: string; uploadId: string; initiated: Date }[] = [];
  for (const uploadId of ids.filter((id) => UPLOAD_ID.test(id))) {
    const key = await fs.readFile(path.join(dir, uploadId, 'key'), 'utf8').catch(() => undefined);
    if (key === undefined || !key.startsWith(prefix)) continue;
    const stat = await fs.stat(path.join(dir, uploadId));
    out.push({ key, uploadId, initiated: stat.birthtime.getTime() ? stat.birthtime : stat.mtime });
  }
  return out.sort((a, b) => (a.key === b.key ? a.uploadId.localeCompare(b.uploadId) : a.key < b.key ? -1 : 1));
}

/** Wraps s3rver's request listener with ListMultipartUploads and AbortMultipartUpload. */
export function withMultipartAdmin(root: string, next: http.RequestListener): http.RequestListener {
  return (req, res) => {
    const url = new URL(req.url ?? '/', 'http://s3rver');
    const [bucket = '', ...rest] = url.pathname.split('/').filter(Boolean);
    const isList = req.method === 'GET' && rest.length === 0 && url.searchParams.has('uploads');
    const isAbort = req.method === 'DELETE' && rest.length > 0 && url.searchParams.has('uploadId');
    if ((!isList && !isAbort) || !BUCKET.test(bucket)) {
      next(req, res);
      return;
    }
    req.resume();
    void (async () => {
      try {
        await fs.stat(path.join(root, bucket));
      } catch {
        error(res, 404, 'NoSuchBucket', 'The specified bucket does not exist');
        return;
      }
      if (isList) {
        const prefix = url.searchParams.get('prefix') ?? '';
        const uploads = await listUploads(root, bucket, prefix);
        const body = uploads.map((u) => `<Upload><Key>${xml(u.key)}</Key><UploadId>${u.uploadId}</UploadId>`
          + `<Initiated>${u.initiated.toISOString()}</Initiated><StorageClass>STANDARD</StorageClass></Upload>`).join('');
        send(res, 200, '<?xml version="1.0" encoding="UTF-8"?>\n'
          + '<ListMultipartUploadsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
          + `<Bucket>${xml(bucket)}</Bucket><KeyMarker></KeyMarker><UploadIdMarker></UploadIdMarker>`
          + `<Prefix>${xml(prefix)}</Prefix><MaxUploads>1000</MaxUploads><IsTruncated>false</IsTruncated>${body}`
          + '</ListMultipartUploadsResult>');
        return;
      }
      const uploadId = url.searchParams.get('uploadId') ?? '';
      const key = rest.map(decodeURIComponent).join('/');
      const dir = path.join(root, bucket, '._S3rver_uploads', uploadId);
      const stored = UPLOAD_ID.test(uploadId) ? await fs.readFile(path.join(dir, 'key'), 'utf8').catch(() => undefined) : undefined;
      if (stored !== key) {
        error(res, 404, 'NoSuchUpload', 'The specified multipart upload does not exist');
        return;
      }
      await fs.rm(dir, { recursive: true, force: true });
      send(res, 204);
    })().catch((err: unknown) => error(res, 500, 'InternalError', (err as Error).message));
  };
}
