import type { WriteRequest } from '@aws-sdk/client-dynamodb';
import { batchWriteItems } from '../aws/dynamodb-batch.ts';
import { startLocalStack } from '../local-stack/stack.ts';
import { freePortConfig, tempDir } from '../local-stack/scratch.ts';
import { localStackProps } from '../workflow/local-stack-props.ts';
const dir = tempDir('tmp-ddb-');
const config = freePortConfig(dir.path);
const stack = await startLocalStack(localStackProps(config));
const n = 50000;
const requests: WriteRequest[] = Array.from({ length: n }, (_, i) => ({
  PutRequest: {
    Item: {
      [config.groupAttribute]: { S: `g${i % 16}` },
      [config.idAttribute]: { S: `s${i}` },
      [config.contentAttribute]: { S: `some sentence about a thing and another ${i}` },
    },
  },
}));
const t0 = performance.now();
await batchWriteItems(stack.clients.dynamodb, config.tableName, requests);
console.log('items/s', n / ((performance.now() - t0) / 1000));
await stack.close();
dir.remove();
