"""Development machinery for `make up`, the test suite and the benchmark: local processes
(a private redis-server, Celery workers, servers) waited on by polling with a deadline.
Nothing under apps/ imports it but `manage.py up`."""
