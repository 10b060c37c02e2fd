// Request bodies for cvmflow's own small HTTP servers (the trigger endpoint, the codec server): read with a byte
// limit that answers 413 early, from the declared length when there is one, and while streaming otherwise. An
// HttpProblem carries the status the server answers with and a message safe to send back.
import type { IncomingMessage } from 'node:http';

export class HttpProblem extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) {
    req.resume();
    return Promise.reject(new HttpProblem(413, `the body is ${declared} bytes; at most ${limit} are accepted`));
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      if (size > limit) return;
      size += c.length;
      // The rest is drained unread; the 413 goes out meanwhile.
      if (size > limit) reject(new HttpProblem(413, `the body is larger than ${limit} bytes`));
      else chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}
