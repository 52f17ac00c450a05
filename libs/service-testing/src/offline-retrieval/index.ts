export * from './dataset';
export * from './engines';
export * from './harness';
export * from './oracle';
