import json

from django.core.management.base import BaseCommand, CommandError

from apps.commissions.audit import ledger_audit
from apps.ops.management.output import render_table


class Command(BaseCommand):
    help = (
        "Check that every wallet equals the sums of its ledger rows, that no cause is paid "
        "twice, and that the totals agree. Exit status 1 on any mismatch."
    )

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true", help="Print JSON instead of a table.")

    def handle(self, *args, **options):
        report = ledger_audit()
        if options["json"]:
            data = {
                "ok": report.ok,
                "totals": {k: str(v) for k, v in report.totals.items()},
                "checks": [
                    {"check": f.check, "problems": f.count, "sample": f.sample}
                    for f in report.findings
                ],
            }
            self.stdout.write(json.dumps(data, indent=2, default=str))
        else:
            self._print(report)
        if not report.ok:
            raise CommandError("The ledger does not add up (see above).", returncode=1)

    def _print(self, report) -> None:
        rows = [
            {"check": f.check, "result": "ok" if not f.count else f"{f.count} found"}
            for f in report.findings
        ]
        rows.append(
            {
                "check": "totals: wallets equal the ledgers",
                "result": "ok" if report.totals_agree else "MISMATCH",
            }
        )
        self.stdout.write(render_table(rows, [("check", "CHECK"), ("result", "RESULT")]))
        self.stdout.write("")
        totals = [{"total": k, "kes": str(v)} for k, v in report.totals.items()]
        self.stdout.write(render_table(totals, [("total", "TOTAL"), ("kes", "KES")]))
        for finding in report.findings:
            for row in finding.sample:
                self.stdout.write(f"{finding.check}: {', '.join(map(str, row))}")
