"""Engine servers the tests start on 127.0.0.1: Debian's PostgreSQL and a standalone Spark cluster."""
