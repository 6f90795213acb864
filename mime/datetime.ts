/** RFC 5322 date parsing and formatting (placeholder signature). */
export function parsedatetime(value: string, property: string): string | number {
  throw new Error(`parsedatetime is being written ${value} ${property}`);
}
/** The current time as an RFC 5322 date-time (`Tue, 29 Feb 2000 21:57:00 +0000`). */
export function formatDate(date: Date = new Date()): string {
  throw new Error(`formatDate is being written ${date}`);
}
