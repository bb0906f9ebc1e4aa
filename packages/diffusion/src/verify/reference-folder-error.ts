/** A reference folder this command cannot read: a part is recognised but a file or tensor it needs is missing or malformed. */
export class ReferenceFolderError extends Error {
  readonly code = 'unreadable_reference_folder';
  constructor(message: string) {
    super(message);
    this.name = 'ReferenceFolderError';
  }
}
