"""Infrastructure on the controller node: MariaDB, RabbitMQ, HAProxy."""
