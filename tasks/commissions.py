"""The commissions queue: disbursement. Pool and policy: config/queues.py."""
