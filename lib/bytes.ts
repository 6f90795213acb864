/** The octets the codecs and parsers look for, by their ASCII names. */
export const TAB = 0x09;
export const LF = 0x0a;
export const CR = 0x0d;
export const SP = 0x20;
export const DOT = 0x2e;
export const COLON = 0x3a;
export const EQUALS = 0x3d;
export const UNDERSCORE = 0x5f;
export const DEL = 0x7f;
