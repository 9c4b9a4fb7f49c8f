/** Exit codes of every `smartbin` command (contract.md section 1; 78 is sysexits' EX_CONFIG). */
export const EXIT = {
  OK: 0,
  FAILURE: 1,
  USAGE: 2,
  CONFIG: 78,
} as const;
