"""The maturation queue: maturation and heavy batches. Pool and policy: config/queues.py."""
