// Workflow history <-> the JSON that `temporal workflow show -o json` prints (proto3 JSON), for the
// replay fixtures. The SDK has the same pair (@temporalio/common/lib/proto-utils), but in this
// install it throws "type must be a Type": @temporalio/common and @temporalio/proto each get their
// own nested copy of protobufjs 8 (the root keeps 7 for @grpc/proto-loader), and protojson's
// instanceof check sees two Type classes. Here the conversion uses the copy the types were built with.
import { createRequire } from 'node:module';
import type * as Proto from '@temporalio/proto';
import type { History } from '@temporalio/common/lib/proto-utils.js';

interface ProtoJson {
  fromJson(type: unknown, json: unknown, options?: { ignoreUnknownFields?: boolean }): unknown;
  toJson(type: unknown, message: unknown): unknown;
}

const require = createRequire(import.meta.url);
const proto = require('@temporalio/proto') as typeof Proto;
const { patchProtobufRoot } = require('@temporalio/proto/lib/patch-protobuf-root') as { patchProtobufRoot(root: unknown): { lookupType(name: string): unknown } };
const protojson = createRequire(require.resolve('@temporalio/proto'))('protobufjs/ext/protojson') as ProtoJson;
const historyType = patchProtobufRoot(proto).lookupType('temporal.api.history.v1.History');

export function historyToJSON(history: History): string {
  const message = proto.temporal.api.history.v1.History.fromObject(history);
  return JSON.stringify(protojson.toJson(historyType, message), null, 1);
}

/** Unknown fields (a newer server's) are ignored, as the SDK's own reader does. */
export function historyFromJSON(json: unknown): History {
  if (typeof json !== 'object' || json === null || !Array.isArray((json as { events?: unknown }).events)) {
    throw new TypeError('not a workflow history: expected an object with an array of events');
  }
  return protojson.fromJson(historyType, json, { ignoreUnknownFields: true }) as History;
}
