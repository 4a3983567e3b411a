"""The provisioning queue: routers and RADIUS. Pool and policy: config/queues.py."""
