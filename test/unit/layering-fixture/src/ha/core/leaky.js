// core-is-pure: the pure core reads a file.
import { readFileSync } from 'node:fs';
export const leaked = readFileSync;
