/** RFC 5322 address parsing (placeholder signature; filled in by the address work). */
export interface AddressInfo {
  address: string;
  comment: string;
  domain: string;
  error: string;
  friendly: string;
  group: string;
  local: string;
  memberP: number | '';
  phrase: string;
  proper: string;
  route: string;
}

export function parseaddress(text: string): AddressInfo[] {
  throw new Error(`parseaddress is being written (${text.length})`);
}
