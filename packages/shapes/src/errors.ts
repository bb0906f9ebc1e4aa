/**
 * The one error class of the shapes package. `code` is stable (callers and tests switch on it); the message
 * says what was wrong and what to pass instead.
 */
export type ShapesErrorCode =
  | 'INVALID_PROMPT' // unknown prompt index, colour, shape or text
  | 'INVALID_IMAGE' // a buffer of the wrong length or layout
  | 'INVALID_RNG_STATE' // a state object that is not one `Rng.getState()` produced
  | 'INVALID_ARGUMENT'; // any other bad number or array (lengths that differ, n <= 0, ...)

export class ShapesError extends Error {
  constructor(readonly code: ShapesErrorCode, message: string) {
    super(message);
    this.name = 'ShapesError';
  }
}
