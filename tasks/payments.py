"""The payments queue: callbacks and STK requests. Pool and policy: config/queues.py."""
