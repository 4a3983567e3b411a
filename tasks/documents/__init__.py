"""The documents queue: receipts, reports on demand, imports and exports. Pool and policy:
config/queues.py (pool 1, limits 540/600 s, 2 attempts); long work continues in chunks
(Task.continue_with).

One module per domain whose work runs here (builds: reports and exports; receipts; imports),
so that sending a task ties a domain to its own module only: the layers contract sees imports
module by module. Celery loads the queue's package (CELERY_IMPORTS), which loads them all.
"""

from tasks.documents import builds, imports, receipts

__all__ = ["builds", "imports", "receipts"]
