/** Typed emulator errors; tests check `code`, never the message. */
export type EmulatorErrorCode =
  | 'EMU_BAD_PARAMS' // a BearerParams field is missing, out of range or of the wrong type
  | 'EMU_BAD_ARGS' // command line arguments cannot be used
  | 'EMU_PROFILE' // a profile file cannot be read or has no usable bearer
  | 'EMU_SOCAT' // socat is missing or did not create its pty
  | 'EMU_CLOSED'; // the emulator was used after close()

export class EmulatorError extends Error {
  constructor(readonly code: EmulatorErrorCode, message: string) {
    super(message);
    this.name = 'EmulatorError';
  }
}
