"""The floor: the least a Django + Celery application can spend on one purchase.

`make bench` sets the CPU the product spends per purchase (the whole stack, end to end)
beside the CPU this floor spends on the same purchase, so the figure reads as "what
Conveyor adds", not as an absolute that depends on the machine. The floor sends the same
messages and makes the same writes as one purchase, and nothing else:

1. ``POST /floor/purchases/`` (views.purchase): one INSERT, the push task published, 202.
2. ``push`` (queue floor-payments): the row read, Daraja's OAuth token (once per process)
   and the STK push over one kept-alive session per process, the CheckoutRequestID saved.
3. ``POST /floor/stk/<id>/`` (views.stk_callback), from the Daraja simulator: one conditional
   UPDATE PENDING -> PAID with the receipt; the fulfil task only if it moved the row.
4. ``fulfil`` (floor-payments): one conditional UPDATE PAID -> FULFILLED; provision if moved.
5. ``provision`` (floor-provisioning): the row read, one RouterOS API connection (librouteros,
   as the product opens one per task) adding the hotspot user, its password and provisioned_at
   saved in one UPDATE, the sms task published.
6. ``sms`` (floor-notifications, a pool of 2 as the product's notifications pool): the row
   read, the buyer's WiFi credentials POSTed form-encoded to Africa's Talking's
   ``/version1/messaging`` over a new connection (as the product's backend does, with
   requests.post and no session), the messageId and sms_sent_at saved in one UPDATE.
7. ``POST /floor/sms/`` (views.sms_report), from the floor's Africa's Talking simulator: the
   delivery report, one conditional UPDATE of sms_delivered_at by messageId. The product's
   simulator reports every SMS to the product's hook in the same way, so this is part of a
   purchase's work on both sides; a purchase is done when its report is in.

Why each piece is as it is:

- Same processes and flags as the product, so only the code differs: gunicorn with the web
  program's flags (gthread, 4 threads, access log to stdout) and one prefork pool per queue
  with the worker programs' flags (``-O fair``, prefetch 1, no mingle or gossip, the same
  recycling limits, INFO logs), started by run.py and not by supervisord.
- Same wire and delivery: JSON, acks_late, reject and retry on worker loss, prefetch 1,
  results ignored (no result backend), the product's Redis transport options (broker.py).
- Same database use: PostgreSQL, persistent connections (CONN_MAX_AGE 60) checked before
  reuse (CONN_HEALTH_CHECKS), in the web and in the pools. Celery's Django fixup would close
  the connection around every task; settings.py and celery.py keep it as Django keeps it
  for a request, as the product does (config/celery.py).
- Same services: the Daraja and RouterOS simulators are the product's stack's (the floor's
  STK pushes name the floor's callback URL), but the Africa's Talking simulator is the floor's
  own (run.py), because a gateway sends its delivery reports to one address.
- Bare otherwise: no middleware, no sessions or auth, no admin, one table with no index but
  its key and the message id (for the reports, as the product indexes its own), no pacing of
  the SMS (the benchmark sets the product's bucket far above the offered rate: a take per SMS
  there, none held back), tasks published right after their statement in autocommit (no
  transaction is open, so there is no commit to wait for), no task base class, no retries,
  no time limits, no events, no metrics, no audit rows, no members, subscriptions, notices or
  RADIUS rows. A rerun of a task does nothing twice (the row it reads or its conditional
  UPDATE says so), but nothing re-nudges a lost message: that is the product's work, and
  part of what it costs.

run.py's ``Floor`` is what the benchmark calls; the benchmark's process has the product's
Django settings, so it reads the floor's table with psycopg and never imports these models.
"""
