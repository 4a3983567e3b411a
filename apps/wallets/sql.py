"""Names for hand-written SQL, taken from the models, so that a renamed table or column
changes the statement with it and a removed one fails loudly instead of silently."""

from django.db import models


class SqlNames:
    """A model's table (``.table``), primary key column (``.pk``) and, as any other
    attribute, a field's column: ``SqlNames(Earning).member`` is ``"member_id"``. An unknown
    field raises FieldDoesNotExist."""

    def __init__(self, model: type[models.Model]) -> None:
        self._meta = model._meta
        self.table = model._meta.db_table
        self.pk = model._meta.pk.column

    def __getattr__(self, field: str) -> str:
        if field.startswith("_"):
            raise AttributeError(field)
        return self._meta.get_field(field).column
