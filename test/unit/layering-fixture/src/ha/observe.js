// shell-uses-ports: the shell talks to PostgreSQL without its port.
import { PostgresInstance } from '../postgres/instance.js';
export const direct = PostgresInstance;
