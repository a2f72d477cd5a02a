"""The bus ledger: RabbitMQ's firehose tracer turned into one record per publish and per
delivery, keyed by oslo.messaging's message ids (see ../shared/RPC-LEDGER.md)."""
