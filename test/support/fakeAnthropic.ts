// A stand-in for the Anthropic Messages API: a loopback HTTP server that answers POST /v1/messages
// with scripted replies, so tests can drive the real @anthropic-ai/sdk without reaching the network.
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface RecordedRequest {
  method: string;
  path: string;
  headers: Record<string, string | string[] | undefined>;
  /** The parsed JSON body; the raw text when it was not JSON, undefined when empty. */
  body: any; // eslint-disable-line @typescript-eslint/no-explicit-any -- tests poke at arbitrary fields
}

export interface Usage {
  input_tokens: number;
  output_tokens: number;
  cache_creation_input_tokens: number;
  cache_read_input_tokens: number;
}

export type Reply =
  | { kind: 'tool'; name?: string; input: unknown; usage?: Partial<Usage>; text?: string }
  | { kind: 'text'; text: string; usage?: Partial<Usage> }
  | { kind: 'error'; status: number; type: string; message: string; headers?: Record<string, string> }
  | ((request: RecordedRequest) => Reply);

export interface FakeAnthropic {
  /** e.g. http://127.0.0.1:PORT, to pass to the SDK as baseURL. */
  url: string;
  /** Every request received, in arrival order, including those answered with errors. */
  requests: RecordedRequest[];
  push(...replies: Reply[]): void;
  close(): Promise<void>;
}

const DEFAULT_USAGE: Usage = {
  input_tokens: 1000,
  output_tokens: 200,
  cache_creation_input_tokens: 0,
  cache_read_input_tokens: 0,
};

const randomId = (prefix: string): string => `${prefix}_${randomBytes(12).toString('hex')}`;

export async function startFakeAnthropic(replies: Reply[] = []): Promise<FakeAnthropic> {
  const queue = [...replies];
  const requests: RecordedRequest[] = [];

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      // A bug here must show up as a failed API call, not a hung test.
      if (!res.headersSent) sendError(res, 500, 'api_error', `fake Anthropic: ${String(err)}`);
      else res.destroy();
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const text = await readBody(req);
    const request: RecordedRequest = {
      method: req.method ?? '',
      path: new URL(req.url ?? '/', 'http://fake').pathname,
      headers: { ...req.headers }, // Node already lowercases header names
      body: parseJson(text),
    };
    requests.push(request);

    if (request.method !== 'POST' || request.path !== '/v1/messages') {
      sendError(
        res,
        404,
        'not_found_error',
        `fake Anthropic: no route for ${request.method} ${request.path}`,
      );
      return;
    }
    if (typeof request.body !== 'object' || request.body === null) {
      // A malformed request is the caller's bug; don't spend a scripted reply on it.
      sendError(res, 400, 'invalid_request_error', 'fake Anthropic: body is not a JSON object');
      return;
    }

    let reply = queue.shift();
    if (reply === undefined) {
      sendError(res, 500, 'api_error', 'fake Anthropic: no scripted reply left');
      return;
    }
    while (typeof reply === 'function') reply = reply(request);

    if (reply.kind === 'error') {
      sendError(res, reply.status, reply.type, reply.message, reply.headers);
      return;
    }
    const content: unknown[] = [];
    if (reply.text !== undefined) content.push({ type: 'text', text: reply.text, citations: null });
    if (reply.kind === 'tool') {
      content.push({
        type: 'tool_use',
        id: randomId('toolu'),
        name: reply.name ?? 'propose_edit',
        input: reply.input,
        caller: { type: 'direct' },
      });
    }
    sendJson(res, 200, {
      id: randomId('msg'),
      type: 'message',
      role: 'assistant',
      model: request.body.model,
      content,
      stop_reason: reply.kind === 'tool' ? 'tool_use' : 'end_turn',
      stop_sequence: null,
      // Fields the SDK's Message type declares as nullable, present as the real API sends them.
      container: null,
      stop_details: null,
      diagnostics: null,
      usage: {
        ...DEFAULT_USAGE,
        ...reply.usage,
        cache_creation: null,
        inference_geo: null,
        output_tokens_details: null,
        server_tool_use: null,
        service_tier: 'standard',
        speed: null,
      },
    });
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  // A test that forgets close() should not keep the test process alive forever.
  server.unref();
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    push: (...more) => void queue.push(...more),
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        // The SDK's fetch keeps connections alive; drop them so close() resolves promptly.
        server.closeAllConnections();
      }),
  };
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function parseJson(text: string): unknown {
  if (text === '') return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
  requestId = randomId('req'),
): void {
  res.writeHead(status, { ...headers, 'content-type': 'application/json', 'request-id': requestId });
  res.end(JSON.stringify(body));
}

function sendError(
  res: ServerResponse,
  status: number,
  type: string,
  message: string,
  headers?: Record<string, string>,
): void {
  // The real API repeats the request id inside its error envelope.
  const requestId = randomId('req');
  sendJson(
    res,
    status,
    { type: 'error', error: { type, message }, request_id: requestId },
    headers,
    requestId,
  );
}
