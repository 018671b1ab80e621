declare module 's3rver' {
  import type { IncomingMessage, ServerResponse } from 'node:http';
  interface S3rverOptions { directory: string; silent?: boolean; allowMismatchedSignatures?: boolean; configureBuckets?: { name: string }[] }
  export default class S3rver {
    constructor(options: S3rverOptions);
    callback(): (req: IncomingMessage, res: ServerResponse) => void;
    configureBuckets(): Promise<void>;
  }
}
