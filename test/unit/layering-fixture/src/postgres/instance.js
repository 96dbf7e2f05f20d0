export class PostgresInstance {}
