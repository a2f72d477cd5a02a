"""The embedded cloud's shared infrastructure, from Debian: MariaDB, RabbitMQ, HAProxy."""
