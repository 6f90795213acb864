/** Message-ID and Content-ID values (placeholder signature). */
export function uniqueID(): string {
  throw new Error('uniqueID is being written');
}
