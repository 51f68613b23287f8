"""Scale-out harness: real API and worker processes, a NATS cluster, PostgreSQL."""
