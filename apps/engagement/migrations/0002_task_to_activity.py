"""Task (the engagement model, not a Celery task) becomes Activity: the table and the
assignments' column are renamed in place (data and indexes kept), and so are its
permissions, so staff keep theirs."""

from django.db import migrations, models

ACTIONS = ("add", "change", "delete", "view")


class OnSQLite:
    """Its database side runs on SQLite only, where renaming a foreign key remakes the table
    from the state (so the unique constraint must leave the state first and come back after);
    PostgreSQL renames the column inside the unique index, which is kept, not rebuilt."""

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "sqlite":
            super().database_forwards(app_label, schema_editor, from_state, to_state)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "sqlite":
            super().database_backwards(app_label, schema_editor, from_state, to_state)


class RemoveConstraintOnSQLite(OnSQLite, migrations.RemoveConstraint):
    pass


class AddConstraintOnSQLite(OnSQLite, migrations.AddConstraint):
    pass


def permissions_rename(apps, old: str, new: str) -> None:
    Permission = apps.get_model("auth", "Permission")
    for action in ACTIONS:
        Permission.objects.filter(
            content_type__app_label="engagement", codename=f"{action}_{old}"
        ).update(codename=f"{action}_{new}", name=f"Can {action} {new}")


def forwards(apps, schema_editor):
    permissions_rename(apps, "task", "activity")


def backwards(apps, schema_editor):
    permissions_rename(apps, "activity", "task")


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("engagement", "0001_initial"),
    ]

    operations = [
        migrations.RenameModel(old_name="Task", new_name="Activity"),
        migrations.AlterModelOptions(
            name="activity",
            options={"ordering": ["kind", "title"], "verbose_name_plural": "activities"},
        ),
        RemoveConstraintOnSQLite(model_name="assignment", name="assignment_once"),
        migrations.RenameField(model_name="assignment", old_name="task", new_name="activity"),
        AddConstraintOnSQLite(
            model_name="assignment",
            constraint=models.UniqueConstraint(
                fields=("member", "activity", "day"), name="assignment_once"
            ),
        ),
        migrations.AlterModelOptions(name="assignment", options={"ordering": ["-day", "activity"]}),
        migrations.RunPython(forwards, backwards),
    ]
