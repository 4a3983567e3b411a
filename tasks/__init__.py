"""Celery tasks, one module per queue: tasks/<queue>.py routes to <queue>.

Tasks are thin adapters: they take ids, import their service inside the body and
call it. The shared Task class in tasks/base.py applies the queue's policy; its workflows
(unique, without overlapping, long delays, batches) are tasks/workflow.py.
"""
