// A raw SSE reader for the state stream, as a client without an SDK sees it: every frame with its arrival time,
// and how the stream ended. Built on node:http (not fetch) because it is the lightest client: the capacity
// benchmark runs hundreds at once and measures arrival latency, the conformance tests observe drops with it.
import { request } from 'node:http';
import { preciseNow } from './lifecycle';

export interface SseFrame {
  event: string;
  data: unknown;
  /** Arrival time, epoch ms (same clock as the simulator's history `ts`). */
  at: number;
}

export interface SseResult {
  status: number;
  /** The JSON body of a non-200 answer (422, 429, 404…). */
  body?: unknown;
  frames: SseFrame[];
  /** `closed`: the server ended the stream; `dropped`: the connection broke mid-stream; `aborted`: the caller's signal. */
  end: 'closed' | 'dropped' | 'aborted';
}

export function readSse(
  url: string,
  opts: { apiKey: string; signal?: AbortSignal; onFrame?: (f: SseFrame) => void },
): Promise<SseResult> {
  return new Promise((resolve, reject) => {
    const frames: SseFrame[] = [];
    const headers = { 'X-API-Key': opts.apiKey, Accept: 'text/event-stream', 'Cache-Control': 'no-cache' };
    const req = request(url, { headers, signal: opts.signal }, (res) => {
      res.setEncoding('utf8');
      const status = res.statusCode ?? 0;
      let buffer = '';
      res.on('data', (chunk: string) => {
        const at = preciseNow();
        buffer += chunk;
        if (status !== 200) return;
        let sep = buffer.indexOf('\n\n');
        while (sep !== -1) {
          const block = buffer.slice(0, sep);
          buffer = buffer.slice(sep + 2);
          const event = /^event: (.*)$/m.exec(block)?.[1];
          const data = /^data: (.*)$/m.exec(block)?.[1];
          if (event && data !== undefined) {
            const frame = { event, data: JSON.parse(data) as unknown, at };
            frames.push(frame);
            opts.onFrame?.(frame);
          }
          sep = buffer.indexOf('\n\n');
        }
      });
      res.on('error', () => undefined);
      res.on('close', () => {
        if (status !== 200) resolve({ status, body: buffer ? JSON.parse(buffer) : undefined, frames, end: 'closed' });
        else if (res.complete) resolve({ status, frames, end: 'closed' });
        else resolve({ status, frames, end: opts.signal?.aborted ? 'aborted' : 'dropped' });
      });
    });
    req.on('error', (err) => {
      if (opts.signal?.aborted) resolve({ status: 0, frames, end: 'aborted' });
      else reject(err);
    });
    req.end();
  });
}
