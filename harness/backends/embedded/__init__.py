"""The embedded backend: the cloud `harness up` makes on this machine — network namespaces
on a bridge, MariaDB, RabbitMQ and HAProxy from Debian, each service from its release venv
— and what carries a plan's steps out on it."""
