/**
 * The error classes of metatask. Every error the library throws is a
 * MetataskError with a stable string `code`, so callers can branch on `err.code` without
 * parsing messages.
 */

export class MetataskError extends Error {
  readonly code: string;
  constructor(message: string, code = 'ERR_METATASK', options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** Wrong dimensions: ragged rows, mismatched lengths, tasks of different widths. */
export class ShapeError extends MetataskError {
  constructor(message: string) {
    super(message, 'ERR_SHAPE');
  }
}

/** Bad values: NaN or Infinity, an empty task, a bad label, an unknown task name. */
export class ValueError extends MetataskError {
  constructor(message: string) {
    super(message, 'ERR_VALUE');
  }
}

/** Bad configuration: unknown option, wrong option type, out-of-range hyperparameter. */
export class ConfigError extends MetataskError {
  constructor(message: string) {
    super(message, 'ERR_CONFIG');
  }
}

/** A method that needs a fitted model was called before fit(). */
export class NotFittedError extends MetataskError {
  constructor(model: string, method: string) {
    super(`${model} is not fitted yet: call fit() before ${method}()`, 'ERR_NOT_FITTED');
  }
}

/** A model file or JSON object that is corrupted, foreign or of an unsupported version. */
export class FormatError extends MetataskError {
  constructor(message: string) {
    super(message, 'ERR_FORMAT');
  }
}

/** The native backend was demanded but cannot be loaded. */
export class BackendError extends MetataskError {
  constructor(message: string, code = 'ERR_NATIVE_UNAVAILABLE') {
    super(message, code);
  }
}

/** A long-running call was cancelled through its AbortSignal; `cause` is the signal's reason. */
export class AbortError extends MetataskError {
  constructor(message = 'The operation was aborted', options?: { cause?: unknown }) {
    super(message, 'ABORT_ERR', options);
  }
}

/** A method was called on an object whose native memory was released with dispose(). */
export class DisposedError extends MetataskError {
  constructor(message: string) {
    super(message, 'ERR_DISPOSED');
  }
}

/** A native kernel could not allocate the memory it needs. */
export class OutOfMemoryError extends MetataskError {
  constructor(message: string) {
    super(message, 'ERR_OUT_OF_MEMORY');
  }
}
