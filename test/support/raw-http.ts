import { request } from 'node:http';

export interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/**
 * A request with headers exactly as given, through node:http rather than fetch: repeated
 * header lines (`[name, value]` pairs with the same name) and arbitrary bytes (see {@link rawBytes}).
 */
export function rawRequest(
  baseUrl: string,
  options: { method?: string; path: string; headers?: Array<[string, string]>; body?: string | Buffer },
): Promise<RawResponse> {
  const url = new URL(options.path, baseUrl);
  // An array value goes out as one header line per element.
  const headers: Record<string, string | string[]> = {};
  for (const [name, value] of options.headers ?? []) {
    const key = name.toLowerCase();
    const previous = headers[key];
    headers[key] = previous === undefined ? value : [...(Array.isArray(previous) ? previous : [previous]), value];
  }
  if (options.body !== undefined) headers['content-length'] = String(Buffer.byteLength(options.body));
  return new Promise((resolve, reject) => {
    const req = request(
      { host: url.hostname, port: url.port, path: url.pathname + url.search, method: options.method ?? 'GET', headers },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(options.body);
  });
}

/**
 * A header value that node:http writes as exactly these bytes (it writes header strings as
 * latin1), e.g. the UTF-8 of text fetch would refuse to send.
 */
export function rawBytes(text: string): string {
  return Buffer.from(text, 'utf8').toString('latin1');
}
