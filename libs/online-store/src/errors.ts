/** Base class of the errors this lib throws on purpose. */
export class OnlineStoreError extends Error {
  override name = 'OnlineStoreError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** The backing store could not be reached or did not answer in time; retrying later may work. */
export class StoreUnavailableError extends OnlineStoreError {
  override name = 'StoreUnavailableError';
}

/** A row given to write() does not fit its view (bad timestamp, unknown feature, wrong type). */
export class InvalidRowError extends OnlineStoreError {
  override name = 'InvalidRowError';
  constructor(
    readonly view: string,
    message: string,
  ) {
    super(`view ${view}: ${message}`);
  }
}
