"""Imports of members (apps.imports), a chunk at a time."""

from config.celery import app


def _import_failed(task, exc, args, kwargs) -> None:
    from apps.imports.services import import_fail

    import_fail(import_id=kwargs["import_id"], error=f"{type(exc).__name__}: {exc}")


# One import at a time ("imports"): every run of an import owns the lock with its token.
@app.task(bind=True, without_overlapping="imports", final_failure=_import_failed)
def import_members(self, import_id: int) -> None:
    """After a members file is uploaded, resumed, or found idle by the reconciler: stage,
    validate, apply and report it, a chunk at a time. Safe to rerun: each chunk is one
    transaction with the cursor it moves, so a rerun goes on from the last one."""
    from apps.imports.services import import_run

    self.continue_with(import_run(import_id=import_id, budget_seconds=self.budget()))
