/** Typed spool errors with stable codes. */
export type SpoolErrorCode = 'SPOOL_FULL' | 'SPOOL_DISK_FULL' | 'SPOOL_CLOSED' | 'SPOOL_IO' | 'SPOOL_BAD_ID' | 'SPOOL_BAD_LINK' | 'SPOOL_BAD_OPTIONS';

export class SpoolError extends Error {
  constructor(readonly code: SpoolErrorCode, message: string) {
    super(message);
    this.name = 'SpoolError';
  }
}

/** Accepting the stanza would exceed maxStanzas or maxBytes; nothing was stored. */
export class SpoolFullError extends SpoolError {
  constructor(readonly count: number, readonly bytes: number, readonly wanted: number) {
    super('SPOOL_FULL', `spool full (${count} stanzas, ${bytes} bytes; +${wanted} bytes refused)`);
    this.name = 'SpoolFullError';
  }
}

/** The disk under the spool is full (ENOSPC/EDQUOT): nothing was stored; retry once space is freed. */
export class SpoolDiskFullError extends SpoolError {
  constructor(op: string) {
    super('SPOOL_DISK_FULL', `no space left on the spool's disk (${op}); nothing stored`);
    this.name = 'SpoolDiskFullError';
  }
}

export class SpoolClosedError extends SpoolError {
  constructor() {
    super('SPOOL_CLOSED', 'spool is closed');
    this.name = 'SpoolClosedError';
  }
}
