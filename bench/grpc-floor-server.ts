// The transport floor for the online benchmark: a bare grpc-js server with one unary
// method that answers an empty message, in its own process like the serving app. No
// Larder code runs here, so the gap between this and the serving app's health check is
// our adapter's cost, and the gap to GetOnlineFeatures is the feature lookup's.
import { Server, ServerCredentials } from '@grpc/grpc-js';
import type { sendUnaryData, ServerUnaryCall } from '@grpc/grpc-js';

const EMPTY = Buffer.alloc(0);
const server = new Server();
server.register(
  '/bench.Floor/Empty',
  (call: ServerUnaryCall<Buffer, Buffer>, callback: sendUnaryData<Buffer>) => callback(null, EMPTY),
  (b: Buffer) => b,
  (b: Buffer) => b,
  'unary',
);
server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (error, port) => {
  if (error) throw error;
  process.stdout.write(`${JSON.stringify({ msg: 'listening', grpcPort: port })}\n`);
});
process.on('SIGTERM', () => server.tryShutdown(() => process.exit(0)));
