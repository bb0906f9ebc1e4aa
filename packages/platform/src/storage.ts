import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, readdir, stat } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Readable } from 'node:stream';
import {
  S3Client, HeadBucketCommand, CreateBucketCommand, GetObjectCommand, HeadObjectCommand, DeleteObjectsCommand,
  ListObjectsV2Command, PutObjectCommand,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { ImportTooLargeError, ObjectChangedError } from '@npo/contracts';
import type { Config } from './config.ts';

export interface StoredObject { key: string; size: number; etag: string }

// One S3 bucket holds everything (datasets/, models/, prepared/, jobs/ — see the README's design notes). Path-style
// addressing and checksums only when required: with the SDK defaults a streamed PutObject reaches s3rver/MinIO with
// its aws-chunked framing and is stored corrupted.
export class Storage {
  readonly client: S3Client;
  readonly bucket: string;

  constructor(s3: Config['s3']) {
    this.bucket = s3.bucket;
    this.client = new S3Client({
      endpoint: s3.endpoint,
      region: s3.region,
      forcePathStyle: true,
      credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      maxAttempts: 5, // transient S3 errors retry with the SDK's exponential backoff
    });
  }

  async ensureBucket(): Promise<void> {
    try {
      await this.client.send(new HeadBucketCommand({ Bucket: this.bucket }));
    } catch {
      try {
        await this.client.send(new CreateBucketCommand({ Bucket: this.bucket }));
      } catch (err) {
        const name = (err as { name?: string }).name;
        if (name !== 'BucketAlreadyOwnedByYou' && name !== 'BucketAlreadyExists') throw err;
      }
    }
  }

  /**
   * Reachability and credentials, in time independent of the bucket's size: a HEAD of a key that never exists (a 404
   * is an answer; a wrong key or bucket throws). HEAD of the bucket lists it on s3rver, seconds for a busy bucket.
   */
  async ping(): Promise<void> {
    await this.head('.readiness-probe');
  }

  /** Streams a body of unknown length with a multipart upload; memory stays at a few parts. */
  async uploadStream(key: string, body: Readable, contentType = 'application/octet-stream', metadata?: Record<string, string>): Promise<void> {
    const upload = new Upload({
      client: this.client,
      params: { Bucket: this.bucket, Key: key, Body: body, ContentType: contentType, ...(metadata ? { Metadata: metadata } : {}) },
      partSize: 8 * 1024 * 1024,
      queueSize: 2,
    });
    await upload.done();
  }

  async putBuffer(key: string, body: Buffer | string, contentType = 'application/octet-stream'): Promise<void> {
    await this.client.send(new PutObjectCommand({ Bucket: this.bucket, Key: key, Body: body, ContentType: contentType }));
  }

  /** `metadata` becomes the object's user metadata (x-amz-meta-*; lower-case keys), returned by `head`. */
  async uploadFile(key: string, file: string, metadata?: Record<string, string>): Promise<void> {
    await this.uploadStream(key, createReadStream(file), 'application/octet-stream', metadata);
  }

  /** Uploads every file below `dir` under `prefix/`, returning the relative paths. */
  async uploadDir(prefix: string, dir: string): Promise<string[]> {
    const files = await listFiles(dir);
    for (const f of files) await this.uploadFile(`${prefix}/${f}`, join(dir, f));
    return files;
  }

  async getStream(key: string): Promise<{ body: Readable; size?: number; contentType?: string }> {
    const out = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
    return { body: out.Body as Readable, size: out.ContentLength, contentType: out.ContentType };
  }

  async getBuffer(key: string): Promise<Buffer> {
    const { body } = await this.getStream(key);
    const chunks: Buffer[] = [];
    for await (const c of body) chunks.push(c as Buffer);
    return Buffer.concat(chunks);
  }

  async downloadFile(key: string, file: string): Promise<void> {
    await mkdir(dirname(file), { recursive: true });
    const { body } = await this.getStream(key);
    await pipeline(body, createWriteStream(file));
  }

  /**
   * The objects under `prefix/` with their sizes and ETags, refused (ImportTooLargeError) as soon as the listing passes
   * `limits`: a prefix with millions of objects costs one page past the limit, not a full listing.
   */
  async listObjects(prefix: string, limits: { maxFiles: number; maxFileBytes: number; maxTotalBytes: number }): Promise<StoredObject[]> {
    const base = prefix.endsWith('/') ? prefix : `${prefix}/`;
    const objects: StoredObject[] = [];
    let total = 0;
    let token: string | undefined;
    do {
      const out = await this.client.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: base, ContinuationToken: token }));
      for (const o of out.Contents ?? []) {
        if (!o.Key) continue;
        const size = o.Size ?? 0;
        total += size;
        if (objects.length >= limits.maxFiles) throw new ImportTooLargeError(`${base} holds more than ${limits.maxFiles} files; a model folder has a few weight files and configs`, { max_files: limits.maxFiles });
        if (size > limits.maxFileBytes) throw new ImportTooLargeError(`${o.Key} is ${size} bytes, over the ${limits.maxFileBytes} allowed for one file`, { key: o.Key, max_file_bytes: limits.maxFileBytes });
        if (total > limits.maxTotalBytes) throw new ImportTooLargeError(`${base} holds more than ${limits.maxTotalBytes} bytes`, { max_total_bytes: limits.maxTotalBytes });
        objects.push({ key: o.Key, size, etag: o.ETag ?? '' });
      }
      token = out.IsTruncated ? out.NextContinuationToken : undefined;
    } while (token);
    return objects;
  }

  /** Downloads a listed object, refusing (ObjectChangedError) bytes whose ETag is no longer the one listed. */
  async downloadListed(obj: StoredObject, file: string): Promise<void> {
    await mkdir(dirname(file), { recursive: true });
    const out = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: obj.key }));
    if (obj.etag && out.ETag && out.ETag !== obj.etag) {
      (out.Body as Readable).destroy();
      throw new ObjectChangedError(obj.key);
    }
    await pipeline(out.Body as Readable, createWriteStream(file));
  }

  /** Downloads every object under `prefix/` into `dir`, keeping relative paths. */
  async downloadPrefix(prefix: string, dir: string): Promise<string[]> {
    const keys = await this.list(prefix);
    const base = prefix.endsWith('/') ? prefix : `${prefix}/`;
    const rels: string[] = [];
    for (const key of keys) {
      const rel = key.slice(base.length);
      if (!rel || rel.includes('..')) continue;
      await this.downloadFile(key, join(dir, rel));
      rels.push(rel);
    }
    return rels;
  }

  async head(key: string): Promise<{ size: number; metadata: Record<string, string> } | null> {
    try {
      const out = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key }));
      return { size: out.ContentLength ?? 0, metadata: out.Metadata ?? {} };
    } catch (err) {
      const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
      if (e.name === 'NotFound' || e.$metadata?.httpStatusCode === 404) return null;
      throw err;
    }
  }

  async list(prefix: string): Promise<string[]> {
    const base = prefix.endsWith('/') ? prefix : `${prefix}/`;
    const keys: string[] = [];
    let token: string | undefined;
    do {
      const out = await this.client.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: base, ContinuationToken: token }));
      for (const o of out.Contents ?? []) if (o.Key) keys.push(o.Key);
      token = out.IsTruncated ? out.NextContinuationToken : undefined;
    } while (token);
    return keys;
  }

  async deletePrefix(prefix: string): Promise<void> {
    const keys = await this.list(prefix);
    for (let i = 0; i < keys.length; i += 1000) {
      await this.client.send(new DeleteObjectsCommand({
        Bucket: this.bucket,
        Delete: { Objects: keys.slice(i, i + 1000).map((Key) => ({ Key })) },
      }));
    }
  }

  async presignGet(key: string, expiresInSeconds = 300, filename?: string): Promise<string> {
    const cmd = new GetObjectCommand({
      Bucket: this.bucket,
      Key: key,
      ResponseContentDisposition: filename ? `attachment; filename="${filename}"` : undefined,
    });
    return getSignedUrl(this.client, cmd, { expiresIn: expiresInSeconds });
  }

  destroy(): void {
    this.client.destroy();
  }
}

export async function listFiles(dir: string, base = dir): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await listFiles(p, base)));
    else if (entry.isFile() || (await stat(p)).isFile()) out.push(relative(base, p));
  }
  return out.sort();
}
