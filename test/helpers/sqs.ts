/**
 * An SQS queue for tests of a deployed stack's failure queue: sqslite (an SQS implementation in
 * Node) on a free port, reached through the real `@aws-sdk/client-sqs`. sqslite speaks SQS's
 * query protocol only, where AWS now answers the JSON protocol the SDK sends by default, so the
 * client selects the query protocol (the SDK's `protocol` setting); the requests and answers are
 * SQS's own either way. Known gaps of sqslite, which the tests stay clear of: the messages of one
 * receive share a receipt handle, and a received message never becomes visible again.
 */
import type { AddressInfo } from 'node:net';
import { CreateQueueCommand, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { AwsQueryProtocol } from '@aws-sdk/core/protocols';
import sqslite from 'sqslite';

export interface TestQueue {
  readonly sqs: SQSClient;
  readonly queueUrl: string;
  /** Sends each body as a message, as Lambda's on-failure destination does. */
  send(...bodies: readonly string[]): Promise<void>;
  close(): Promise<void>;
}

/** A fresh queue on a fresh sqslite server (it serves `localhost` URLs only). */
export async function startTestQueue(name = 'capture-failures'): Promise<TestQueue> {
  const server = sqslite({ logger: false });
  await server.listen(0, 'localhost');
  const { port } = server.server.address() as AddressInfo;
  const sqs = new SQSClient({
    endpoint: `http://localhost:${port}`,
    region: 'us-east-1',
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    protocol: AwsQueryProtocol,
    protocolSettings: {
      defaultNamespace: 'com.amazonaws.sqs',
      xmlNamespace: 'http://queue.amazonaws.com/doc/2012-11-05/',
      version: '2012-11-05',
    },
  });
  const { QueueUrl: queueUrl = '' } = await sqs.send(new CreateQueueCommand({ QueueName: name }));
  return {
    sqs,
    queueUrl,
    async send(...bodies) {
      for (const body of bodies) await sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: body }));
    },
    async close() {
      sqs.destroy();
      await server.close();
    },
  };
}
