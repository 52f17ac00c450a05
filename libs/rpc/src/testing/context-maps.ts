// Run by call-context.spec.ts in a node with --allow-natives-syntax: makes per-call
// contexts the way the server adapter does, for calls that differ in every way a call
// can (deadline or none, headers, cancelled or not, headers and logger read or not), and
// prints whether V8 gave them all one hidden class (see CallContext for why that matters).
import { EventEmitter } from 'node:events';
import { Metadata } from '@grpc/grpc-js';
import { CallContext } from '../adapter/call-context';
import { silentLogger } from '../logger';

const haveSameMap = new Function('a', 'b', 'return %HaveSameMap(a, b)') as (a: object, b: object) => boolean;

function grpcCall(deadline: number, headers: Record<string, string>) {
  const metadata = new Metadata();
  for (const [key, value] of Object.entries(headers)) metadata.set(key, value);
  return Object.assign(new EventEmitter(), { metadata, getDeadline: () => deadline, getPeer: () => 'ipv4:127.0.0.1:1', getAuthContext: () => ({}) });
}

const call = { service: 'test.v1.Test', method: 'Get', path: '/test.v1.Test/Get', kind: 'unary' } as const;
const contexts: CallContext[] = [];
for (let i = 0; i < 8; i++) {
  const raw = grpcCall(i % 2 === 0 ? Infinity : Date.now() + 60_000, i % 3 === 0 ? { 'x-request-id': `r${i}` } : {});
  const context = new CallContext(raw, call, silentLogger());
  if (i % 2 === 1) void context.requestId;
  if (i % 4 === 1) void context.headers;
  if (i % 4 === 2) context.logs('debug');
  if (i === 5) raw.emit('cancelled');
  context.dispose();
  contexts.push(context);
}
process.stdout.write(JSON.stringify(contexts.map((c) => haveSameMap(c, contexts[0]!))));
