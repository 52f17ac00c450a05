import net from 'node:net';

export interface SlowClientResult {
  /** From the connection to the server closing it, ms. */
  closedAfterMs: number;
  /** Whatever the server sent before it closed (e.g. a 408 answer). */
  received: string;
}

/**
 * A slow-loris HTTP client: connects to 127.0.0.1:`port`, sends `text` (a request cut
 * short) and then nothing, and resolves when the server closes the connection. Rejects
 * if the server keeps it past `giveUpMs`.
 */
export function slowHttpClient(port: number, text: string, giveUpMs = 10_000): Promise<SlowClientResult> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    const started = performance.now();
    let received = '';
    const timer = setTimeout(() => socket.destroy(new Error(`the server kept a slow client for ${giveUpMs} ms`)), giveUpMs);
    socket.on('connect', () => socket.write(text));
    socket.on('data', (chunk) => (received += chunk.toString()));
    socket.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    socket.on('close', () => {
      clearTimeout(timer);
      resolve({ closedAfterMs: performance.now() - started, received });
    });
  });
}
