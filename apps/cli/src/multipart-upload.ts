import { randomBytes } from 'node:crypto';
import { createReadStream, statSync } from 'node:fs';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { basename } from 'node:path';
import { pipeline } from 'node:stream/promises';

/**
 * POSTs one file as multipart/form-data (text fields first, then the file in a "file" part), read from disk
 * with backpressure so memory stays flat whatever the file size.
 *
 * Why not fetch + fs.openAsBlob + FormData: on Node 20's undici, fetch holds the whole request body in memory
 * while it sends it (a 512 MiB upload peaked at ~590 MiB RSS with a Blob, FormData, a web stream or an async
 * generator alike; nodejs/undici#4058). node:http piping a file stream into the socket stays at ~80 MiB.
 */
export async function postMultipartFile(url: URL, headers: Record<string, string>, filePath: string, fields: Record<string, string>): Promise<{ status: number; text: string }> {
  const boundary = `----npo-cli-${randomBytes(12).toString('hex')}`;
  const escape = (s: string) => s.replace(/["\r\n\\]/g, (c) => encodeURIComponent(c));
  let head = '';
  for (const [name, value] of Object.entries(fields)) {
    head += `--${boundary}\r\ncontent-disposition: form-data; name="${escape(name)}"\r\n\r\n${value}\r\n`;
  }
  head += `--${boundary}\r\ncontent-disposition: form-data; name="file"; filename="${escape(basename(filePath))}"\r\ncontent-type: application/octet-stream\r\n\r\n`;
  const tail = `\r\n--${boundary}--\r\n`;
  const size = statSync(filePath).size;
  const length = Buffer.byteLength(head) + size + Buffer.byteLength(tail);

  const request = (url.protocol === 'https:' ? httpsRequest : httpRequest)(url, {
    method: 'POST',
    headers: { ...headers, 'content-type': `multipart/form-data; boundary=${boundary}`, 'content-length': String(length), accept: 'application/json' },
  });
  const file = createReadStream(filePath);
  let answered: IncomingMessage | undefined;
  const responded = new Promise<IncomingMessage>((resolve, reject) => {
    request.once('response', (res) => {
      answered = res;
      // an answer before the body is all sent is a refusal (413, 415, 401): stop reading the file
      if ((res.statusCode ?? 0) >= 400) file.destroy();
      resolve(res);
    });
    request.once('error', reject);
  });
  responded.catch(() => {}); // awaited below; a send failure is reported from the catch
  try {
    request.write(head);
    await pipeline(file, request, { end: false }); // the socket's backpressure paces the disk reads
    request.end(tail);
  } catch (err) {
    if (!answered) await Promise.race([responded, new Promise((r) => setTimeout(r, 500))]).catch(() => {});
    if (!answered) throw err;
  }
  const res = await responded;
  let text = '';
  res.setEncoding('utf8');
  for await (const chunk of res) text += chunk;
  return { status: res.statusCode ?? 0, text };
}
