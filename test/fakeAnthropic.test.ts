// Proves the fake Anthropic server is faithful enough to trust: the real SDK parses its replies,
// maps its errors to the SDK's error classes, and retries against it as it would against the API.
import Anthropic from '@anthropic-ai/sdk';
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import { PROPOSE_TOOL } from '../proposers/claude/prompt';
import { startFakeAnthropic, type FakeAnthropic } from './support/fakeAnthropic';

const API_KEY = 'test-key-not-real';

// The proposer's real tool, so the fake is checked against what the project actually sends.
const tools: Anthropic.Tool[] = [PROPOSE_TOOL];

const messages: Anthropic.MessageParam[] = [{ role: 'user', content: 'Lower val_bpb.' }];

function create(client: Anthropic) {
  return client.messages.create({
    model: 'claude-sonnet-5-5',
    max_tokens: 100,
    messages,
    tools,
    tool_choice: { type: 'tool', name: 'propose_edit' },
  });
}

/** Runs `promise`, which must reject, and returns what it rejected with. */
async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  assert.fail('expected the call to fail');
}

describe('fake Anthropic server', () => {
  let fake: FakeAnthropic;
  // Retries off by default so each scripted error surfaces as-is.
  let client: Anthropic;

  before(async () => {
    fake = await startFakeAnthropic();
    client = new Anthropic({ apiKey: API_KEY, baseURL: fake.url, maxRetries: 0 });
  });
  after(() => fake.close());
  beforeEach(() => {
    fake.requests.length = 0;
  });

  test('a tool reply parses into a tool_use block with usage, cache fields included', async () => {
    const input = {
      description: 'raise lr',
      hypothesis: 'faster learning',
      edits: [{ file: 'train.py', old_string: 'LR = 0.01', new_string: 'LR = 0.02' }],
    };
    fake.push({ kind: 'tool', input, usage: { cache_read_input_tokens: 800 } });

    const message = await create(client);

    assert.equal(message.type, 'message');
    assert.equal(message.role, 'assistant');
    assert.equal(message.model, 'claude-sonnet-5-5');
    assert.match(message.id, /^msg_/);
    assert.equal(message.stop_reason, 'tool_use');
    assert.equal(message.content.length, 1);
    const block = message.content[0];
    assert.ok(block?.type === 'tool_use');
    assert.match(block.id, /^toolu_/);
    assert.equal(block.name, 'propose_edit');
    assert.deepEqual(block.input, input);
    assert.equal(message.usage.input_tokens, 1000);
    assert.equal(message.usage.output_tokens, 200);
    assert.equal(message.usage.cache_creation_input_tokens, 0);
    assert.equal(message.usage.cache_read_input_tokens, 800);
    assert.match(message._request_id ?? '', /^req_/);
  });

  test('records the request the SDK sent', async () => {
    fake.push({ kind: 'tool', input: {} });
    await create(client);

    assert.equal(fake.requests.length, 1);
    const [request] = fake.requests;
    assert.equal(request?.method, 'POST');
    assert.equal(request?.path, '/v1/messages');
    // SDK 1.x sends the key as a bearer token, not in the x-api-key header of the 0.x SDKs.
    assert.equal(request?.headers['authorization'], `Bearer ${API_KEY}`);
    assert.equal(request?.headers['x-api-key'], undefined);
    assert.equal(request?.body.model, 'claude-sonnet-5-5');
    assert.deepEqual(request?.body.tools, tools);
    assert.deepEqual(request?.body.messages, messages);
  });

  test('text replies, text before a tool call, and replies computed from the request', async () => {
    fake.push(
      { kind: 'text', text: 'No edit today.' },
      { kind: 'tool', name: 'other_tool', text: 'Thinking aloud.', input: { n: 1 } },
      (request) => ({ kind: 'text', text: `you sent ${request.body.messages.length} message(s)` }),
    );

    const plain = await create(client);
    assert.equal(plain.stop_reason, 'end_turn');
    assert.deepEqual(
      plain.content.map((b) => b.type),
      ['text'],
    );

    const mixed = await create(client);
    assert.deepEqual(
      mixed.content.map((b) => b.type),
      ['text', 'tool_use'],
    );
    assert.ok(mixed.content[1]?.type === 'tool_use');
    assert.equal(mixed.content[1].name, 'other_tool');

    const computed = await create(client);
    assert.ok(computed.content[0]?.type === 'text');
    assert.equal(computed.content[0].text, 'you sent 1 message(s)');
  });

  test('a 429 surfaces as RateLimitError with retry-after readable', async () => {
    fake.push({
      kind: 'error',
      status: 429,
      type: 'rate_limit_error',
      message: 'slow down',
      headers: { 'retry-after': '1' },
    });

    const err = await rejection(create(client));

    assert.ok(err instanceof Anthropic.RateLimitError);
    assert.equal(err.status, 429);
    assert.equal(err.headers.get('retry-after'), '1');
    assert.equal(err.type, 'rate_limit_error');
    assert.equal(err.apiMessage, 'slow down');
    assert.match(err.requestID ?? '', /^req_/);
    assert.equal(fake.requests.length, 1, 'errors are recorded too');
  });

  test('401, 529 and 400 map to the SDK error classes', async () => {
    fake.push(
      { kind: 'error', status: 401, type: 'authentication_error', message: 'invalid x-api-key' },
      { kind: 'error', status: 529, type: 'overloaded_error', message: 'Overloaded' },
      { kind: 'error', status: 400, type: 'invalid_request_error', message: 'max_tokens: too large' },
    );

    const unauthorized = await rejection(create(client));
    assert.ok(unauthorized instanceof Anthropic.AuthenticationError);
    assert.equal(unauthorized.status, 401);

    const overloaded = await rejection(create(client));
    assert.ok(overloaded instanceof Anthropic.APIError);
    assert.ok(overloaded instanceof Anthropic.OverloadedError);
    assert.equal(overloaded.status, 529);
    assert.equal(overloaded.type, 'overloaded_error');

    const bad = await rejection(create(client));
    assert.ok(bad instanceof Anthropic.BadRequestError);
    assert.equal(bad.status, 400);
    assert.equal(bad.apiMessage, 'max_tokens: too large');
  });

  test('the SDK retries a 529 against the fake and then succeeds', async () => {
    const retrying = new Anthropic({ apiKey: API_KEY, baseURL: fake.url, maxRetries: 1 });
    fake.push(
      // The SDK honours retry-after-ms before retry-after; without either it backs off ~0.5 s.
      {
        kind: 'error',
        status: 529,
        type: 'overloaded_error',
        message: 'Overloaded',
        headers: { 'retry-after-ms': '10' },
      },
      { kind: 'tool', input: { ok: true } },
    );

    const message = await create(retrying);

    assert.ok(message.content[0]?.type === 'tool_use');
    assert.deepEqual(message.content[0].input, { ok: true });
    assert.deepEqual(
      fake.requests.map((r) => r.headers['x-stainless-retry-count']),
      ['0', '1'],
    );
  });

  test('an empty queue answers 500 so a missing script fails loudly', async () => {
    const err = await rejection(create(client));

    assert.ok(err instanceof Anthropic.InternalServerError);
    assert.equal(err.status, 500);
    assert.equal(err.type, 'api_error');
    assert.match(err.message, /no scripted reply left/);
  });

  test('other routes answer 404 in the error envelope', async () => {
    const response = await fetch(`${fake.url}/v1/models`);

    assert.equal(response.status, 404);
    const body = (await response.json()) as { type: string; error: { type: string } };
    assert.equal(body.type, 'error');
    assert.equal(body.error.type, 'not_found_error');
    assert.equal(fake.requests[0]?.method, 'GET');
  });
});
