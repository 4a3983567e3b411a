"""Every beat schedule, in one import-light list beside the queue table (no Django, no Celery).

`manage.py setup_schedules` creates the rows that are missing in django-celery-beat's tables
and never overwrites what staff edited in admin; tests/apps/ops/test_schedules.py proves every
task named here is registered.
"""

# Every beat schedule: name -> (task, when[, kwargs]). "when" is every N seconds, or a crontab
# "minute hour day-of-month month day-of-week" in the project's time zone. The expiry is
# near the interval, so a backlog does not run one job many times (expire_seconds).
SCHEDULES = {
    "payments: reconcile": ("tasks.payments.reconcile_payments", 60),
    "provisioning: reconcile": ("tasks.provisioning.reconcile_subscriptions", 60),
    "provisioning: expire subscriptions": ("tasks.provisioning.expire_subscriptions", 300),
    "provisioning: check routers": ("tasks.provisioning.check_routers", 60),
    "commissions: disburse": ("tasks.commissions.disburse_commissions", "0 * * * *"),
    "maturation: mature balances": ("tasks.maturation.mature_balances", "30 * * * *"),
    "engagement: assign daily tasks": ("tasks.default.assign_daily_activities", "5 0 * * *"),
    "notifications: reconcile": ("tasks.notifications.reconcile_notifications", 60),
    "ops: monitor queues": ("tasks.default.monitor_queues", 60),
    "ops: prune history": ("tasks.default.prune_history", "15 3 * * *"),
    "ops: prune run log": ("tasks.default.prune_runs", "45 * * * *"),
    "ops: drain failed-task spool": ("tasks.default.drain_failed_task_spool", 60),
    "ops: reconcile batches": ("tasks.default.reconcile_batches", 60),
    "ops: reconcile events": ("tasks.default.reconcile_events", 60),
    "ops: publish delayed jobs": ("tasks.default.publish_delayed_jobs", 60),
    "documents: reconcile": ("tasks.default.reconcile_documents", 300),
    "documents: prune": ("tasks.default.prune_documents", "30 3 * * *"),
    "documents: missing receipts": ("tasks.default.make_missing_receipts", "20 * * * *"),
    "imports: reconcile": ("tasks.default.reconcile_imports", 300),
    "imports: prune": ("tasks.default.prune_imports", "40 3 * * *"),
    "reports: daily": ("tasks.default.send_report", "0 2 * * *", {"period": "day"}),
    "reports: weekly": ("tasks.default.send_report", "0 6 * * 0", {"period": "week"}),
    "reports: monthly": ("tasks.default.send_report", "0 7 1 * *", {"period": "month"}),
}
CRONTAB_EXPIRY = {"hour": 3000, "day": 6 * 3600}  # s: an hourly job, a daily one
