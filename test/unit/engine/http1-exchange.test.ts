/**
 * The HTTP/1.1 answer reader of the etcd client's short calls (src/engine/etcd/http1-exchange.ts):
 * Content-Length and chunked bodies split at every possible byte, the first line of a streamed
 * answer, an answer framed by the connection's end, and malformed or oversized answers.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AnswerReader, requestBytes, type Http1Answer } from '../../../src/engine/etcd/http1-exchange.js';

function feedSplit(raw: string, at: number[], firstLine = false): { reader: AnswerReader; first: Http1Answer | null; failure: unknown } {
  let first: Http1Answer | null = null;
  const reader = new AnswerReader(1024, firstLine ? (answer) => (first = answer) : null);
  const bytes = Buffer.from(raw, 'utf8');
  let from = 0;
  for (const cut of [...at, bytes.length]) {
    const failure = reader.push(bytes.subarray(from, cut));
    if (failure !== null) return { reader, first, failure };
    from = cut;
  }
  return { reader, first, failure: null };
}

const lengthAnswer = 'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 17\r\n\r\n{"header":{"a":1}}'.replace(
  '17',
  String('{"header":{"a":1}}'.length),
);
const chunkedAnswer = 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n7\r\n{"resul\r\n11;ext=1\r\nt":{"TTL":"10"}}\n\r\n0\r\n\r\n';

test('a Content-Length body and a chunked body read the same however the bytes are split', () => {
  for (const [raw, body] of [
    [lengthAnswer, '{"header":{"a":1}}'],
    [chunkedAnswer, '{"result":{"TTL":"10"}}\n'],
  ] as const) {
    for (let cut = 0; cut <= raw.length; cut++) {
      const { reader, failure } = feedSplit(raw, [cut]);
      assert.equal(failure, null, `split at ${cut}`);
      assert.ok(reader.done, `split at ${cut}: done`);
      assert.deepEqual(reader.answer(), { status: 200, body }, `split at ${cut}`);
    }
  }
});

test('a streamed answer reports its first line before the stream ends', () => {
  const head = 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n';
  const { reader, first } = feedSplit(`${head}1b\r\n{"result":{"TTL":"5"}}\n{"x"\r\n`, [head.length + 10], true);
  assert.deepEqual(first, { status: 200, body: '{"result":{"TTL":"5"}}' });
  assert.equal(reader.done, false, 'the stream is still open');
});

test('an answer with neither length nor chunks ends with the connection; the server closing is noted', () => {
  const { reader } = feedSplit('HTTP/1.0 404 Not Found\r\n\r\nnot found', []);
  assert.equal(reader.endsAtClose(), true);
  assert.equal(reader.closeAfter, true);
  assert.deepEqual(reader.answer(), { status: 404, body: 'not found' });
  const close = feedSplit('HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\n{}', []);
  assert.ok(close.reader.done);
  assert.equal(close.reader.closeAfter, true);
});

test('malformed, oversized and over-long answers are failures, never answers', () => {
  assert.deepEqual(feedSplit('SSH-2.0-OpenSSH\r\n\r\n', []).failure, { kind: 'malformed', message: 'not an HTTP/1.x answer: "SSH-2.0-OpenSSH"' });
  assert.deepEqual(feedSplit('HTTP/1.1 200 OK\r\nContent-Length: 4096\r\n\r\n', []).failure, { kind: 'too-large' });
  assert.equal((feedSplit('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n', []).failure as { kind: string }).kind, 'malformed');
  assert.equal((feedSplit(`${lengthAnswer}HTTP/1.1 200 OK`, []).failure as { kind: string }).kind, 'malformed', 'bytes after the end');
  assert.equal(
    (feedSplit('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcXY', []).failure as { kind: string }).kind,
    'malformed',
    'chunk without CRLF',
  );
});

test('a request is one buffer: method, path, Host, the given headers, JSON type and length, body', () => {
  const text = requestBytes('POST', '/v3/kv/range', { host: '::1', port: 2379 }, { authorization: 'tok' }, '{"k":"é"}').toString('utf8');
  assert.equal(
    text,
    'POST /v3/kv/range HTTP/1.1\r\nHost: [::1]:2379\r\nauthorization: tok\r\ncontent-type: application/json\r\ncontent-length: 10\r\n\r\n{"k":"é"}',
  );
  assert.equal(
    requestBytes('GET', '/version', { host: '10.0.0.1', port: 2379 }, {}, undefined).toString(),
    'GET /version HTTP/1.1\r\nHost: 10.0.0.1:2379\r\n\r\n',
  );
});
