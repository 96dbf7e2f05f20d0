#!/usr/bin/env python3
"""Benchmark writer: inserts sequential ids through a libpq multi-host connection string with
target_session_attrs=read-write and prints one line per acknowledged commit:
    ack <id> <port> <CLOCK_MONOTONIC ns>
libpq (through psycopg2) picks whichever host is the read-write primary, exactly as an
application would. Stops on SIGTERM after printing 'done'."""
import signal
import sys
import time

import psycopg2

dsn, table = sys.argv[1], sys.argv[2]
running = True


def stop(*_):
    global running
    running = False


signal.signal(signal.SIGTERM, stop)
next_id = 1
conn = None
while running:
    try:
        if conn is None:
            conn = psycopg2.connect(dsn)
            conn.autocommit = True
            port = conn.info.port
        attempt = next_id
        next_id += 1  # every attempt gets a fresh id: an unacknowledged commit never collides
        with conn.cursor() as cur:
            cur.execute("INSERT INTO " + table + " (id) VALUES (%s)", (attempt,))
        print("ack", attempt, port, time.monotonic_ns(), flush=True)
    except Exception as error:  # connection lost, read-only, timeout: reconnect and go on
        print("err", next_id - 1, str(error).splitlines()[0] if str(error) else type(error).__name__, flush=True)
        try:
            if conn is not None:
                conn.close()
        except Exception:
            pass
        conn = None
        time.sleep(0.05)
    time.sleep(0.01)
print("done", flush=True)
