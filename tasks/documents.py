"""The documents queue: receipts, reports on demand, imports and exports. Pool and policy:
config/queues.py (pool 1, limits 540/600 s, 2 attempts); long work continues in chunks
(Task.continue_with)."""
