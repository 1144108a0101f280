/** Reads a Server-Sent-Events response as it arrives, so a test can wait for a frame or the end. */
export function sseReader(response: Response) {
  const stream = response.body!.getReader();
  const decoder = new TextDecoder();
  let text = '';
  let endedAt: number | null = null;
  const pump = (async () => {
    for (;;) {
      const { done, value } = await stream.read();
      if (done) break;
      text += decoder.decode(value);
    }
    endedAt = Date.now();
  })().catch(() => {
    endedAt ??= Date.now();
  });
  const waitUntil = async (ready: () => boolean, what: string, timeoutMs: number) => {
    const deadline = Date.now() + timeoutMs;
    while (!ready()) {
      if (Date.now() > deadline) throw new Error(`${what} not within ${timeoutMs} ms; stream so far:\n${text}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  return {
    text: () => text,
    ended: () => endedAt !== null,
    endedAt: () => endedAt,
    async waitFor(pattern: RegExp, timeoutMs = 5000): Promise<string> {
      await waitUntil(() => pattern.test(text), String(pattern), timeoutMs);
      return text;
    },
    /** Waits for the server to close the stream; resolves to the reason of its final `event: end`, if any. */
    async waitForEnd(timeoutMs = 5000): Promise<string | null> {
      await waitUntil(() => endedAt !== null, 'end of stream', timeoutMs);
      const match = /event: end\ndata: (.*)\n\n$/.exec(text);
      return match ? (JSON.parse(match[1]!) as { reason: string }).reason : null;
    },
    cancel: async () => {
      await stream.cancel().catch(() => undefined);
      await pump;
    },
  };
}

export type SseReader = ReturnType<typeof sseReader>;

/** Opens the live stream with the session's cookie and waits until it is connected. */
export async function openStream(baseUrl: string, cookie: string): Promise<SseReader> {
  const response = await fetch(`${baseUrl}/api/events/stream`, { headers: { cookie } });
  if (response.status !== 200) throw new Error(`stream answered ${response.status}: ${await response.text()}`);
  const reader = sseReader(response);
  await reader.waitFor(/: connected/);
  return reader;
}
