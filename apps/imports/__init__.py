"""Imports of members, uplines and opening balances (a team moving to Conveyor brings them).

`manage.py import_members FILE` or the admin's upload page: the file is checked at once (by
its content: XLSX is a zip holding a workbook, CSV must be UTF-8; the header must name phone,
name, upline_phone, pending and withdrawable, other columns are ignored with a warning), stored,
and imported on the documents queue by tasks.documents.imports.import_members: stage (each row
cleaned on its own) → validate (set-based, against the file and the members) → apply (uplines before
their referrals) → report (the refused rows, a CSV). Every chunk is one transaction with the
cursor it moves (services/running.py), so a killed worker loses only its chunk in flight.

Decisions:
- django-import-export does not fit: it reads the whole file into memory (tablib) and saves
  row by row through the ORM, in the request or one long task. 100,000 members with uplines
  in any order need a staging table, set-based SQL, chunks that survive a SIGKILL and a
  cursor to resume from, none of which it has.
- Rows are refused one by one with a reason; the good rows are imported. A fault of the file
  itself (its kind, encoding, header, size, row count) refuses it whole before anything is
  stored.
- The referral rules are the member model's: at most MAX_UPLINE_DEPTH uplines above anyone
  (a deeper row is refused, as the model treats that as a cycle), no cycles.
- An import never changes a member already here: the same upline makes the row "unchanged"
  (its opening balance is recorded if none was before), another upline refuses it, a name in
  the file is not applied. So the same file twice changes nothing, and a changed file adds
  its new rows, refuses the rows that move a member or change a recorded balance, and leaves
  rows no longer in it alone (an import never deletes: undo the import that made them).
- Opening balances are earnings of source "opening", at most one PENDING (maturing
  MATURATION_HOURS after the import, like any earning) and one MATURED per member, credited
  to the wallet in the same transaction: audit_ledger holds.
- Imports run one at a time (a lock every run of one import owns with its token).
- Undo removes the members an import created, with their opening balances and wallets, and
  takes back the openings it recorded for members already here, in one transaction; it is
  refused if any member it created has had anything else since (any row pointing at the
  member: payments, ledger rows, referrals from elsewhere, notices, a completed activity;
  the day's activities handed out to it go with it).
"""
